from otter.test_files import test_case

OK_FORMAT = False

name = "ex7_1"
points = 2

@test_case(points=None, hidden=False)
def test_connected_components_small(connected_components):
    import torch
    from visioncourse.exercises import expect_same_regions
    mask = torch.tensor([[1, 1, 0, 1], [0, 1, 0, 1], [1, 0, 0, 0]], dtype=torch.bool)
    expect_same_regions('Exercise 7.1 (connected_components)', connected_components(mask), torch.tensor([[1, 1, 0, 2], [0, 1, 0, 2], [3, 0, 0, 0]]), inputs='mask [[1, 1, 0, 1], [0, 1, 0, 1], [1, 0, 0, 0]] (any ids will do)', hint='three regions: the bottom-left pixel touches the others only diagonally, which does not count')

