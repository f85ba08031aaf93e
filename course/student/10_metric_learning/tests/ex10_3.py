from otter.test_files import test_case

OK_FORMAT = False

name = "ex10_3"
points = 1

@test_case(points=None, hidden=False)
def test_batch_hard_small(batch_hard):
    import torch
    from visioncourse.exercises import expect_equal
    x = torch.tensor([[0.0], [1.0], [1.5], [4.0]])
    labels = torch.tensor([0, 0, 1, 1])
    got = batch_hard(torch.cdist(x, x), labels)
    expect_equal('Exercise 10.3 (batch_hard)', tuple((t.tolist() for t in got)), ([1, 0, 3, 2], [2, 2, 1, 1]), inputs='x = 0, 1 (class 0), 1.5, 4 (class 1)', hint='positives: same label but not the anchor itself, the FARTHEST; negatives: the NEAREST')

@test_case(points=None, hidden=False)
def test_batch_hard_not_itself(batch_hard):
    import torch
    from visioncourse.exercises import expect_equal
    x = torch.tensor([[0.0], [0.1], [5.0], [5.1]])
    labels = torch.tensor([0, 0, 1, 1])
    positive, _ = batch_hard(torch.cdist(x, x), labels)
    expect_equal('Exercise 10.3 (batch_hard)', positive.tolist(), [1, 0, 3, 2], inputs='two tight pairs', hint='an anchor is never its own positive (its distance 0 must not win… and must not be picked when every other distance is smaller either)')

