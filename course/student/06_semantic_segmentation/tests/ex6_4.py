from otter.test_files import test_case

OK_FORMAT = False

name = "ex6_4"
points = 2

@test_case(points=None, hidden=False)
def test_class_iou_small(class_iou):
    import torch
    from visioncourse.exercises import expect_close
    confmat = torch.tensor([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
    expect_close('Exercise 6.4 (class_iou)', class_iou(confmat), torch.tensor([5 / 8, 3 / 6, float('nan')], dtype=torch.float64), inputs='confmat [[5, 1, 0], [2, 3, 0], [0, 0, 0]] (rows: true class, columns: predicted)', hint='class 0: TP 5, FP 2 (column), FN 1 (row); class 2 never occurs: NaN')

