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


def test_pool_over_time_runs_every_frame_and_ignores_order():
    clips = torch.arange(2 * 3, dtype=torch.float32).view(2, 3, 1, 1, 1).expand(2, 3, 1, 2, 2)
    mean_pixel = lambda x: x.mean((1, 2, 3))[:, None]  # noqa: E731
    torch.testing.assert_close(
        video.pool_over_time(mean_pixel, clips, "avg"), torch.tensor([[1.0], [4.0]])
    )
    torch.testing.assert_close(
        video.pool_over_time(mean_pixel, clips, "max"), torch.tensor([[2.0], [5.0]])
    )
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten())
    x = torch.randn(2, 5, 3, 6, 6)
    for mode in ("avg", "max"):
        torch.testing.assert_close(
            video.pool_over_time(cnn, x, mode), video.pool_over_time(cnn, x.flip(1), mode)
        )
    with pytest.raises(ValueError, match="mode"):
        video.pool_over_time(cnn, x, "sum")


def test_conv2plus1d_loads_torchvision_weights_and_gives_its_output():
    from torchvision.models.video.resnet import Conv2Plus1D

    ours = video.conv2plus1d(6, 10)
    theirs = Conv2Plus1D(6, 10, video.conv2plus1d_mid_channels(6, 10))
    theirs.load_state_dict(ours.state_dict())  # same layers, same names, same shapes
    x = torch.randn(2, 6, 5, 7, 7)
    ours.eval(), theirs.eval()
    torch.testing.assert_close(ours(x), theirs(x))
    assert ours(x).shape == (2, 10, 5, 7, 7)


def test_time_to_channel_stacks_the_fast_frames_of_each_slow_step():
    n, c, alpha, t = 2, 3, 4, 2
    fast = torch.randn(n, c, alpha * t, 5, 5)
    got = video.time_to_channel(fast, alpha)
    assert got.shape == (n, alpha * c, t, 5, 5)
    for step in range(t):
        for j in range(alpha):
            torch.testing.assert_close(
                got[:, j * c : (j + 1) * c, step], fast[:, :, step * alpha + j]
            )
    with pytest.raises(ValueError, match="multiple"):
        video.time_to_channel(torch.randn(1, 2, 6, 3, 3), 4)


def test_saved_activation_bytes_grows_with_the_batch_and_skips_weights():
    net = nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv3d(4, 2, 1))
    one = video.saved_activation_bytes(net, torch.randn(1, 3, 4, 6, 6))
    two = video.saved_activation_bytes(net, torch.randn(2, 3, 4, 6, 6))
    assert one > 0 and two == 2 * one
    # the input, the first conv's output (kept by ReLU, shared with the second conv): 4 bytes each
    assert one == 4 * (3 * 4 * 36 + 4 * 4 * 36)
