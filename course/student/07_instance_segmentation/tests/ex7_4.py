from otter.test_files import test_case

OK_FORMAT = False

name = "ex7_4"
points = 2

@test_case(points=None, hidden=False)
def test_paste_mask_small(paste_mask):
    import torch
    from visioncourse.exercises import expect_close
    mask = torch.ones(2, 2)
    expected = torch.zeros(4, 6)
    expected[1:3, 2:4] = 1
    expect_close('Exercise 7.4 (paste_mask)', paste_mask(mask, torch.tensor([2.0, 1.0, 4.0, 3.0]), (4, 6)), expected, inputs='a 2x2 mask of ones, box (2, 1, 4, 3), image 4x6', hint='pixel (x, y) reads cell (x - 2, y - 1) exactly here; pixels a whole cell outside get 0')
    mask = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    expect_close('Exercise 7.4 (paste_mask)', paste_mask(mask, torch.tensor([0.0, 0.0, 4.0, 2.0]), (2, 4)), torch.tensor([[0.0, 0.25, 0.75, 0.75], [0.0, 0.25, 0.75, 0.75]]), inputs='mask [[0, 1], [0, 1]], box (0, 0, 4, 2), image 2x4', hint="column x reads the mask at u = (x + 0.5) / 4 * 2 - 0.5: -0.25, 0.25, 0.75, 1.25; beyond the outer cell centres the mask fades towards 0 (grid_sample's zero padding)")

