"""Building blocks shared by the detection chapters (R-CNN, Fast/Faster R-CNN, one-stage)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .boxes import _check_boxes, box_iou


def _rois(boxes: Tensor | list[Tensor]) -> Tensor:
    """torchvision's two ways to give boxes (a list per image, or Tensor[K, 5] with the image
    index first) -> Tensor[K, 5]."""
    if isinstance(boxes, (list, tuple)):
        for i, b in enumerate(boxes):
            _check_boxes(b, f"boxes[{i}]")
        index = [
            torch.full((len(b), 1), i, dtype=b.dtype, device=b.device) for i, b in enumerate(boxes)
        ]
        return (
            torch.cat([torch.cat(pair, 1) for pair in zip(index, boxes)])
            if boxes
            else torch.zeros(0, 5)
        )
    if not isinstance(boxes, Tensor) or boxes.dim() != 2 or boxes.shape[1] != 5:
        raise ValueError(
            "boxes must be a list of Tensor[K_i, 4] (one per image) or a Tensor[K, 5] "
            f"(image index, x1, y1, x2, y2); got {getattr(boxes, 'shape', type(boxes))}"
        )
    return boxes


def warp_regions(
    images: Tensor, boxes: Tensor | list[Tensor], output_size: int | tuple[int, int]
) -> Tensor:
    """Cut every box out of its image and resize it to a fixed size (R-CNN's "warp").

    The box is stretched to the output size whatever its aspect ratio, with bilinear
    sampling at the output pixels' centres.

    Args:
        images (Tensor[N, C, H, W]).
        boxes: a list of N Tensor[K_i, 4], or one Tensor[K, 5] with the image index first
            (as ``torchvision.ops.roi_align``); (x1, y1, x2, y2) in pixel-edge coordinates.
        output_size: (height, width) or one int.
    Returns:
        Tensor[K, C, h, w].
    """
    rois = _rois(boxes).to(images)
    h, w = (output_size, output_size) if isinstance(output_size, int) else output_size
    height, width = images.shape[-2:]
    x1, y1, x2, y2 = rois[:, 1:].unbind(1)
    zero = torch.zeros_like(x1)
    # affine_grid maps the output's [-1, 1] square onto the box, in the input's [-1, 1] units.
    theta = torch.stack(
        (
            torch.stack(((x2 - x1) / width, zero, (x1 + x2) / width - 1), 1),
            torch.stack((zero, (y2 - y1) / height, (y1 + y2) / height - 1), 1),
        ),
        1,
    )
    grid = F.affine_grid(theta, [len(rois), images.shape[1], h, w], align_corners=False)
    return F.grid_sample(images[rois[:, 0].long()], grid, mode="bilinear", padding_mode="border",
                         align_corners=False)  # fmt: skip


def label_proposals(proposals: Tensor, gt_boxes: Tensor, gt_labels: Tensor, fg_iou_threshold: float = 0.5,
                    bg_iou_threshold: float | None = None) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """Give each proposal the class of the ground-truth box it overlaps most, or background.

    Args:
        proposals (Tensor[P, 4]), gt_boxes (Tensor[G, 4]) in (x1, y1, x2, y2); gt_labels
            (Tensor[G]) with classes >= 1.
        fg_iou_threshold: best IoU at or above it -> the object's class.
        bg_iou_threshold: best IoU below it -> background (0). Between the two the label is -1
            ("ignore"). By default it equals ``fg_iou_threshold``: nothing is ignored.
    Returns:
        labels (Tensor[P] int64), matched_boxes (Tensor[P, 4]: the best-overlapping ground
        truth, for box-regression targets; the proposal itself when there is none),
        best_iou (Tensor[P]).
    """
    _check_boxes(proposals, "proposals")
    _check_boxes(gt_boxes, "gt_boxes")
    bg_iou_threshold = fg_iou_threshold if bg_iou_threshold is None else bg_iou_threshold
    if bg_iou_threshold > fg_iou_threshold:
        raise ValueError("bg_iou_threshold must not exceed fg_iou_threshold")
    if len(gt_boxes) == 0:
        labels = torch.zeros(len(proposals), dtype=torch.long, device=proposals.device)
        return labels, proposals.clone(), torch.zeros(len(proposals), device=proposals.device)
    best_iou, best = box_iou(proposals, gt_boxes).max(1)
    labels = gt_labels[best].clone()
    labels[best_iou < fg_iou_threshold] = -1
    labels[best_iou < bg_iou_threshold] = 0
    return labels, gt_boxes[best], best_iou


def window_boxes(height: int, width: int, window: int, stride: int) -> Tensor:
    """All ``window x window`` windows at multiples of ``stride`` inside a ``height x width``
    image: Tensor[N, 4] (x1, y1, x2, y2), row-major (the top row first, left to right)."""
    if window > min(height, width) or window < 1 or stride < 1:
        raise ValueError(
            f"need 1 <= window <= min(height, width) and stride >= 1; got window={window}, "
            f"stride={stride} for a {height}x{width} image"
        )
    ys = torch.arange(0, height - window + 1, stride, dtype=torch.float)
    xs = torch.arange(0, width - window + 1, stride, dtype=torch.float)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((x, y, x + window, y + window), dim=-1).reshape(-1, 4)


def fc_to_conv(linear: torch.nn.Linear, in_channels: int, kernel_size: int) -> torch.nn.Conv2d:
    """The ``kernel_size x kernel_size`` convolution that computes ``linear`` on every window of
    a ``(N, in_channels, H, W)`` map (Overfeat's convolutionalization); weights are copied.

    ``linear`` must read a flattened ``(in_channels, kernel_size, kernel_size)`` input.
    """
    expected = in_channels * kernel_size * kernel_size
    if linear.in_features != expected:
        raise ValueError(
            f"linear reads {linear.in_features} inputs, not in_channels * kernel_size**2 = "
            f"{expected}"
        )
    conv = torch.nn.Conv2d(in_channels, linear.out_features, kernel_size).to(linear.weight)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.view(conv.weight.shape))
        conv.bias.copy_(linear.bias)
    return conv
