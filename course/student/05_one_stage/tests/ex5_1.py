from otter.test_files import test_case

OK_FORMAT = False

name = "ex5_1"
points = 3

@test_case(points=None, hidden=False)
def test_yolo_target_small(yolo_target):
    import math
    import torch
    from visioncourse.exercises import expect_close
    t = yolo_target(torch.tensor([[10.0, 20, 30, 36]]), torch.tensor([2]), 8, 3, 64)
    expected = torch.zeros(8, 8, 8)
    expected[3, 2] = torch.tensor([1.0, 0.5, 0.5, math.sqrt(20 / 64), math.sqrt(16 / 64), 0, 1, 0])
    expect_close('Exercise 5.1 (yolo_target)', t, expected, inputs='64 px image, 8x8 grid, one class-2 box (10, 20, 30, 36): centre (20, 28)', hint='the centre is in column 2, row 3 (index [3, 2]); offsets 0.5; sqrt of 20/64 and 16/64')
    t = yolo_target(torch.tensor([[16.0, 24, 24, 32], [12, 18, 32, 34]]), torch.tensor([1, 3]), 8, 3, 64)
    expected = torch.zeros(8, 8, 8)
    expected[3, 2] = torch.tensor([1.0, 0.75, 0.25, math.sqrt(20 / 64), math.sqrt(16 / 64), 0, 0, 1])
    expect_close('Exercise 5.1 (yolo_target)', t, expected, inputs='two boxes whose centres share cell [3, 2]: (16, 24, 24, 32) class 1, then (12, 18, 32, 34) class 3', hint="one object per cell: the larger box owns it, and its class must not be mixed with the other's")

