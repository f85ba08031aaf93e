"""Many low-resolution frames: aggregation over frames, pixel shuffle, PSNR and SSIM, and the
gated fusion of deblurring and super-resolution features (chapter 14's references).

Images are ``(N, C, H, W)`` tensors with values in ``[0, data_range]``; sequences of
per-frame features are ``(B, T, K)``, of per-frame class probabilities ``(B, T, L, C)``
(L character positions, C classes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

AGGREGATIONS = ("avg", "max")


# ----------------------------------------------------------------------------- many frames


def _check_mask(mask: Tensor | None, batch: int, frames: int, device) -> Tensor:
    if mask is None:
        return torch.ones(batch, frames, dtype=torch.bool, device=device)
    if mask.shape != (batch, frames) or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a (B, T) = ({batch}, {frames}) bool tensor; got {tuple(mask.shape)} {mask.dtype}")  # fmt: skip
    if not mask.any(1).all():
        raise ValueError(
            "every sequence needs at least one valid frame (a row of mask is all False)"
        )
    return mask


def aggregate_frames(features: Tensor, how: str = "avg", mask: Tensor | None = None) -> Tensor:
    """The aggregation layer φ of a multi-frame network: ``(B, T, K)`` per-frame features
    -> ``(B, K)``, the mean (``"avg"``) or the element-wise maximum (``"max"``) over the
    frames of each sequence whose ``mask (B, T)`` is True (all frames when None).
    """
    if how not in AGGREGATIONS:
        raise ValueError(f"how must be one of {AGGREGATIONS}; got {how!r}")
    if features.dim() != 3:
        raise ValueError(f"features must be (B, T, K); got {tuple(features.shape)}")
    b, t, _ = features.shape
    valid = _check_mask(mask, b, t, features.device)[:, :, None]
    if how == "avg":
        return (features * valid).sum(1) / valid.sum(1)
    return features.masked_fill(~valid, float("-inf")).amax(1)


def average_predictions(probs: Tensor, mask: Tensor | None = None) -> Tensor:
    """Baseline: the mean of the per-frame class probabilities, ``(B, T, L, C)`` ->
    ``(B, L, C)``, over the frames whose ``mask (B, T)`` is True."""
    if probs.dim() != 4:
        raise ValueError(f"probs must be (B, T, L, C); got {tuple(probs.shape)}")
    b, t = probs.shape[:2]
    valid = _check_mask(mask, b, t, probs.device)[:, :, None, None]
    return (probs * valid).sum(1) / valid.sum(1)


def majority_vote(probs: Tensor, mask: Tensor | None = None) -> Tensor:
    """Baseline: every frame votes for its most likely class at each position; the class
    with most votes wins, ties going to the one with the larger summed probability.
    ``(B, T, L, C)`` -> ``(B, L)`` long."""
    if probs.dim() != 4:
        raise ValueError(f"probs must be (B, T, L, C); got {tuple(probs.shape)}")
    b, t, _, c = probs.shape
    valid = _check_mask(mask, b, t, probs.device)[:, :, None, None]
    votes = (F.one_hot(probs.argmax(-1), c) * valid).sum(1).double()
    tie_break = (probs * valid).sum(1).double() / (t + 1)  # < 1: never outweighs one vote
    return (votes + tie_break).argmax(-1)


# ----------------------------------------------------------------------------- pixel shuffle


def pixel_shuffle(x: Tensor, r: int) -> Tensor:
    """Sub-pixel rearrangement (Shi et al., 2016): ``(N, C·r², H, W)`` -> ``(N, C, H·r, W·r)``;
    output pixel ``(c, h·r + i, w·r + j)`` is input channel ``c·r² + i·r + j`` at ``(h, w)``.
    Equals ``nn.PixelShuffle(r)``."""
    if x.dim() != 4:
        raise ValueError(f"x must be (N, C·r², H, W); got {tuple(x.shape)}")
    n, c, h, w = x.shape
    if r < 1 or c % (r * r):
        raise ValueError(f"channels ({c}) must be divisible by r² = {r * r}")
    return x.view(n, c // (r * r), r, r, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c // (r * r), h * r, w * r)  # fmt: skip


def pixel_unshuffle(x: Tensor, r: int) -> Tensor:
    """The inverse of ``pixel_shuffle``: ``(N, C, H·r, W·r)`` -> ``(N, C·r², H, W)``.
    Equals ``nn.PixelUnshuffle(r)``."""
    if x.dim() != 4:
        raise ValueError(f"x must be (N, C, H·r, W·r); got {tuple(x.shape)}")
    n, c, hr, wr = x.shape
    if r < 1 or hr % r or wr % r:
        raise ValueError(f"height and width ({hr}, {wr}) must be divisible by r = {r}")
    return x.view(n, c, hr // r, r, wr // r, r).permute(0, 1, 3, 5, 2, 4).reshape(n, c * r * r, hr // r, wr // r)  # fmt: skip


def bicubic(x: Tensor, scale: int) -> Tensor:
    """Bicubic upsampling by ``scale`` (``F.interpolate``, ``align_corners=False``), clipped
    to [0, 1]: the baseline every super-resolution network must beat."""
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)


# ----------------------------------------------------------------------------- image quality


def _check_pair(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape; got {tuple(pred.shape)} and {tuple(target.shape)}")  # fmt: skip


def psnr(pred: Tensor, target: Tensor, data_range: float = 1.0, per_image: bool = False) -> Tensor:
    """Peak signal-to-noise ratio in dB, ``10·log10(data_range² / MSE)``.

    Args:
        pred, target (Tensor[N, ...]): the same shape.
        per_image: False: one MSE over every element (``torchmetrics``'
            ``PeakSignalNoiseRatio(data_range=...)``, scikit-image on one image); True: a
            PSNR per image, ``(N,)``.
    """
    _check_pair(pred, target)
    err = (pred.double() - target.double()) ** 2
    mse = err.flatten(1).mean(1) if per_image else err.mean()
    return 10 * torch.log10(data_range**2 / mse)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    """A normalised 1-d Gaussian of ``size`` taps (odd), float64."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be odd and positive; got {size}")
    x = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(pred: Tensor, target: Tensor, data_range: float = 1.0, size: int = 11, sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03) -> Tensor:  # fmt: skip
    """Structural similarity (Wang et al., 2004) per image, ``(N, C, H, W)`` -> ``(N,)``.

    Local means, variances and the covariance are Gaussian-weighted (``size`` taps, ``sigma``)
    and taken only where the window fits inside the image ("valid"); the SSIM map is averaged
    over those positions and the channels. This is scikit-image's
    ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=...)``; torchmetrics pads the image by reflection and averages the full map
    instead, so its values differ slightly.
    """
    _check_pair(pred, target)
    if pred.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W); got {tuple(pred.shape)}")
    n, c, h, w = pred.shape
    if h < size or w < size:
        raise ValueError(f"images ({h}×{w}) must be at least as large as the window ({size})")
    g = gaussian_window(size, sigma).to(pred.device)
    kernel = (g[:, None] * g[None, :]).expand(c, 1, size, size)

    def blur(x):
        return F.conv2d(x, kernel, groups=c)

    x, y = pred.double(), target.double()
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return smap.mean((1, 2, 3))


# ----------------------------------------------------------------------------- gated fusion


def gated_fusion(sr_features: Tensor, deblur_features: Tensor, gate: Tensor) -> Tensor:
    """The fusion of the gated fusion network (Zhang et al., 2018): the super-resolution
    features plus the deblurring features weighted, pixel by pixel and channel by channel, by
    the gate's output (no sigmoid: any real weight). All ``(N, C, H, W)``; ``gate`` may have
    one channel, then it weights every channel alike."""
    if sr_features.shape != deblur_features.shape:
        raise ValueError(f"features must have the same shape; got {tuple(sr_features.shape)} and {tuple(deblur_features.shape)}")  # fmt: skip
    n, c, h, w = sr_features.shape
    if (
        gate.dim() != 4
        or gate.shape[0] != n
        or gate.shape[2:] != (h, w)
        or gate.shape[1] not in (1, c)
    ):
        raise ValueError(f"gate must be (N, 1 or C, H, W) = ({n}, 1 or {c}, {h}, {w}); got {tuple(gate.shape)}")  # fmt: skip
    return sr_features + gate * deblur_features


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
