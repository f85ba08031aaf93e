from otter.test_files import test_case

OK_FORMAT = False

name = "ex6_3"
points = 3

@test_case(points=None, hidden=False)
def test_decoder_stage_small(decoder_stage):
    import torch
    import torch.nn as nn
    from visioncourse.exercises import expect_close
    x = torch.arange(8.0).view(1, 2, 2, 2)
    skip = torch.arange(49.0).view(1, 1, 7, 7)
    up = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(2, 1, 1, bias=False))
    block = nn.Conv2d(2, 1, 1, bias=False)
    with torch.no_grad():
        up[1].weight.fill_(1.0)
        block.weight.copy_(torch.tensor([1.0, 100.0]).view(1, 2, 1, 1))
        expect_close('Exercise 6.3 (decoder_stage)', decoder_stage(x, skip, up, block), (torch.tensor([[4.0, 4, 6, 6], [4, 4, 6, 6], [8, 8, 10, 10], [8, 8, 10, 10]]) + 100 * torch.tensor([[8.0, 9, 10, 11], [15, 16, 17, 18], [22, 23, 24, 25], [29, 30, 31, 32]])).view(1, 1, 4, 4), inputs='x (1, 2, 2, 2) = 0..7, skip 7x7 = 0..48, up = nearest x2 then sum of channels, block = 1 * upsampled + 100 * skip', hint="use the modules you are given (up, then block); keep the skip's rows and columns 1..4 (margin 3: one before, two after); upsampled features first")

