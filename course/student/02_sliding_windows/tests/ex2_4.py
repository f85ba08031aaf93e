from otter.test_files import test_case

OK_FORMAT = False

name = "ex2_4"
points = 2

@test_case(points=None, hidden=False)
def test_batched_nms_small(batched_nms):
    import torch
    from visioncourse.exercises import expect_equal
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    expect_equal('Exercise 2.4 (batched_nms)', batched_nms(boxes, scores, torch.tensor([1, 1, 2]), 0.5), torch.tensor([0, 2]), inputs='two overlapping boxes of class 1, a copy of the first with class 2', hint='the class-2 box must survive: it only competes with its own class')

