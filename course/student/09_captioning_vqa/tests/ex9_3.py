from otter.test_files import test_case

OK_FORMAT = False

name = "ex9_3"
points = 2

@test_case(points=None, hidden=False)
def test_beam_search_width_one_is_greedy(beam_search):
    import torch
    from visioncourse import captioning
    from visioncourse.exercises import expect_equal
    table = torch.log_softmax(torch.tensor([[0.0, 2.0, 1.0, 0.5], [0.1, 0.0, 3.0, 0.0], [0.0, 2.5, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]), dim=1)
    step = lambda token, state: (table[int(token)], state)
    expect_equal('Exercise 9.3 (beam_search)', beam_search(step, None, 0, 3, 5, 1, 0.0), captioning.greedy_decode(step, None, 0, 3, 5), inputs='a 4-token model (start 0, end 3), max_len 5, beam_width 1', hint='with one beam, beam search is greedy decoding')

@test_case(points=None, hidden=False)
def test_beam_search_finds_what_greedy_misses(beam_search):
    import math
    import torch
    from visioncourse.exercises import expect_equal
    probs = torch.tensor([[0.0, 0.6, 0.4, 0.0], [0.0, 0.0, 0.35, 0.3], [0.0, 0.05, 0.05, 0.9], [0.25] * 4])
    table = torch.log(probs + 1e-12)
    step = lambda token, state: (table[int(token)], state)
    expect_equal('Exercise 9.3 (beam_search)', beam_search(step, None, 0, 3, 4, 2, 0.0), [2, 3], inputs='start 0 -> {1: 0.6, 2: 0.4}; 1 -> end 0.3; 2 -> end 0.9; width 2, alpha 0', hint=f'log P of [2, 3] is {math.log(0.36):.2f}, of [1, 3] {math.log(0.18):.2f}: keep both beams')

@test_case(points=None, hidden=False)
def test_beam_search_length_normalisation(beam_search):
    import torch
    from visioncourse.exercises import expect_equal
    probs = torch.tensor([[0.0, 0.5, 0.0, 0.5], [0.05, 0.0, 0.05, 0.9], [0.3, 0.3, 0.2, 0.2], [0.25] * 4])
    table = torch.log(probs + 1e-09)
    step = lambda token, state: (table[int(token)], state)
    for alpha, want in ((0.0, [3]), (1.0, [1, 3])):
        expect_equal('Exercise 9.3 (beam_search)', beam_search(step, None, 0, 3, 5, 3, alpha), want, inputs=f'end right away (P 0.5) or after token 1 (P 0.45), width 3, alpha {alpha}', hint='rank finished sentences by log P / len(tokens) ** alpha')

