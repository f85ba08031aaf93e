from otter.test_files import test_case

OK_FORMAT = False

name = "ex13_3"
points = 1

@test_case(points=None, hidden=False)
def test_inductive_loss_by_hand(inductive_loss):
    import math
    import torch
    from visioncourse.exercises import expect_close
    name = 'Exercise 13.3 (inductive_loss)'
    logits = torch.tensor([[0.0, 0.0, 0.0, math.log(5.0)]])
    memory, after = (torch.zeros(1, 2, 2), torch.tensor([[[1.0, 0.0], [0.0, 0.0]]]))
    expect_close(name, inductive_loss(logits, after - memory, torch.tensor([3]), memory, after, gamma=2.0), math.log(8 / 5), inputs='one scene, target = stop (the last class), an exact memory update', hint='stop is an ordinary class of the softmax; with an exact Δm the second term is 0')
    logits = logits.repeat(2, 1)
    memory = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).repeat(2, 1, 1)
    after = torch.tensor([[1.0, 1.0], [0.0, 0.0]]).repeat(2, 1, 1)
    delta = torch.stack((torch.tensor([[0.0, 0.5], [0.0, 0.5]]), after[1] - memory[1]))
    expect_close(name, inductive_loss(logits, delta, torch.tensor([1, 3]), memory, after, gamma=2.0), (math.log(8) + math.log(8 / 5)) / 2 + 2 * 0.0625, inputs='2 scenes: p(target) = 1/8 and 5/8 (stop); memory errors (0, -0.5, 0, +0.5) and none; gamma = 2', hint='the mean over the batch of -log p(target), plus gamma × the mean over all pixels of (m_t + Δm − m_{t+1})²: m_t is part of the prediction')

