from otter.test_files import test_case

OK_FORMAT = False

name = "ex6_1"
points = 2

@test_case(points=None, hidden=False)
def test_max_unpool_small(max_unpool2d):
    import torch
    from visioncourse.exercises import expect_close
    values = torch.tensor([[[[5.0, 7.0]]]])
    indices = torch.tensor([[[[4, 3]]]])
    expect_close('Exercise 6.1 (max_unpool2d)', max_unpool2d(values, indices, (2, 4)), torch.tensor([[[[0.0, 0, 0, 7], [5, 0, 0, 0]]]]), inputs='values [5, 7] at flat indices [4, 3] of a 2x4 map', hint='index 4 in a map 4 wide is row 1, column 0')

