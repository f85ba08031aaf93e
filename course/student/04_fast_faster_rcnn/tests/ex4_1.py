from otter.test_files import test_case

OK_FORMAT = False

name = "ex4_1"
points = 3

@test_case(points=None, hidden=False)
def test_roi_pool_single_small(roi_pool_single):
    import torch
    from visioncourse.exercises import expect_close
    features = torch.arange(36.0).view(1, 6, 6)
    expect_close('Exercise 4.1 (roi_pool_single)', roi_pool_single(features, (0, 0, 5, 5), (2, 2)), torch.tensor([[[14.0, 17], [32, 35]]]), inputs='a 6x6 map 0..35, box (0, 0, 5, 5), output 2x2: four 3x3 quarters', hint='the box spans x2 - x1 + 1 = 6 cells; each output is the max of its quarter')
    expect_close('Exercise 4.1 (roi_pool_single)', roi_pool_single(features, (2, 2, 9, 7), (2, 2), spatial_scale=0.5), torch.tensor([[[15.0, 17], [27, 29]]]), inputs='the same map, box (2, 2, 9, 7), spatial_scale 0.5, output 2x2', hint='cells: x 1..5 (4.5 rounds up to 5), y 1..4; column bins 1..3 and 3..5 overlap')

