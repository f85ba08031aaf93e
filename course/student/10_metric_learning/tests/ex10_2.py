from otter.test_files import test_case

OK_FORMAT = False

name = "ex10_2"
points = 1

@test_case(points=None, hidden=False)
def test_triplet_loss_by_hand(triplet_loss):
    import torch
    from visioncourse.exercises import expect_close
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    n = torch.tensor([[2.0, 0.0], [0.0, 1.2]])
    expect_close('Exercise 10.2 (triplet_loss)', triplet_loss(a, p, n, 0.5), 0.03, atol=1e-06, inputs='d(a,p)² = 1, 1 and d(a,n)² = 4, 1.44, margin 0.5', hint='squared distances (no square root), hinge at 0, then the mean over triplets')

@test_case(points=None, hidden=False)
def test_triplet_loss_equals_torch(triplet_loss):
    import torch
    from torch import nn
    from visioncourse.exercises import expect_close
    g = torch.Generator().manual_seed(1)
    a, p, n = torch.randn(3, 16, 8, generator=g).unbind(0)
    want = nn.TripletMarginWithDistanceLoss(distance_function=lambda x, y: (x - y).pow(2).sum(-1), margin=1.0)(a, p, n)
    expect_close('Exercise 10.2 (triplet_loss)', triplet_loss(a, p, n, 1.0), want, atol=1e-05, inputs='16 random triplets in 8-D, margin 1', hint='equals nn.TripletMarginWithDistanceLoss with a squared Euclidean distance')

