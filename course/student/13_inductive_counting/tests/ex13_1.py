from otter.test_files import test_case

OK_FORMAT = False

name = "ex13_1"
points = 1

@test_case(points=None, hidden=False)
def test_count_from_tokens_by_hand(count_from_tokens):
    import torch
    from visioncourse.exercises import expect_equal
    tokens = torch.tensor([[0, 0, 1, 1], [1, 0, 0, 1]])
    expect_equal('Exercise 13.1 (count_from_tokens)', count_from_tokens(tokens, end=1).tolist(), [2, 0], inputs='rows [obj obj end end] and [end obj obj end]', hint='count the tokens before the FIRST end; a row can end at step 1 (count 0)')

@test_case(points=None, hidden=False)
def test_count_from_tokens_never_ends(count_from_tokens):
    import torch
    from visioncourse.exercises import expect_equal
    tokens = torch.tensor([[0, 0, 0], [0, 1, 0]])
    expect_equal('Exercise 13.1 (count_from_tokens)', count_from_tokens(tokens, end=1).tolist(), [3, 1], inputs='a row with no end token, and [obj end obj]', hint='argmax of an all-False row is 0: a row that never ends has all its L tokens counted')

