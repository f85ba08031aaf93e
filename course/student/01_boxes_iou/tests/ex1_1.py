from otter.test_files import test_case

OK_FORMAT = False

name = "ex1_1"
points = 2

@test_case(points=None, hidden=False)
def test_xyxy_to_cxcywh_example(xyxy_to_cxcywh):
    import torch
    from visioncourse.exercises import expect_close
    boxes = torch.tensor([[2.0, 3.0, 5.0, 4.0], [0.0, 0.0, 10.0, 20.0]])
    expect_close('Exercise 1.1 (xyxy_to_cxcywh)', xyxy_to_cxcywh(boxes), [[3.5, 3.5, 3.0, 1.0], [5.0, 10.0, 10.0, 20.0]], inputs='[[2, 3, 5, 4], [0, 0, 10, 20]]', hint='cx = (x1 + x2) / 2 and w = x2 - x1')

