from otter.test_files import test_case

OK_FORMAT = False

name = "ex12_1"
points = 1

@test_case(points=None, hidden=False)
def test_endpoint_error_by_hand(endpoint_error):
    import torch
    from visioncourse.exercises import expect_close
    target = torch.zeros(1, 2, 1, 2)
    pred = torch.tensor([[[[3.0, 0.0]], [[4.0, 0.0]]]])
    expect_close('Exercise 12.1 (endpoint_error)', endpoint_error(pred, target), 2.5, inputs='two pixels: errors (3, 4) and (0, 0)', hint='the length of the error vector per pixel (5 and 0), then the mean over pixels')

@test_case(points=None, hidden=False)
def test_endpoint_error_mask(endpoint_error):
    import torch
    from visioncourse.exercises import expect_close
    target = torch.zeros(2, 2, 1, 2)
    pred = torch.zeros(2, 2, 1, 2)
    pred[0, 0, 0, 0], pred[1, 1, 0, 0], pred[1, 1, 0, 1] = (1.0, 2.0, 6.0)
    mask = torch.tensor([[[True, False]], [[True, True]]])
    expect_close('Exercise 12.1 (endpoint_error)', endpoint_error(pred, target, mask), 3.0, inputs='2 images of 2 pixels, errors [1, 0] and [2, 6], mask [[T, F], [T, T]]', hint='one mean over all masked pixels of the batch, (1 + 2 + 6) / 3 — not a mean of per-image means')
    expect_close('Exercise 12.1 (endpoint_error)', endpoint_error(pred, target), 2.25, inputs='the same, no mask', hint='no mask: every pixel of every image')

