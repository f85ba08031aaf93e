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

@test_case(points=None, hidden=False)
def test_caption_loss_averages_over_words(caption_loss):
    import torch
    import torch.nn.functional as F
    from visioncourse.exercises import expect_close
    captions = torch.tensor([[1, 3, 2, 0, 0], [1, 3, 3, 3, 2]])
    scores = torch.randn(2, 4, 4, generator=torch.Generator().manual_seed(0))
    keep = captions[:, 1:] != 0
    expect_close('Exercise 9.1 (caption_loss)', caption_loss(scores, captions), F.cross_entropy(scores[keep], captions[:, 1:][keep]), atol=1e-06, inputs='two captions with 2 and 4 target words', hint='one mean over all 6 real target words, not a mean of per-caption means')

