from otter.test_files import test_case

OK_FORMAT = False

name = "ex4_4"
points = 3

@test_case(points=None, hidden=False)
def test_label_anchors_small(label_anchors):
    import torch
    from visioncourse.exercises import expect_equal
    anchors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 7], [0, 0, 10, 2], [20, 20, 30, 30], [50, 50, 60, 60]])
    gt_boxes = torch.tensor([[0.0, 0, 10, 10], [21, 21, 31, 31]])
    labels, matched = label_anchors(anchors, gt_boxes)
    expect_equal('Exercise 4.4 (label_anchors)', labels, torch.tensor([1, 1, 0, 1, 0]), inputs="anchors with best IoU 1.0, 0.7, 0.2, 0.68 (the second box's best anchor), 0", hint="IoU >= 0.7 is positive, < 0.3 negative; an object's best anchor is positive even below 0.7")
    expect_equal('Exercise 4.4 (label_anchors)', matched[:4], torch.tensor([0, 0, 0, 1]), inputs="the same anchors: index of each one's best box", hint='the argmax of the (G, A) IoU matrix over dim 0')

