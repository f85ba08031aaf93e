from otter.test_files import test_case

OK_FORMAT = False

name = "ex11_4"
points = 1

@test_case(points=None, hidden=False)
def test_time_to_channel_one_channel(time_to_channel):
    import torch
    from visioncourse.exercises import expect_equal
    fast = torch.arange(4.0).view(1, 1, 4, 1, 1)
    expect_equal('Exercise 11.4 (time_to_channel)', time_to_channel(fast, 2), torch.tensor([[0.0, 2.0], [1.0, 3.0]]).view(1, 2, 2, 1, 1), inputs='1 channel, fast frames 0..3, alpha 2 -> (1, 2, 2, 1, 1): [[channel 0 at t=0, t=1], [channel 1 at t=0, t=1]]', hint='channel j of slow step t is fast frame t·alpha + j; a plain view would give frames 0, 1 to channel 0')

@test_case(points=None, hidden=False)
def test_time_to_channel_channel_order(time_to_channel):
    import torch
    from visioncourse.exercises import expect_equal
    fast = (10 * torch.arange(2.0)[:, None] + torch.arange(4.0)).view(1, 2, 4, 1, 1)
    want = torch.tensor([[0.0, 2.0], [10.0, 12.0], [1.0, 3.0], [11.0, 13.0]]).view(1, 4, 2, 1, 1)
    expect_equal('Exercise 11.4 (time_to_channel)', time_to_channel(fast, 2), want, inputs='2 channels (value 10·c + frame), alpha 2 -> (1, 4, 2, 1, 1)', hint='channel j·C + c: all C channels of fast frame 0 first, then those of frame 1')

