from otter.test_files import test_case

OK_FORMAT = False

name = "ex5_3"
points = 2

@test_case(points=None, hidden=False)
def test_kmeans_wh_small(kmeans_wh):
    import torch
    from visioncourse.exercises import expect_close
    wh = torch.tensor([[10.0, 10], [11, 11], [9, 9], [40, 20], [42, 22], [38, 18]])
    expect_close('Exercise 5.3 (kmeans_wh)', kmeans_wh(wh, 2, seed=0), torch.tensor([[10.0, 10], [40, 20]]), inputs='two obvious groups of sizes, k=2', hint='each centre ends at the mean of its group; sort the centres by area')

