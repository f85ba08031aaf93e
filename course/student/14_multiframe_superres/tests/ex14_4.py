from otter.test_files import test_case

OK_FORMAT = False

name = "ex14_4"
points = 2

@test_case(points=None, hidden=False)
def test_ssim_identical_and_scikit_image(ssim):
    import torch
    from skimage.metrics import structural_similarity
    from visioncourse.exercises import expect_close
    g = torch.Generator().manual_seed(0)
    target = torch.rand(1, 1, 16, 20, generator=g)
    expect_close('Exercise 14.4 (ssim)', ssim(target, target), torch.ones(1, dtype=torch.float64), atol=1e-06, inputs='an image against itself', hint='identical images give 1 everywhere; one value per image: shape (N,)')
    pred = (target + 0.1 * torch.randn(target.shape, generator=g)).clamp(0, 1)
    want = structural_similarity(target[0, 0].numpy(), pred[0, 0].numpy(), gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
    expect_close('Exercise 14.4 (ssim)', ssim(pred, target), torch.tensor([want], dtype=torch.float64), atol=1e-05, inputs='a noisy 16×20 image against the clean one', hint='valid windows only (no padding), a normalised 11×11 Gaussian, σ² = E[x²] − μ² (not the sample variance)')

@test_case(points=None, hidden=False)
def test_ssim_contrast_and_luminance(ssim):
    import torch
    from skimage.metrics import structural_similarity
    from visioncourse.exercises import expect_close
    x = torch.linspace(0, 1, 12 * 14).view(1, 1, 12, 14) ** 2
    y = 0.5 * x + 0.2
    want = structural_similarity(x[0, 0].numpy(), y[0, 0].numpy(), gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
    expect_close('Exercise 14.4 (ssim)', ssim(y, x), torch.tensor([want], dtype=torch.float64), atol=1e-05, inputs='a smooth ramp against a dimmer, brighter copy', hint='check C1 = (0.01·L)², C2 = (0.03·L)² and the 2 in both numerator factors')

