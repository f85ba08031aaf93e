from otter.test_files import test_case

OK_FORMAT = False

name = "ex10_1"
points = 1

@test_case(points=None, hidden=False)
def test_first_relevant_rank_several_relevant(first_relevant_rank):
    import torch
    from visioncourse.exercises import expect_equal
    scores = torch.tensor([[0.9, 0.1, 0.5, 0.7], [0.2, 0.8, 0.6, 0.4]])
    relevant = torch.tensor([[False, True, True, False], [True, False, False, True]])
    expect_equal('Exercise 10.1 (first_relevant_rank)', first_relevant_rank(scores, relevant), torch.tensor([2, 2]), inputs='scores [[.9, .1, .5, .7], [.2, .8, .6, .4]], relevant items 1, 2 and 0, 3', hint='count the items scoring strictly higher than the BEST relevant one')

@test_case(points=None, hidden=False)
def test_first_relevant_rank_top_and_none(first_relevant_rank):
    import torch
    from visioncourse.exercises import expect_equal
    scores = torch.tensor([[0.3, 0.2, 0.1], [0.3, 0.2, 0.1]])
    relevant = torch.tensor([[True, False, True], [False, False, False]])
    expect_equal('Exercise 10.1 (first_relevant_rank)', first_relevant_rank(scores, relevant), torch.tensor([0, 3]), inputs='a relevant item on top; a query with no relevant item', hint='ranks are 0-based; no relevant item gives N (the number of items)')

@test_case(points=None, hidden=False)
def test_median_rank_even_count(median_rank):
    import torch
    from visioncourse.exercises import expect_equal
    expect_equal('Exercise 10.1 (median_rank)', median_rank(torch.tensor([0, 3, 1, 7])), 3.0, inputs='0-based ranks [0, 3, 1, 7]', hint='mean of the two middle values for an even count (torch.median returns the lower one), floor, then + 1')

