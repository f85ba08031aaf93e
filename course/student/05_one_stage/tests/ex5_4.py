from otter.test_files import test_case

OK_FORMAT = False

name = "ex5_4"
points = 2

@test_case(points=None, hidden=False)
def test_focal_loss_small(focal_loss):
    import math
    import torch
    from visioncourse.exercises import expect_close
    got = focal_loss(torch.tensor([0.0, 0.0, math.log(9)]), torch.tensor([1.0, 0.0, 1.0]))
    expected = torch.tensor([0.25 * 0.25 * math.log(2), 0.75 * 0.25 * math.log(2), 0.25 * 0.01 * -math.log(0.9)])
    expect_close('Exercise 5.4 (focal_loss)', got, expected, inputs='logits (0, 0, log 9), targets (1, 0, 1), alpha 0.25, gamma 2', hint='alpha weights positives, 1 - alpha negatives; p_t is p for y=1 and 1-p for y=0')

