from otter.test_files import test_case

OK_FORMAT = False

name = "ex13_3"
points = 1

@test_case(points=None, hidden=False)
def test_inductive_loss_by_hand(inductive_loss):
    import math
    import torch
    from visioncourse.exercises import expect_close
    logits = torch.tensor([[0.0, 0.0, 0.0, math.log(5.0)]])
    memory, after = (torch.zeros(1, 2, 2), torch.tensor([[[1.0, 0.0], [0.0, 0.0]]]))
    delta = torch.tensor([[[0.5, 0.0], [0.0, 0.5]]])
    name = 'Exercise 13.3 (inductive_loss)'
    expect_close(name, inductive_loss(logits, delta, torch.tensor([1]), memory, after, gamma=2.0), math.log(8) + 2 * 0.125, inputs='p(target) = 1/8; memory errors (-0.5, 0, 0, +0.5); gamma = 2', hint='-log(1/8) + gamma * mean of the squared errors over the 4 pixels (0.125)')
    expect_close(name, inductive_loss(logits, after - memory, torch.tensor([3]), memory, after, gamma=2.0), math.log(8 / 5), inputs='target = stop (last class), exact memory update', hint='stop is an ordinary class of the softmax; with an exact Δm the second term is 0')

