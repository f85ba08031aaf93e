from otter.test_files import test_case

OK_FORMAT = False

name = "ex14_1"
points = 1

@test_case(points=None, hidden=False)
def test_aggregate_frames_by_hand(aggregate_frames):
    import torch
    from visioncourse.exercises import expect_close
    f = torch.tensor([[[1.0, -2.0], [3.0, 4.0]], [[0.0, 5.0], [-4.0, 1.0]]])
    expect_close('Exercise 14.1 (aggregate_frames)', aggregate_frames(f, 'avg'), torch.tensor([[2.0, 1.0], [-2.0, 3.0]]), inputs='2 sequences of 2 frames, K = 2, no mask', hint='the mean over the frame axis (dim 1)')
    expect_close('Exercise 14.1 (aggregate_frames)', aggregate_frames(f, 'max'), torch.tensor([[3.0, 4.0], [0.0, 5.0]]), inputs="the same, how='max'", hint='the maximum over the frame axis, feature by feature')

@test_case(points=None, hidden=False)
def test_aggregate_frames_mask(aggregate_frames):
    import torch
    from visioncourse.exercises import expect_close
    f = torch.tensor([[[-1.0], [-3.0], [9.0]], [[2.0], [4.0], [6.0]]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    expect_close('Exercise 14.1 (aggregate_frames)', aggregate_frames(f, 'avg', mask), torch.tensor([[-2.0], [2.0]]), inputs='frames [-1, -3, 9] and [2, 4, 6], mask [[T, T, F], [T, F, F]]', hint='divide by the number of valid frames of each sequence, not by T')
    expect_close('Exercise 14.1 (aggregate_frames)', aggregate_frames(f, 'max', mask), torch.tensor([[-1.0], [2.0]]), inputs="the same, how='max'", hint='a missing frame must never win: setting it to 0 beats negative features; use -inf')

