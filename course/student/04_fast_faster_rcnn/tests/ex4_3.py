from otter.test_files import test_case

OK_FORMAT = False

name = "ex4_3"
points = 2

@test_case(points=None, hidden=False)
def test_make_anchors_small(make_anchors):
    import torch
    from visioncourse.exercises import expect_close
    anchors = make_anchors((1, 2), 10, (4, 8), (1.0, 4.0))
    one_cell = torch.tensor([[-2.0, -2, 2, 2], [-4, -4, 4, 4], [-1, -4, 1, 4], [-2, -8, 2, 8]])
    expect_close('Exercise 4.3 (make_anchors)', anchors, torch.cat((one_cell, one_cell + torch.tensor([10.0, 0, 10, 0]))), inputs='grid (1, 2), stride 10, sizes (4, 8), ratios (1, 4)', hint='ratio 4 means tall: width s / 2, height 2 s; the second cell is 10 px to the right')

