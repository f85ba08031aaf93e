from otter.test_files import test_case

OK_FORMAT = False

name = "ex0_3"
points = 1

@test_case(points=None, hidden=False)
def test_objects_per_class_small(objects_per_class):
    import torch
    from visioncourse.exercises import expect_equal
    labels = torch.tensor([[1, 1, 3], [2, 0, 0]])
    expect_equal('Exercise 0.3 (objects_per_class)', objects_per_class(labels, 3), torch.tensor([[2, 0, 1], [0, 1, 0]]), inputs='labels [[1, 1, 3], [2, 0, 0]], num_classes=3', hint='empty slots (label 0) are not objects; column j counts class j + 1')

