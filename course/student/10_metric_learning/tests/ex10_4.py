from otter.test_files import test_case

OK_FORMAT = False

name = "ex10_4"
points = 1

@test_case(points=None, hidden=False)
def test_lsh_search_by_hand(lsh_search):
    import torch
    from visioncourse.exercises import expect_equal
    planes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    database = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -0.5]])
    dist, idx = lsh_search(torch.tensor([[2.0, 1.0]]), database, planes, 3)
    expect_equal('Exercise 10.4 (lsh_search)', (dist.tolist(), idx.tolist()), ([[0, 1, 2]], [[0, 3, 1]]), inputs='3 hyperplanes in 2-D, 4 database points, query (2, 1)', hint='bits x·plane > 0; Hamming = number of differing bits; k smallest, nearest first')

@test_case(points=None, hidden=False)
def test_lsh_search_is_hamming_of_sign_codes(lsh_search):
    import torch
    from visioncourse.exercises import expect_equal
    g = torch.Generator().manual_seed(2)
    planes, db, q = (torch.randn(16, 8, generator=g), torch.randn(100, 8, generator=g), torch.randn(5, 8, generator=g))
    bits_q, bits_db = (q @ planes.T > 0, db @ planes.T > 0)
    want = (bits_q[:, None] != bits_db[None]).sum(-1).sort(1).values[:, :4]
    dist, idx = lsh_search(q, db, planes, 4)
    expect_equal('Exercise 10.4 (lsh_search)', dist.tolist(), want.tolist(), inputs='16 planes, 100 points in 8-D, 5 queries, k = 4', hint='distances are integer counts of differing bits, sorted ascending')
    expect_equal('Exercise 10.4 (lsh_search)', (bits_q[:, None] != bits_db[None]).sum(-1).gather(1, idx).tolist(), dist.tolist(), inputs='the same', hint='indices must point at items at the distances you report')

