"""Box operations, mirroring ``torchvision.ops`` names and signatures.

Conventions (the same as torchvision):

* ``xyxy``: (x1, y1, x2, y2), top-left and bottom-right corners;
* ``xywh``: (x1, y1, w, h), top-left corner, width, height;
* ``cxcywh``: (cx, cy, w, h), centre, width, height.

Coordinates are continuous pixel coordinates: pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``,
so the shapes world's boxes enclose whole pixels and a one-pixel object has area 1.

Every function takes ``Tensor[N, 4]`` and works on an empty ``N = 0`` batch. Bad input
(wrong shape, unknown format, NaN or infinite values) raises ``ValueError`` naming what was
expected.
"""

from __future__ import annotations

import torch
from torch import Tensor

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def _check_boxes(boxes: Tensor, name: str = "boxes") -> None:
    if not isinstance(boxes, Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor of shape (N, 4); got {type(boxes).__name__}"
        )
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (N, 4); got {tuple(boxes.shape)}")
    if boxes.is_floating_point() and not torch.isfinite(boxes).all():
        raise ValueError(f"{name} contains NaN or infinite coordinates")


def _check_format(fmt: str, name: str) -> None:
    if fmt not in BOX_FORMATS:
        raise ValueError(f"{name} must be one of {BOX_FORMATS}; got {fmt!r}")


def box_convert(boxes: Tensor, in_fmt: str, out_fmt: str) -> Tensor:
    """Convert boxes (Tensor[N, 4]) from ``in_fmt`` to ``out_fmt`` (one of ``BOX_FORMATS``)."""
    _check_format(in_fmt, "in_fmt")
    _check_format(out_fmt, "out_fmt")
    _check_boxes(boxes)
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = boxes.unbind(-1)
    # Go through xyxy: two small conversions instead of six.
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return torch.stack((a, b, c, d), dim=-1)


def box_area(boxes: Tensor) -> Tensor:
    """Area of boxes (Tensor[N, 4]) in (x1, y1, x2, y2) format; returns Tensor[N].

    Like torchvision, a box with x2 < x1 gets a negative area: check ``x2 >= x1`` upstream.
    """
    _check_boxes(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _inter_union(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    area1, area2 = box_area(boxes1), box_area(boxes2)
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - inter
    return inter, union


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Pairwise intersection-over-union.

    Args:
        boxes1 (Tensor[N, 4]), boxes2 (Tensor[M, 4]) in (x1, y1, x2, y2) format.
    Returns:
        Tensor[N, M]: IoU of every pair. As in torchvision, two empty boxes give NaN (0/0).
    """
    _check_boxes(boxes1, "boxes1")
    _check_boxes(boxes2, "boxes2")
    inter, union = _inter_union(boxes1, boxes2)
    return inter / union


def elementwise_box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """IoU of matching rows: boxes1[i] with boxes2[i] (both Tensor[N, 4], xyxy) -> Tensor[N].

    The diagonal of ``box_iou`` without building the N x M matrix: what a localisation
    network needs to score its one predicted box against its one ground-truth box.
    """
    _check_boxes(boxes1, "boxes1")
    _check_boxes(boxes2, "boxes2")
    if boxes1.shape != boxes2.shape:
        raise ValueError(
            f"boxes1 and boxes2 must have the same shape; got {tuple(boxes1.shape)} "
            f"and {tuple(boxes2.shape)}"
        )
    top_left = torch.max(boxes1[:, :2], boxes2[:, :2])
    bottom_right = torch.min(boxes1[:, 2:], boxes2[:, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    return inter / (box_area(boxes1) + box_area(boxes2) - inter)


def clip_boxes_to_image(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Clip boxes (Tensor[N, 4], xyxy) to an image of ``size = (height, width)``."""
    _check_boxes(boxes)
    height, width = size
    x = boxes[:, 0::2].clamp(0, width)
    y = boxes[:, 1::2].clamp(0, height)
    return torch.stack((x[:, 0], y[:, 0], x[:, 1], y[:, 1]), dim=-1)
