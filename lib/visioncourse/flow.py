"""Optical flow: classical estimators, the endpoint error, FlowNet's multiscale loss and the
Middlebury colour wheel.

A flow field is a ``(N, 2, H, W)`` tensor of (dx, dy) in pixels, from frame 1 to frame 2:
the point at pixel p of frame 1 is at ``p + flow[:, :, p]`` in frame 2 — torchvision's
convention (``raft_small`` outputs it, ``flow_to_image`` draws it). scikit-image returns
(rows, cols) = (dy, dx) instead; ``visioncourse.data.motion`` gives the exact flow.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def to_gray(frames: Tensor) -> Tensor:
    """(N, 3, H, W) colour frames -> (N, H, W) grey levels (the mean of the channels)."""
    return frames.mean(1)


def image_gradients(frame1: Tensor, frame2: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The three derivatives of brightness constancy ``Ix·u + Iy·v + It = 0``.

    Args:
        frame1, frame2 (Tensor[N, H, W]): grey levels.
    Returns:
        Ix, Iy (Tensor[N, H, W]): central differences in x and y of the mean of the two frames
        (edge pixels repeated); It: ``frame2 - frame1``.
    """
    mean = ((frame1 + frame2) / 2)[:, None]
    padded = F.pad(mean, (1, 1, 1, 1), mode="replicate")[:, 0]
    ix = (padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]) / 2
    iy = (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]) / 2
    return ix, iy, frame2 - frame1


def _window_sum(x: Tensor, window: int) -> Tensor:
    """Sum of (N, H, W) over a window × window neighbourhood, zero outside the image."""
    return (
        F.avg_pool2d(x[:, None], window, 1, window // 2, count_include_pad=True)[:, 0] * window**2
    )


def lucas_kanade(frame1: Tensor, frame2: Tensor, window: int = 15, eps: float = 1e-6) -> Tensor:
    """Lucas–Kanade (1981), one scale, one step: at every pixel, the (u, v) that minimises
    ``Σ_window (Ix·u + Iy·v + It)²`` — a 2 × 2 linear system per pixel, solved in closed form.

    Args:
        frame1, frame2 (Tensor[N, H, W]); window: odd side of the square window; eps: added
        to the determinant, so flat windows give a small flow instead of a division by zero.
    Returns:
        Tensor[N, 2, H, W]: (u, v) = (dx, dy).
    """
    ix, iy, it = image_gradients(frame1, frame2)
    a, b, c = (
        _window_sum(ix * ix, window),
        _window_sum(ix * iy, window),
        _window_sum(iy * iy, window),
    )
    p, q = _window_sum(ix * it, window), _window_sum(iy * it, window)
    det = a * c - b * b + eps  # [[a, b], [b, c]] (u, v) = -(p, q)
    return torch.stack(((-c * p + b * q) / det, (b * p - a * q) / det), 1)


HS_KERNEL = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0.0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]])
"""Horn & Schunck (1981)'s local average: 1/6 for the four neighbours, 1/12 for the diagonals."""


def local_average(x: Tensor) -> Tensor:
    """(N, H, W) -> Horn–Schunck's weighted average of the 8 neighbours (edges repeated)."""
    padded = F.pad(x[:, None], (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, HS_KERNEL.to(x)[None, None])[:, 0]


def horn_schunck(
    frame1: Tensor, frame2: Tensor, alpha: float = 0.1, iterations: int = 100
) -> Tensor:
    """Horn–Schunck (1981): brightness constancy plus ``alpha²`` times the flow's smoothness,
    minimised by the Jacobi iteration

        u ← ū − Ix (Ix ū + Iy v̄ + It) / (alpha² + Ix² + Iy²), and the same for v with Iy,

    where ū, v̄ are ``local_average`` of the previous u, v; it starts from zero flow.

    Returns:
        Tensor[N, 2, H, W].
    """
    ix, iy, it = image_gradients(frame1, frame2)
    u, v = torch.zeros_like(ix), torch.zeros_like(ix)
    denominator = alpha**2 + ix**2 + iy**2
    for _ in range(iterations):
        u_bar, v_bar = local_average(u), local_average(v)
        residual = (ix * u_bar + iy * v_bar + it) / denominator
        u, v = u_bar - ix * residual, v_bar - iy * residual
    return torch.stack((u, v), 1)


def endpoint_error(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean endpoint error: the Euclidean distance between predicted and true flow vectors,
    averaged over the pixels (those where ``mask`` is True, when given).

    Args:
        pred, target (Tensor[N, 2, H, W]); mask (Tensor[N, H, W] bool) or None.
    Returns:
        a scalar tensor. Equals ``kornia.metrics.aepe`` on channel-last flows.
    """
    error = (pred - target).norm(dim=1)
    return error.mean() if mask is None else error[mask].mean()


def multiscale_epe(preds: list[Tensor], target: Tensor, weights: list[float]) -> Tensor:
    """FlowNet's training loss (Dosovitskiy et al., 2015; the weights of the public PyTorch
    port are 0.005, 0.01, 0.02, 0.08, 0.32 from the finest prediction to the coarsest).

    Each prediction ``(N, 2, h, w)`` is compared with the target averaged down to its size
    (``F.adaptive_avg_pool2d``; flow values stay in full-resolution pixels); its endpoint
    errors are **summed** over the h·w pixels and averaged over the batch, then weighted.
    """
    loss = target.new_zeros(())
    for pred, weight in zip(preds, weights, strict=True):
        small = F.adaptive_avg_pool2d(target, pred.shape[-2:])
        loss = loss + weight * (pred - small).norm(dim=1).sum((1, 2)).mean()
    return loss


def make_colorwheel() -> Tensor:
    """The Middlebury colour wheel of Baker et al. (2007): 55 colours, (55, 3) in 0..255,
    going red, yellow, green, cyan, blue, magenta and back (as torchvision's)."""
    # (colours, the channel held at 255, the channel that ramps, rising or falling)
    segments = [(15, 0, 1, True), (6, 1, 0, False), (4, 1, 2, True),
                (11, 2, 1, False), (13, 2, 0, True), (6, 0, 2, False)]  # fmt: skip
    blocks = []
    for count, held, ramped, rising in segments:
        block = torch.zeros(count, 3)
        block[:, held] = 255
        ramp = torch.floor(255 * torch.arange(count) / count)
        block[:, ramped] = ramp if rising else 255 - ramp
        blocks.append(block)
    return torch.cat(blocks)


def flow_to_image(flow: Tensor) -> Tensor:
    """Colour-code flow: hue from the direction on the Middlebury wheel, saturation from the
    length divided by the **batch's** largest length (pale = slow). Equals
    ``torchvision.utils.flow_to_image``.

    Args:
        flow (Tensor[2, H, W] or Tensor[N, 2, H, W]) float.
    Returns:
        uint8 Tensor of the same layout with 3 channels.
    """
    single = flow.ndim == 3
    flow = flow[None] if single else flow
    eps = torch.finfo(flow.dtype).eps
    flow = flow / (flow.square().sum(1).sqrt().max() + eps)
    u, v = flow[:, 0], flow[:, 1]
    wheel = make_colorwheel().to(flow)
    radius = (u.square() + v.square()).sqrt()
    angle = torch.atan2(-v, -u) / np.pi  # -1..1
    position = (angle + 1) / 2 * (len(wheel) - 1)
    k0 = position.floor().long()
    k1 = (k0 + 1) % len(wheel)
    frac = (position - k0)[:, None]
    col0, col1 = wheel[k0].permute(0, 3, 1, 2) / 255, wheel[k1].permute(0, 3, 1, 2) / 255
    col = (1 - frac) * col0 + frac * col1
    col = 1 - radius[:, None] * (1 - col)  # short vectors fade to white
    image = torch.floor(255 * col).to(torch.uint8)
    return image[0] if single else image
