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
    x = torch.tensor([[0.0], [0.0], [5.0], [5.0]])
    labels = torch.tensor([0, 0, 1, 1])
    positive, _ = batch_hard(torch.cdist(x, x), labels)
    expect_equal('Exercise 10.3 (batch_hard)', positive.tolist(), [1, 0, 3, 2], inputs='x = 0, 0 (class 0), 5, 5 (class 1): two pairs of identical points', hint="mask out the anchor itself, not only the other labels: here its own distance ties with its positive's")

@test_case(points=None, hidden=False)
def test_semihard_triplets_small(semihard_triplets):
    import torch
    from visioncourse.exercises import expect_equal
    x = torch.tensor([[0.0], [1.0], [1.2], [0.5], [3.0]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    a, p, n = semihard_triplets(torch.cdist(x, x), labels, 0.45)
    expect_equal('Exercise 10.3 (semihard_triplets)', sorted(zip(a.tolist(), p.tolist(), n.tolist())), [(0, 1, 2), (4, 2, 1)], inputs='x = 0, 1 (class 0), 1.2, 0.5, 3 (class 1), margin 0.45', hint="keep (a, p, n) with 0 < d(a,n) - d(a,p) <= margin; p of a's label but not a; n of another label")

