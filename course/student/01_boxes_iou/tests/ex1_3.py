from otter.test_files import test_case

OK_FORMAT = False

name = "ex1_3"
points = 3

@test_case(points=None, hidden=False)
def test_pairwise_iou_small(pairwise_iou):
    import torch
    from visioncourse.exercises import expect_close
    boxes1 = torch.tensor([[0.0, 0, 2, 2], [1, 1, 3, 3]])
    boxes2 = torch.tensor([[0.0, 0, 2, 2], [1, 0, 2, 1], [5, 5, 6, 6]])
    expect_close('Exercise 1.3 (pairwise_iou)', pairwise_iou(boxes1, boxes2), [[1.0, 0.25, 0.0], [1 / 7, 0.0, 0.0]], inputs='boxes1=[[0,0,2,2],[1,1,3,3]], boxes2=[[0,0,2,2],[1,0,2,1],[5,5,6,6]]', hint='the result has one row per box of boxes1 and one column per box of boxes2')

