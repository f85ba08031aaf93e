from otter.test_files import test_case

OK_FORMAT = False

name = "ex1_5"
points = 2

@test_case(points=None, hidden=False)
def test_smooth_l1_values(smooth_l1):
    import torch
    from visioncourse.exercises import expect_close
    pred = torch.tensor([0.0, 0.5, 2.0, -3.0])
    expect_close('Exercise 1.5 (smooth_l1)', smooth_l1(pred, torch.zeros(4), beta=1.0), [0.0, 0.125, 1.5, 2.5], inputs='pred=[0, 0.5, 2, -3], target=0, beta=1', hint='0.5 * 0.5**2 / 1 = 0.125 inside beta; 2 - 0.5 = 1.5 outside')

