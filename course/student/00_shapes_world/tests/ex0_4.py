from otter.test_files import test_case

OK_FORMAT = False

name = "ex0_4"
points = 1

@test_case(points=None, hidden=False)
def test_confusion_matrix_small(confusion_matrix):
    import torch
    from visioncourse.exercises import expect_equal
    predictions, targets = (torch.tensor([0, 2, 1, 1, 2]), torch.tensor([0, 1, 1, 2, 2]))
    expect_equal('Exercise 0.4 (confusion_matrix)', confusion_matrix(predictions, targets, 3), torch.tensor([[1, 0, 0], [0, 1, 1], [0, 1, 1]]), inputs='predictions [0, 2, 1, 1, 2], targets [0, 1, 1, 2, 2], 3 classes', hint='rows are the true classes, columns the predictions: [t, p], not [p, t]')

