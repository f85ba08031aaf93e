from otter.test_files import test_case

OK_FORMAT = False

name = "ex12_4"
points = 1

@test_case(points=None, hidden=False)
def test_multiscale_epe_by_hand(multiscale_epe):
    import torch
    from visioncourse.exercises import expect_close
    target = torch.zeros(2, 2, 8, 8)
    target[:, 0, :4, :4] = 4.0
    preds = [torch.zeros(2, 2, 4, 4), torch.zeros(2, 2, 2, 2)]
    expect_close('Exercise 12.4 (multiscale_epe)', multiscale_epe(preds, target, [0.5, 0.25]), 0.5 * 16 + 0.25 * 4, inputs='a quarter of the target moves 4 px; zero predictions at 4×4 and 2×2; weights 0.5, 0.25', hint="sum the per-pixel endpoint errors over each scale's pixels (not their mean), then the batch mean")

@test_case(points=None, hidden=False)
def test_multiscale_epe_averages_the_target(multiscale_epe):
    import torch
    import torch.nn.functional as F
    from visioncourse.exercises import expect_close
    g = torch.Generator().manual_seed(0)
    target = torch.randn(3, 2, 8, 8, generator=g)
    perfect = [F.adaptive_avg_pool2d(target, 4), F.adaptive_avg_pool2d(target, 2)]
    expect_close('Exercise 12.4 (multiscale_epe)', multiscale_epe(perfect, target, [1.0, 1.0]), 0.0, atol=1e-05, inputs="predictions equal to the target's block averages", hint='downsample the target by averaging (F.adaptive_avg_pool2d), not by picking pixels')

