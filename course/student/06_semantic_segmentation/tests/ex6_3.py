from otter.test_files import test_case

OK_FORMAT = False

name = "ex6_3"
points = 3

@test_case(points=None, hidden=False)
def test_decoder_stage_small(decoder_stage):
    import torch
    import torch.nn as nn
    from visioncourse.exercises import expect_close
    x = torch.arange(4.0).view(1, 1, 2, 2)
    skip = 10 + torch.arange(36.0).view(1, 1, 6, 6)
    up = nn.Upsample(scale_factor=2)
    expect_close('Exercise 6.3 (decoder_stage)', decoder_stage(x, skip, up, nn.Identity()), torch.cat((up(x), skip[..., 1:5, 1:5]), dim=1), inputs='x 2x2 = [[0, 1], [2, 3]], skip 6x6 = 10..45, nearest x2 upsampling, block = identity', hint="channel 0 is the upsampled x; channel 1 the skip's centre 4x4 (rows and columns 1..4)")

