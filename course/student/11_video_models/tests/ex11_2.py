from otter.test_files import test_case

OK_FORMAT = False

name = "ex11_2"
points = 2

@test_case(points=None, hidden=False)
def test_conv3d_two_taps_by_hand(conv3d):
    import torch
    from visioncourse.exercises import expect_close
    x = torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 3, 1, 1)
    w = torch.tensor([1.0, 10.0]).view(1, 1, 2, 1, 1)
    expect_close('Exercise 11.2 (conv3d)', conv3d(x, w), torch.tensor([21.0, 32.0]).view(1, 1, 2, 1, 1), inputs='frames 1, 2, 3; kernel taps (1, 10); no padding', hint='a cross-correlation like F.conv3d: tap k meets frame t + k, the kernel is not flipped')

@test_case(points=None, hidden=False)
def test_conv3d_equals_torch_padded(conv3d):
    import torch
    import torch.nn.functional as F
    from visioncourse.exercises import expect_close
    g = torch.Generator().manual_seed(0)
    x, w, b = (torch.randn(2, 3, 5, 6, 7, generator=g), torch.randn(4, 3, 3, 3, 3, generator=g), torch.randn(4, generator=g))
    want = F.conv3d(x, w, b, padding=1)

    def forbidden(*args, **kwargs):
        raise AssertionError('Exercise 11.2 (conv3d): the exercise is to build a 3D convolution from F.conv2d; F.conv3d, torch.conv3d and nn.Conv3d are switched off while it is checked')
    saved = (F.conv3d, torch.conv3d)
    F.conv3d = torch.conv3d = forbidden
    try:
        got = conv3d(x, w, b, 1, 1)
    finally:
        F.conv3d, torch.conv3d = saved
    expect_close('Exercise 11.2 (conv3d)', got, want, atol=0.0001, inputs='x (2, 3, 5, 6, 7), a 3×3×3 kernel with bias, padding 1', hint='pad time with zeros yourself (F.pad); let F.conv2d pad and stride in space')

