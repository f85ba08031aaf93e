from otter.test_files import test_case

OK_FORMAT = False

name = "ex3_4"
points = 2

@test_case(points=None, hidden=False)
def test_hardest_negatives_small(hardest_negatives):
    import torch
    from visioncourse.exercises import expect_equal
    scores = torch.tensor([0.9, 0.8, 0.1, 0.7, 0.95, 0.3])
    labels = torch.tensor([0, 2, 0, 0, 1, 0])
    expect_equal('Exercise 3.4 (hardest_negatives)', hardest_negatives(scores, labels, 2), torch.tensor([0, 3]), inputs='scores [.9, .8, .1, .7, .95, .3], labels [0, 2, 0, 0, 1, 0], k=2', hint='regions 1 and 4 are objects, not negatives; of the rest, 0 and 3 score highest')

