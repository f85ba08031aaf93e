"""visioncourse.video against torch.nn and torchvision's video models."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visioncourse import video


@pytest.mark.parametrize(
    "kernel, stride, padding",
    [
        ((3, 3, 3), 1, 1),
        ((3, 3, 3), (2, 1, 1), (1, 1, 1)),
        ((1, 3, 3), 1, (0, 1, 1)),
        ((5, 1, 1), (1, 2, 2), (2, 0, 0)),
    ],
)
def test_conv3d_equals_torch(kernel, stride, padding):
    g = torch.Generator().manual_seed(sum(kernel))
    x = torch.randn(2, 3, 7, 9, 8, generator=g)
    w, b = torch.randn(4, 3, *kernel, generator=g), torch.randn(4, generator=g)
    want = F.conv3d(x, w, b, stride=stride, padding=padding)
    torch.testing.assert_close(video.conv3d(x, w, b, stride, padding), want, atol=1e-4, rtol=1e-4)


def test_inflated_conv_on_a_static_clip_equals_the_2d_conv_at_every_frame():
    conv = nn.Conv2d(3, 5, 3, padding=1)
    frame = torch.randn(2, 3, 10, 10)
    static = frame[:, :, None].expand(2, 3, 6, 10, 10)
    inflated = video.inflate_conv2d(conv, 3)
    got = inflated(video.pad_time(static, 1))
    assert got.shape == (2, 5, 6, 10, 10)
    for t in range(6):
        torch.testing.assert_close(got[:, :, t], conv(frame), atol=1e-5, rtol=1e-5)
    # zero padding in time would not do: the edge frames see one third less signal
    zero_padded = F.conv3d(static, inflated.weight, inflated.bias, padding=(1, 1, 1))
    assert not torch.allclose(zero_padded[:, :, 0], conv(frame), atol=1e-3)


def test_mid_channels_keep_the_parameter_count_of_torchvision_blocks():
    from torchvision.models.video.resnet import Conv2Plus1D

    mid = video.conv2plus1d_mid_channels(64, 128)
    assert mid == (64 * 128 * 27) // (64 * 9 + 3 * 128)  # torchvision's midplanes
    block = Conv2Plus1D(64, 128, mid)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    full = count(nn.Conv3d(64, 128, 3, bias=False))
    assert full == 221_184 and count(block) == 221_260  # the research note's figures
    # the 2 convs alone (without the BatchNorm between them) stay within the full conv's weights
    assert mid * (64 * 9 + 3 * 128) <= full


def test_flops_counts_a_conv3d():
    conv = nn.Conv3d(3, 8, 3, padding=1, bias=False)
    x = torch.randn(1, 3, 4, 6, 6)
    assert video.flops(conv, x) == 2 * 8 * 4 * 6 * 6 * 3 * 27
