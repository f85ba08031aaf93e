from otter.test_files import test_case

OK_FORMAT = False

name = "ex10_5"
points = 1

@test_case(points=None, hidden=False)
def test_vse_loss_three_pairs(vse_loss):
    import torch
    from visioncourse.exercises import expect_close
    images = torch.tensor([[0.9, 0.8, 0.85], [0.1, 0.2, 0.0], [0.0, 0.1, 0.5]])
    captions = torch.eye(3)
    for max_violation, want in ((False, 0.25 + 0.1 + 0.9 + 0.55), (True, 0.15 + 0.1 + 0.8 + 0.55)):
        expect_close(f'Exercise 10.5 (vse_loss, max_violation={max_violation})', vse_loss(images, captions, 0.2, max_violation), want, atol=1e-06, inputs='s = [[.9, .8, .85], [.1, .2, 0], [0, .1, .5]], margin 0.2', hint='costs [margin - s(i,i) + s(i,j)]+ along rows (captions) and [margin - s(j,j) + s(i,j)]+ down columns (images), diagonal excluded; sum over the batch (not the mean); max keeps the largest cost of each row and of each column')

@test_case(points=None, hidden=False)
def test_vse_loss_max_takes_the_hardest(vse_loss):
    import torch
    from visioncourse.exercises import expect_close
    s = torch.tensor([[1.0, 0.9, 0.95], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    expect_close('Exercise 10.5 (vse_loss, sum)', vse_loss(s, torch.eye(3), 0.2, False), 0.1 + 0.15 + 0.1 + 0.15, atol=1e-06, inputs='one image close to two wrong captions', hint='sum-hinge adds every violating negative')
    expect_close('Exercise 10.5 (vse_loss, max)', vse_loss(s, torch.eye(3), 0.2, True), 0.15 + 0.1 + 0.15, atol=1e-06, inputs='the same', hint='max-hinge keeps only the largest cost per row (captions) and per column (images)')

