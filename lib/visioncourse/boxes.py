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

import math

import numpy as np
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


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression, as ``torchvision.ops.nms``.

    Take the best-scoring box, drop every remaining box whose IoU with it is greater than
    ``iou_threshold``, repeat with the best of what is left.

    Args:
        boxes (Tensor[N, 4]) in (x1, y1, x2, y2); scores (Tensor[N]).
    Returns:
        Tensor[K] int64: indices of the kept boxes, by decreasing score (ties keep input order).
    """
    _check_boxes(boxes)
    if scores.shape != boxes.shape[:1]:
        raise ValueError(f"scores must have shape ({len(boxes)},); got {tuple(scores.shape)}")
    order = torch.sort(scores, descending=True, stable=True).indices
    # One suppression matrix up front (NaN, from two empty boxes, never suppresses); the
    # sequential part is then a cheap loop over numpy booleans.
    suppress = (box_iou(boxes[order], boxes[order]) > iou_threshold).cpu().numpy()
    remaining = np.ones(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if remaining[i]:
            keep.append(i)
            remaining &= ~suppress[i]
    return order[torch.tensor(keep, dtype=torch.long, device=boxes.device)]


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """NMS within each category, as ``torchvision.ops.batched_nms``.

    Boxes of different ``idxs`` never suppress each other: each category is shifted by its
    own offset, larger than every coordinate, so boxes of different categories cannot overlap;
    one ``nms`` call then does all categories at once.

    Args:
        boxes (Tensor[N, 4]) in (x1, y1, x2, y2); scores (Tensor[N]); idxs (Tensor[N]) int.
    Returns:
        Tensor[K] int64: indices of the kept boxes, by decreasing score.
    """
    _check_boxes(boxes)
    if idxs.shape != boxes.shape[:1]:
        raise ValueError(f"idxs must have shape ({len(boxes)},); got {tuple(idxs.shape)}")
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def encode_boxes(reference_boxes: Tensor, proposals: Tensor,
                 weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)) -> Tensor:  # fmt: skip
    """Regression targets that move each proposal onto its reference box (R-CNN's coding).

    With centres (x, y) and sizes (w, h) of proposal P and reference G:
    ``dx = wx (Gx - Px) / Pw``, ``dy = wy (Gy - Py) / Ph``, ``dw = ww log(Gw / Pw)``,
    ``dh = wh log(Gh / Ph)``. Shifts are relative to the proposal's size and scales are
    logarithmic, so the targets mean the same for a small and a large box.

    Args:
        reference_boxes (Tensor[N, 4]), proposals (Tensor[N, 4]) in (x1, y1, x2, y2).
        weights: (wx, wy, ww, wh), as torchvision's ``BoxCoder`` (Faster R-CNN's box head
            uses (10, 10, 5, 5) so that the targets have roughly unit variance).
    Returns:
        Tensor[N, 4]: (dx, dy, dw, dh).
    """
    _check_boxes(reference_boxes, "reference_boxes")
    _check_boxes(proposals, "proposals")
    wx, wy, ww, wh = weights
    pw, ph = proposals[:, 2] - proposals[:, 0], proposals[:, 3] - proposals[:, 1]
    px, py = proposals[:, 0] + 0.5 * pw, proposals[:, 1] + 0.5 * ph
    gw = reference_boxes[:, 2] - reference_boxes[:, 0]
    gh = reference_boxes[:, 3] - reference_boxes[:, 1]
    gx, gy = reference_boxes[:, 0] + 0.5 * gw, reference_boxes[:, 1] + 0.5 * gh
    return torch.stack(
        (
            wx * (gx - px) / pw,
            wy * (gy - py) / ph,
            ww * torch.log(gw / pw),
            wh * torch.log(gh / ph),
        ),
        dim=1,
    )


BBOX_XFORM_CLIP = math.log(1000.0 / 16)  # torchvision's cap on dw, dh before exp()


def decode_boxes(rel_codes: Tensor, boxes: Tensor,
                 weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0),
                 bbox_xform_clip: float = BBOX_XFORM_CLIP) -> Tensor:  # fmt: skip
    """Apply regression outputs to boxes: the inverse of ``encode_boxes``.

    Args:
        rel_codes (Tensor[N, 4 * C]): (dx, dy, dw, dh), possibly one set per class.
        boxes (Tensor[N, 4]) in (x1, y1, x2, y2): the boxes the codes are relative to.
    Returns:
        Tensor[N, 4 * C] in (x1, y1, x2, y2), like ``BoxCoder.decode_single``.
    """
    _check_boxes(boxes)
    if rel_codes.dim() != 2 or rel_codes.shape[1] % 4 or len(rel_codes) != len(boxes):
        raise ValueError(
            f"rel_codes must have shape ({len(boxes)}, 4 * C); got {tuple(rel_codes.shape)}"
        )
    boxes = boxes.to(rel_codes.dtype)
    wx, wy, ww, wh = weights
    widths, heights = boxes[:, 2:3] - boxes[:, 0:1], boxes[:, 3:4] - boxes[:, 1:2]
    ctr_x, ctr_y = boxes[:, 0:1] + 0.5 * widths, boxes[:, 1:2] + 0.5 * heights
    # Clip dw, dh so that an untrained network cannot send exp() to infinity.
    dw = (rel_codes[:, 2::4] / ww).clamp(max=bbox_xform_clip)
    dh = (rel_codes[:, 3::4] / wh).clamp(max=bbox_xform_clip)
    cx = rel_codes[:, 0::4] / wx * widths + ctr_x
    cy = rel_codes[:, 1::4] / wy * heights + ctr_y
    half_w, half_h = 0.5 * torch.exp(dw) * widths, 0.5 * torch.exp(dh) * heights
    return torch.stack((cx - half_w, cy - half_h, cx + half_w, cy + half_h), dim=2).flatten(1)


class BoxCoder:
    """torchvision's ``BoxCoder`` interface over ``encode_boxes`` / ``decode_boxes``."""

    def __init__(self, weights: tuple[float, float, float, float],
                 bbox_xform_clip: float = BBOX_XFORM_CLIP) -> None:  # fmt: skip
        self.weights = tuple(float(w) for w in weights)
        self.bbox_xform_clip = bbox_xform_clip

    def encode_single(self, reference_boxes: Tensor, proposals: Tensor) -> Tensor:
        return encode_boxes(reference_boxes, proposals, self.weights)

    def decode_single(self, rel_codes: Tensor, boxes: Tensor) -> Tensor:
        return decode_boxes(rel_codes, boxes, self.weights, self.bbox_xform_clip)
