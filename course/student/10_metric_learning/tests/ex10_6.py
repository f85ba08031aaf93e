from otter.test_files import test_case

OK_FORMAT = False

name = "ex10_6"
points = 1

@test_case(points=None, hidden=False)
def test_nt_xent_two_images(nt_xent):
    import math
    import torch
    from visioncourse.exercises import expect_close
    z1 = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    z2 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = 0.5
    want = -math.log(math.exp(1 / t) / (math.exp(1 / t) + 2 * math.exp(0)))
    expect_close('Exercise 10.6 (nt_xent)', nt_xent(z1, z2, t), want, atol=1e-05, inputs='2 images, views along x and y (lengths 2, 3, 1, 1), temperature 0.5', hint='normalise first; each view competes against the 2B - 1 others, never against itself')

@test_case(points=None, hidden=False)
def test_nt_xent_every_view_counts(nt_xent):
    import math
    import torch
    from visioncourse.exercises import expect_close
    e2 = math.exp(1 / 0.5)
    want = (2 * math.log((1 + 2 * e2) / e2) + math.log(3) + math.log(1 + 2 * e2)) / 4
    expect_close('Exercise 10.6 (nt_xent)', nt_xent(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]]), 0.5), want, atol=1e-05, inputs='z1 = [(1,0), (0,1)], z2 = [(1,0), (1,0)], temperature 0.5', hint='all 2B = 4 views are anchors (both directions); similarities / temperature; a view is never its own candidate')
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(2, 8, 4, generator=g).unbind(0)
    expect_close('Exercise 10.6 (nt_xent)', nt_xent(z1, z2, 0.3), nt_xent(z2, z1, 0.3), atol=1e-05, inputs='8 random pairs, views swapped', hint='average over all 2B views, both directions')

