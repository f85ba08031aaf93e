from otter.test_files import test_case

OK_FORMAT = False

name = "ex9_1"
points = 1

@test_case(points=None, hidden=False)
def test_caption_loss_shift_and_padding(caption_loss):
    import math
    import torch
    from visioncourse.exercises import expect_close
    captions = torch.tensor([[1, 3, 2, 0]])
    scores = torch.tensor([[[0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 1.0, 0.0], [5.0, 0.0, 0.0, 0.0]]])
    want = (-math.log(math.exp(2) / (3 + math.exp(2))) - math.log(math.e / (3 + math.e))) / 2
    expect_close('Exercise 9.1 (caption_loss)', caption_loss(scores, captions), want, inputs='captions [[<start>, 3, <end>, <pad>]], scores of shape (1, 3, 4)', hint='targets are captions[:, 1:] (the next words); leave out <pad> targets, average the rest')

