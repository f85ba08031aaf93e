from otter.test_files import test_case

OK_FORMAT = False

name = "ex4_2"
points = 2

@test_case(points=None, hidden=False)
def test_fast_rcnn_loss_small(fast_rcnn_loss):
    import math
    import torch
    from visioncourse.exercises import expect_close
    logits = torch.zeros(2, 2)
    deltas = torch.tensor([[9.0, 9, 9, 9, 0.5, 0, 0, 0], [5.0, 5, 5, 5, 5, 5, 5, 5]])
    labels = torch.tensor([1, 0])
    targets = torch.zeros(2, 4)
    cls, box = fast_rcnn_loss(logits, deltas, labels, targets)
    expect_close('Exercise 4.2 (fast_rcnn_loss)', torch.stack((torch.as_tensor(cls), torch.as_tensor(box))), torch.tensor([math.log(2), (0.5 - 0.5 / 9) / 2]), inputs="2 regions (one of class 1, one background), uniform scores; class 1's deltas (0.5, 0, 0, 0), targets 0", hint="only class 1's four deltas of the positive region count; smooth-L1 of 0.5 with beta 1/9 is 0.5 - 0.5/9; divide by all 2 regions")

