"""Building blocks of video models: per-frame features pooled over time, 3D convolution
written as 2D convolutions over time, the (2+1)D factorisation (Tran et al., 2018), inflation
of 2D kernels (I3D), SlowFast's time-to-channel lateral connection, and cost counters.

Clips are ``(N, C, T, H, W)`` tensors, the layout of ``nn.Conv3d`` and torchvision's video
models; the shapes world's clips are ``(N, T, C, H, W)`` and need ``.transpose(1, 2)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FrameCNN(nn.Module):
    """Chapters 11 and 12's small 2D network: a 3 × 3 conv with stride 2, a 2 × 2 max-pool,
    two more 3 × 3 convs (each conv followed by BatchNorm and ReLU; ``width``, 2·``width``,
    2·``width`` channels), a global average and a linear head.

    ``features``: frames (B, in_channels, H, W) -> (B, 2·width); ``head``: -> (B, classes).
    With ``in_channels = 3·T`` it is an early-fusion video network.
    """

    def __init__(self, in_channels: int = 3, classes: int = 6, width: int = 16):
        super().__init__()

        def block(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
            conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
            return [conv, nn.BatchNorm2d(c_out), nn.ReLU()]

        w = width
        self.features = nn.Sequential(
            *block(in_channels, w, stride=2), nn.MaxPool2d(2), *block(w, 2 * w),
            *block(2 * w, 2 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Linear(2 * w, classes)

    def forward(self, frames: Tensor) -> Tensor:
        return self.head(self.features(frames))


def pool_over_time(cnn, clips: Tensor, mode: str = "avg") -> Tensor:
    """Late fusion: a 2D network applied to every frame, its features pooled over time.

    Args:
        cnn: maps a batch of frames (Tensor[B, C, H, W]) to features (Tensor[B, D]).
        clips (Tensor[N, T, C, H, W]); mode: ``"avg"`` or ``"max"`` over the T frames.
    Returns:
        Tensor[N, D]. Either pooling ignores frame order: a clip and its time-reversal give
        the same output.
    """
    if mode not in ("avg", "max"):
        raise ValueError(f"mode must be 'avg' or 'max'; got {mode!r}")
    n, t = clips.shape[:2]
    features = cnn(clips.flatten(0, 1)).view(n, t, -1)  # all N·T frames in one batch
    return features.mean(1) if mode == "avg" else features.amax(1)


def _triple(v: int | tuple[int, int, int]) -> tuple[int, int, int]:
    return (v, v, v) if isinstance(v, int) else tuple(v)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
           stride: int | tuple[int, int, int] = 1,
           padding: int | tuple[int, int, int] = 0) -> Tensor:  # fmt: skip
    """A 3D convolution as a sum of 2D convolutions, one per temporal tap: output frame t is
    ``Σ_k conv2d(input frame t·s + k, weight[:, :, k])``. Equals ``F.conv3d``.

    Args:
        input (Tensor[N, C_in, T, H, W]), weight (Tensor[C_out, C_in, kT, kH, kW]),
        bias (Tensor[C_out] or None); stride and padding as (t, h, w) or one int.
    Returns:
        Tensor[N, C_out, T_out, H_out, W_out].
    """
    st, sh, sw = _triple(stride)
    pt, ph, pw = _triple(padding)
    n, c, _, _, _ = input.shape
    kt = weight.shape[2]
    x = F.pad(input, (0, 0, 0, 0, pt, pt))  # zeros in time; H and W are padded by conv2d
    t_out = (x.shape[2] - kt) // st + 1
    out = None
    for k in range(kt):  # the frames tap k sees: k, k + s, k + 2s, ...
        frames = x[:, :, k : k + st * (t_out - 1) + 1 : st]  # (N, C, T_out, H, W)
        flat = frames.transpose(1, 2).reshape(n * t_out, c, *frames.shape[-2:])
        y = F.conv2d(flat, weight[:, :, k], stride=(sh, sw), padding=(ph, pw))
        out = y if out is None else out + y
    out = out.view(n, t_out, *out.shape[1:]).transpose(1, 2)
    return out if bias is None else out + bias[None, :, None, None, None]


def pad_time(clips: Tensor, amount: int) -> Tensor:
    """Repeat the first and last frames ``amount`` times: (N, C, T, H, W) -> T + 2·amount.
    With it, an inflated network sees a static clip exactly as its 2D original sees a frame
    (zero padding in time would darken the edge frames)."""
    first = clips[:, :, :1].expand(-1, -1, amount, -1, -1)
    last = clips[:, :, -1:].expand(-1, -1, amount, -1, -1)
    return torch.cat((first, clips, last), 2)  # F.pad's replicate mode: same, slower backward


def inflate_conv2d(conv: nn.Conv2d, time: int) -> nn.Conv3d:
    """I3D's inflation (Carreira & Zisserman, 2017): a ``time × kH × kW`` kernel made of the 2D
    kernel repeated ``time`` times and divided by ``time``, so that on a clip of identical
    frames (padded with ``pad_time(x, time // 2)``) it gives the 2D output at every frame.
    The 3D layer pads only in space; stride in time is 1."""
    conv3 = nn.Conv3d(conv.in_channels, conv.out_channels, (time, *conv.kernel_size),
                      stride=(1, *conv.stride), padding=(0, *conv.padding),
                      bias=conv.bias is not None)  # fmt: skip
    with torch.no_grad():
        conv3.weight.copy_(conv.weight.unsqueeze(2).repeat(1, 1, time, 1, 1) / time)
        if conv.bias is not None:
            conv3.bias.copy_(conv.bias)
    return conv3.to(conv.weight.device)


def conv2plus1d(in_channels: int, out_channels: int, spatial_stride: int = 1, time: int = 3, size: int = 3) -> nn.Sequential:  # fmt: skip
    """The (2+1)D block: a spatial ``1 × size × size`` conv to M channels (stride
    ``spatial_stride`` in H and W), BatchNorm, ReLU, then a temporal ``time × 1 × 1`` conv to
    ``out_channels``; M from ``conv2plus1d_mid_channels``; zero padding keeps T (and H, W at
    stride 1). The same layers, in the same order, as torchvision's ``Conv2Plus1D`` at stride
    1, whose weights it can load."""
    mid = conv2plus1d_mid_channels(in_channels, out_channels, time, size)
    s, p = spatial_stride, size // 2
    return nn.Sequential(
        nn.Conv3d(
            in_channels, mid, (1, size, size), stride=(1, s, s), padding=(0, p, p), bias=False
        ),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, out_channels, (time, 1, 1), padding=(time // 2, 0, 0), bias=False),
    )


def time_to_channel(fast: Tensor, alpha: int) -> Tensor:
    """SlowFast's time-to-channel lateral connection (Feichtenhofer et al., 2019): the fast
    pathway's ``alpha`` frames that fall in one slow step are stacked into channels.

    Args:
        fast (Tensor[N, C, alpha·T, H, W]).
    Returns:
        Tensor[N, alpha·C, T, H, W]: channel ``j·C + c`` of slow step t is channel c of fast
        frame ``t·alpha + j``.
    """
    n, c, ft, h, w = fast.shape
    if ft % alpha:
        raise ValueError(f"the fast pathway's {ft} frames are not a multiple of alpha={alpha}")
    return (
        fast.view(n, c, ft // alpha, alpha, h, w)
        .permute(0, 3, 1, 2, 4, 5)
        .reshape(n, alpha * c, ft // alpha, h, w)
    )


def conv2plus1d_mid_channels(in_channels: int, out_channels: int, time: int = 3, size: int = 3) -> int:  # fmt: skip
    """Tran et al. (2018)'s width of the (2+1)D block's middle layer: the largest M with a
    spatial ``1 × size²`` conv in→M and a temporal ``time × 1 × 1`` conv M→out having no more
    weights than the full ``time × size²`` conv (torchvision's ``midplanes``)."""
    full = in_channels * out_channels * time * size * size
    return full // (in_channels * size * size + time * out_channels)


def saved_activation_bytes(model: nn.Module, *inputs: Tensor) -> int:
    """Bytes of the tensors a training forward pass keeps for the backward pass (activations,
    not weights): the memory that grows with the batch and the clip length."""
    params = {p.data_ptr() for p in model.parameters()}
    seen: dict[tuple[int, int], int] = {}  # a tensor saved by two operations counts once

    def pack(t: Tensor) -> Tensor:
        if t.data_ptr() not in params:
            seen[(t.data_ptr(), t.numel())] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(*inputs)
    return sum(seen.values())


def flops(model: nn.Module, *inputs: Tensor) -> int:
    """Floating-point operations of one forward pass, counted by ``torch.utils.flop_counter``
    (a multiply-add counts 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops()
