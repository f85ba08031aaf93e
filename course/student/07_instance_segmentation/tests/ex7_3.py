from otter.test_files import test_case

OK_FORMAT = False

name = "ex7_3"
points = 2

@test_case(points=None, hidden=False)
def test_mask_loss_small(mask_loss):
    import math
    import torch
    from visioncourse.exercises import expect_close
    logits = torch.zeros(1, 3, 1, 2)
    logits[0, 2] = torch.tensor([[20.0, -20.0]])
    target = torch.tensor([[[1.0, 0.0]]])
    expect_close('Exercise 7.3 (mask_loss)', mask_loss(logits, torch.tensor([2]), target), torch.tensor(0.0), inputs='one region of class 2 whose channel 2 predicts the target exactly', hint='use channel labels[p] of region p, not channel 0', atol=1e-06)
    expect_close('Exercise 7.3 (mask_loss)', mask_loss(logits, torch.tensor([1]), target), torch.tensor(math.log(2)), inputs='the same logits, but the region is of class 1 (channel 1 is all zeros)', hint='sigmoid(0) = 0.5, so every pixel costs log 2')
    empty = mask_loss(torch.zeros(0, 3, 2, 2), torch.zeros(0, dtype=torch.long), torch.zeros(0, 2, 2))
    expect_close('Exercise 7.3 (mask_loss)', empty, torch.tensor(0.0), inputs='no regions', hint='return mask_logits.sum() * 0 when there are no regions')

