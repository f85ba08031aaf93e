from otter.test_files import test_case

OK_FORMAT = False

name = "ex3_2"
points = 2

@test_case(points=None, hidden=False)
def test_encode_lecture_examples(encode):
    import math
    import torch
    from visioncourse.exercises import expect_close
    proposals = torch.tensor([[0.0, 0, 8, 8]] * 3)
    gt_boxes = torch.tensor([[0.0, 0, 8, 8], [2, 0, 10, 8], [1, 0, 7, 8]])
    expect_close('Exercise 3.2 (encode)', encode(gt_boxes, proposals), [[0, 0, 0, 0], [0.25, 0, 0, 0], [0, 0, math.log(0.75), 0]], inputs='proposal (0, 0, 8, 8); objects: the same box, 2 px to the right, 2 px narrower', hint='dx = (gx - px) / pw: a 2 px shift of an 8 px box is 0.25; dw = log(6 / 8)')

