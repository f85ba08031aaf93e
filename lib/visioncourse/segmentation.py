"""Segmentation helpers shared by the segmentation chapters (06 semantic, 07 instance)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def dice_loss(logits: Tensor, target: Tensor, eps: float = 1.0) -> Tensor:
    """Soft Dice loss, averaged over classes: the common variant with plain sums in the
    denominator (Milletari et al., 2016, square them: ``sum(p²) + sum(y²)``).

    Args:
        logits (Tensor[N, C, H, W]): class scores.
        target (Tensor[N, H, W]) long: class indices 0..C-1.
        eps: added to numerator and denominator, so a class absent from the batch and
            not predicted scores 1 instead of 0 / 0.
    Returns:
        scalar Tensor: ``1 - mean_c (2 sum(p_c y_c) + eps) / (sum(p_c) + sum(y_c) + eps)``,
        sums over batch and pixels, ``p = softmax(logits)``, ``y`` the one-hot target.
    """
    if logits.dim() != 4 or target.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"need logits (N, C, H, W) and target (N, H, W); got {tuple(logits.shape)} and {tuple(target.shape)}")  # fmt: skip
    probs = logits.softmax(1)
    onehot = F.one_hot(target.long(), logits.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    dims = (0, 2, 3)
    dice = (2 * (probs * onehot).sum(dims) + eps) / (probs.sum(dims) + onehot.sum(dims) + eps)
    return 1 - dice.mean()


def unet_decoder_stage(x: Tensor, skip: Tensor, up, block) -> Tensor:
    """One U-Net decoder stage: ``block(cat(up(x), centre_crop(skip)))``.

    Args:
        x (Tensor[N, C, h, w]): the coarser decoder features.
        skip (Tensor[N, C_s, H, W]): encoder features at the finer resolution, at least as
            large as ``up(x)``; their centre is kept (rows from ``(H - h') // 2``), as the
            original U-Net crops its unpadded encoder maps.
        up, block: modules; ``up`` doubles the resolution, ``block`` takes ``C' + C_s``
            channels, upsampled features first.
    """
    x = up(x)
    h, w = x.shape[-2:]
    if skip.shape[-2] < h or skip.shape[-1] < w:
        raise ValueError(
            f"skip {tuple(skip.shape[-2:])} is smaller than the upsampled map {(h, w)}"
        )
    top, left = (skip.shape[-2] - h) // 2, (skip.shape[-1] - w) // 2
    return block(torch.cat((x, skip[..., top : top + h, left : left + w]), dim=1))


# --- instance segmentation (chapter 07) -------------------------------------------------------


def connected_components(masks: Tensor) -> Tensor:
    """Label the 4-connected regions of binary masks, as ``scipy.ndimage.label`` does.

    Every foreground pixel starts with its own id; each round, a pixel takes the largest id
    among itself and its foreground neighbours above, below, left and right, until nothing
    changes (as many rounds as the longest path inside a region). Ids are chosen so that the
    surviving id of a region marks its first pixel in raster order, which gives scipy's
    numbering.

    Args:
        masks (Tensor[N, H, W] or Tensor[H, W]) bool: foreground pixels.
    Returns:
        Tensor of the same shape, int64: 0 for the background, 1..k for the k regions of each
        image, numbered by their first pixel in raster order.
    """
    single = masks.dim() == 2
    fg = (masks[None] if single else masks).bool()
    if fg.dim() != 3:
        raise ValueError(f"masks must be (H, W) or (N, H, W); got {tuple(masks.shape)}")
    n, h, w = fg.shape
    raster = torch.arange(h * w, device=fg.device).view(1, h, w)
    ids = torch.where(fg, h * w - raster, torch.zeros_like(raster))  # larger id = earlier pixel
    while True:
        padded = F.pad(ids, (1, 1, 1, 1))
        neighbours = torch.stack(
            (padded[:, :-2, 1:-1], padded[:, 2:, 1:-1], padded[:, 1:-1, :-2], padded[:, 1:-1, 2:])
        ).amax(0)
        new = torch.where(fg, torch.maximum(ids, neighbours), ids)
        if torch.equal(new, ids):
            break
        ids = new
    # Number the regions 1..k per image, earliest first pixel first.
    key = torch.arange(n, device=fg.device).view(n, 1, 1) * (h * w + 1) + (h * w + 1 - ids)
    keys, rank = torch.unique(key[fg], return_inverse=True)  # rank: over all images at once
    image_of_key = keys // (h * w + 1)
    regions_before = torch.cumsum(torch.bincount(image_of_key, minlength=n), 0)
    start = torch.cat((regions_before.new_zeros(1), regions_before[:-1]))  # first rank per image
    labels = torch.zeros_like(ids)
    labels[fg] = rank - start[image_of_key[rank]] + 1
    return labels[0] if single else labels


def paste_masks(masks: Tensor, boxes: Tensor, image_size: tuple[int, int]) -> Tensor:
    """Paste ``M x M`` mask predictions into the image at their boxes, as Mask R-CNN does at
    test time: bilinear resampling, fading to 0 beyond the mask's outer cell centres.

    Image pixel ``(x, y)`` (centre at ``x + 0.5``) reads the mask at
    ``u = (x + 0.5 - x1) / (x2 - x1) * M - 0.5`` (and likewise ``v``): mask cell centres are
    spread evenly over the box, as ``roi_align(aligned=True)`` reads them.

    Args:
        masks (Tensor[N, M, M]): mask probabilities (or logits) in box coordinates.
        boxes (Tensor[N, 4]): in (x1, y1, x2, y2) image pixels.
        image_size: (H, W).
    Returns:
        Tensor[N, H, W] float.
    """
    if masks.dim() != 3 or boxes.shape != (masks.shape[0], 4):
        raise ValueError(f"need masks (N, M, M) and boxes (N, 4); got {tuple(masks.shape)} and {tuple(boxes.shape)}")  # fmt: skip
    h, w = image_size
    boxes = boxes.to(masks.dtype)
    x1, y1, x2, y2 = (boxes[:, i, None] for i in range(4))
    xs = torch.arange(w, device=masks.device, dtype=masks.dtype) + 0.5
    ys = torch.arange(h, device=masks.device, dtype=masks.dtype) + 0.5
    # grid_sample's normalised coordinates (align_corners=False): -1 and 1 are the outer edges
    # of the mask's first and last cells, here the box's edges.
    gx = 2 * (xs - x1) / (x2 - x1).clamp(min=1e-6) - 1  # (N, W)
    gy = 2 * (ys - y1) / (y2 - y1).clamp(min=1e-6) - 1  # (N, H)
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)
    return F.grid_sample(masks[:, None], grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)[:, 0]  # fmt: skip
