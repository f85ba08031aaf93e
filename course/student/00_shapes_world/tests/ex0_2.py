from otter.test_files import test_case

OK_FORMAT = False

name = "ex0_2"
points = 2

@test_case(points=None, hidden=False)
def test_masks_to_boxes_small(masks_to_boxes):
    import torch
    from visioncourse.exercises import expect_close
    masks = torch.zeros(2, 5, 6, dtype=torch.bool)
    masks[0, 1:3, 2:5] = True
    masks[1, 4, 0] = True
    expect_close('Exercise 0.2 (masks_to_boxes)', masks_to_boxes(masks), [[2.0, 1.0, 4.0, 2.0], [0.0, 4.0, 0.0, 4.0]], inputs='two 5x6 masks: a 2x3 block at rows 1-2 / columns 2-4, and one pixel at (4, 0)', hint='x is the column index, y the row; max is the last used index (inclusive)')

