from otter.test_files import test_case

OK_FORMAT = False

name = "ex6_5"
points = 2

@test_case(points=None, hidden=False)
def test_dice_loss_small(dice_loss):
    import torch
    from visioncourse.exercises import expect_close
    logits = torch.tensor([[[[0.0, 0.0]], [[0.0, 0.0]]]])
    target = torch.tensor([[[0, 1]]])
    expect_close('Exercise 6.5 (dice_loss)', dice_loss(logits, target, eps=0.0), torch.tensor(0.5), inputs='2 pixels with p = (0.5, 0.5), targets [0, 1], eps 0', hint='class 0: 2 * 0.5 / (1 + 1) = 0.5, class 1 the same; loss = 1 - 0.5')
    sure = torch.tensor([[[[9.0, -9.0]], [[-9.0, 9.0]]]])
    expect_close('Exercise 6.5 (dice_loss)', dice_loss(sure, target, eps=1.0), torch.tensor(0.0), inputs='confident, correct logits, eps 1', hint='a perfect prediction gives dice 1 for every class', atol=0.001)

