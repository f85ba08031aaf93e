from otter.test_files import test_case

OK_FORMAT = False

name = "ex10_4"
points = 1

@test_case(points=None, hidden=False)
def test_lsh_search_by_hand(lsh_search):
    import torch
    from visioncourse.exercises import expect_equal
    planes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    database = torch.tensor([[1.0, 1.0], [-1.0, 0.5], [-1.0, -1.0], [1.0, -0.5]])
    dist, idx = lsh_search(torch.tensor([[2.0, 1.0]]), database, planes, 3)
    expect_equal('Exercise 10.4 (lsh_search)', (dist.tolist(), idx.tolist()), ([[0, 1, 2]], [[0, 3, 1]]), inputs='3 hyperplanes in 2-D, 4 database points, query (2, 1)', hint='bits x·plane >= 0; Hamming = number of differing bits (not a distance between the vectors); k smallest, nearest first')
    expect_equal('Exercise 10.4 (lsh_search) dtype', str(dist.dtype), 'torch.int64', inputs='the distances', hint='Hamming distances are integer counts: return them as .long()')

