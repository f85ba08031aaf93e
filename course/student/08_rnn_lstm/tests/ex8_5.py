from otter.test_files import test_case

OK_FORMAT = False

name = "ex8_5"
points = 1

@test_case(points=None, hidden=False)
def test_sample_greedy_and_shape(sample_with_temperature):
    import torch
    from visioncourse.exercises import expect_equal
    logits = torch.tensor([[1.0, 3.0, 0.0], [2.0, -1.0, 0.5]])
    expect_equal('Exercise 8.5 (sample_with_temperature)', sample_with_temperature(logits, 0), torch.tensor([1, 0]), inputs='logits [[1, 3, 0], [2, -1, 0.5]], temperature 0', hint='temperature 0 means the most likely index of each row; return shape (N,)')

@test_case(points=None, hidden=False)
def test_sample_uses_the_generator(sample_with_temperature):
    import torch
    from visioncourse.exercises import expect_equal
    logits = torch.randn(50, 6, generator=torch.Generator().manual_seed(0))
    first = sample_with_temperature(logits, 1.0, torch.Generator().manual_seed(7))
    again = sample_with_temperature(logits, 1.0, torch.Generator().manual_seed(7))
    expect_equal('Exercise 8.5 (sample_with_temperature)', tuple(first.shape), (50,), inputs='logits of shape (50, 6)', hint='one index per row: shape (N,), not (N, 1)')
    expect_equal('Exercise 8.5 (sample_with_temperature)', torch.equal(again, first), True, inputs='the same logits twice, each with a generator seeded 7: the same draws?', hint='pass the generator to torch.multinomial, so a seed gives the same draws')

@test_case(points=None, hidden=False)
def test_sample_follows_the_tempered_softmax(sample_with_temperature):
    import torch
    from visioncourse.exercises import expect_close
    logits = torch.tensor([[0.0, 1.0, 2.0]]).expand(20000, 3)
    draws = sample_with_temperature(logits, 2.0, torch.Generator().manual_seed(0))
    freq = torch.bincount(draws.reshape(-1), minlength=3).float() / 20000
    expect_close('Exercise 8.5 (sample_with_temperature)', freq, torch.softmax(torch.tensor([0.0, 0.5, 1.0]), 0), atol=0.015, inputs='20,000 draws from logits [0, 1, 2] at temperature 2', hint='divide the logits by the temperature before the softmax, then draw')

