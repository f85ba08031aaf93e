from otter.test_files import test_case

OK_FORMAT = False

name = "ex3_1"
points = 2

@test_case(points=None, hidden=False)
def test_assign_labels_small(assign_labels):
    import torch
    from visioncourse.exercises import expect_equal
    gt_boxes = torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 40]])
    gt_labels = torch.tensor([2, 1])
    proposals = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 4], [21, 21, 40, 40], [50, 50, 60, 60]])
    labels, matched = assign_labels(proposals, gt_boxes, gt_labels)
    expect_equal('Exercise 3.1 (assign_labels)', labels, torch.tensor([2, 0, 1, 0]), inputs='4 proposals with IoU 1.0, 0.4, 0.9, 0 against their best box', hint='labels come from gt_labels[matched], and 0 where the best IoU is below 0.5')
    expect_equal('Exercise 3.1 (assign_labels)', matched[:3], torch.tensor([0, 0, 1]), inputs='the same proposals: index of the best-overlapping box', hint='the second output is the argmax of the IoU matrix along dim 1')
    labels, _ = assign_labels(torch.tensor([[0.0, 0, 10, 5]]), gt_boxes, gt_labels)
    expect_equal('Exercise 3.1 (assign_labels)', labels, torch.tensor([2]), inputs='a proposal with IoU exactly 0.5 against box 0, iou_threshold=0.5', hint="the rule is IoU >= threshold (VOC's), not >")

