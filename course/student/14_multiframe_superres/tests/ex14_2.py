from otter.test_files import test_case

OK_FORMAT = False

name = "ex14_2"
points = 1

@test_case(points=None, hidden=False)
def test_pixel_shuffle_one_block(pixel_shuffle):
    import torch
    from visioncourse.exercises import expect_equal
    x = torch.arange(4.0).view(1, 4, 1, 1)
    expect_equal('Exercise 14.2 (pixel_shuffle)', pixel_shuffle(x, 2), torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]]), inputs='channels 0, 1, 2, 3 of one LR pixel, r = 2', hint='channel i·r + j goes to row i, column j of the block: the first r² channels fill one block row by row')

@test_case(points=None, hidden=False)
def test_pixel_shuffle_equals_torch(pixel_shuffle):
    import torch
    import torch.nn as nn
    from visioncourse.exercises import expect_equal
    x = torch.randn(2, 8, 3, 5, generator=torch.Generator().manual_seed(0))
    expect_equal('Exercise 14.2 (pixel_shuffle)', pixel_shuffle(x, 2), nn.PixelShuffle(2)(x), inputs='random (2, 8, 3, 5), r = 2', hint='view (N, C, r, r, H, W), then order the axes N, C, H, r, W, r')

