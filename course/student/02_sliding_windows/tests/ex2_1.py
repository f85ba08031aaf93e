from otter.test_files import test_case

OK_FORMAT = False

name = "ex2_1"
points = 2

@test_case(points=None, hidden=False)
def test_window_boxes_small(window_boxes):
    import torch
    from visioncourse.exercises import expect_close
    expect_close('Exercise 2.1 (window_boxes)', window_boxes(4, 6, 2, 2), torch.tensor([[0.0, 0, 2, 2], [2, 0, 4, 2], [4, 0, 6, 2], [0, 2, 2, 4], [2, 2, 4, 4], [4, 2, 6, 4]]), inputs='height=4, width=6, window=2, stride=2', hint='two rows of three windows; the top row comes first')

