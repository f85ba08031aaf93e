from otter.test_files import test_case

OK_FORMAT = False

name = "ex2_3"
points = 3

@test_case(points=None, hidden=False)
def test_nms_small(nms):
    import torch
    from visioncourse.exercises import expect_equal
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]])
    scores = torch.tensor([0.8, 0.9, 0.7, 0.6])
    expect_equal('Exercise 2.3 (nms)', nms(boxes, scores, 0.5), torch.tensor([1, 2]), inputs='boxes 0, 1, 3 overlap (IoU 0.68, 0.9 ...), box 2 is alone; scores .8 .9 .7 .6', hint='box 1 scores best and removes 0 and 3; box 2 stays; return indices into `boxes`')
    expect_equal('Exercise 2.3 (nms)', nms(boxes, scores, 0.95), torch.tensor([1, 0, 2, 3]), inputs='the same boxes, iou_threshold=0.95', hint='nothing overlaps by more than 0.95: every box is kept, best score first')
    expect_equal('Exercise 2.3 (nms)', nms(torch.tensor([[0.0, 0, 4, 4], [0, 0, 4, 2]]), torch.tensor([0.9, 0.8]), 0.5), torch.tensor([0, 1]), inputs='two boxes with IoU exactly 0.5, iou_threshold=0.5', hint='remove a box only when its IoU is strictly GREATER than the threshold (> , not >=), as torchvision does')

