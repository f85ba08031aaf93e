from otter.test_files import test_case

OK_FORMAT = False

name = "ex1_4"
points = 3

@test_case(points=None, hidden=False)
def test_localization_hits_example(localization_hits):
    import torch
    from visioncourse.exercises import expect_equal
    gt_labels = torch.tensor([1, 2, 3])
    gt_boxes = torch.tensor([[0.0, 0, 10, 10]] * 3)
    pred_labels = torch.tensor([[1, 2], [1, 3], [3, 1]])
    pred_boxes = torch.tensor([[[0.0, 0, 10, 10], [50, 50, 60, 60]], [[0.0, 0, 10, 10], [0, 0, 10, 10]], [[0.0, 0, 10, 4], [0, 0, 10, 10]]])
    expect_equal('Exercise 1.4 (localization_hits)', localization_hits(pred_labels, pred_boxes, gt_labels, gt_boxes), torch.tensor([True, False, False]), inputs="3 images, 2 guesses each (see the test's comments)", hint='a hit needs the right class AND IoU >= 0.5 in the same guess')

