"""One-stage detectors: YOLOv1's grid targets, loss and decoding, and YOLOv2's k-means anchors.

Layout of a YOLOv1 output for an ``S x S`` grid, ``B`` boxes per cell and ``C`` classes:
``(n, S, S, 5 * B + C)``; box ``j`` of a cell is ``[x, y, sqrt_w, sqrt_h, confidence]`` at
channels ``5j .. 5j + 4`` (``x, y``: the centre's offset inside the cell, in cells;
``sqrt_w, sqrt_h``: square roots of the size as a fraction of the image), then ``C`` class
probabilities shared by the cell's boxes. Targets use ``[object, x, y, sqrt_w, sqrt_h,
one-hot class]``: ``(n, S, S, 5 + C)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .boxes import batched_nms, elementwise_box_iou


def yolo_targets(boxes: Tensor, labels: Tensor, grid: int, num_classes: int, image_size: int) -> Tensor:  # fmt: skip
    """YOLOv1 targets: the cell containing an object's centre is responsible for it.

    Args:
        boxes (Tensor[n, K, 4]) xyxy in pixels; labels (Tensor[n, K]) 1..C, 0 for empty slots
        (the shapes world's padded format).
    Returns:
        Tensor[n, S, S, 5 + C]. When several centres fall into one cell, the largest object
        (then the first listed) owns it.
    """
    n, k = labels.shape
    out = boxes.new_zeros(n, grid, grid, 5 + num_classes)
    present = labels > 0
    if not present.any():
        return out
    img, slot = present.nonzero(as_tuple=True)
    b = boxes[img, slot]
    # In grid units straight from pixels: exact for whole-pixel boxes, so a centre on a cell
    # edge always lands in the same cell.
    centre = (b[:, :2] + b[:, 2:]) / 2 * grid / image_size
    size = (b[:, 2:] - b[:, :2]).clamp(min=0) / image_size
    cell = centre.floor().long().clamp(0, grid - 1)  # (m, 2) as (col, row)
    key = (img * grid + cell[:, 1]) * grid + cell[:, 0]
    # One owner per cell: the largest object, ties to the lowest slot.
    area = size.prod(1)
    best_area = area.new_full((n * grid * grid,), -1.0).scatter_reduce(0, key, area, "amax")
    candidate = area == best_area[key]
    order = torch.arange(len(key), device=key.device)
    first = torch.full((n * grid * grid,), len(key), device=key.device)
    first = first.scatter_reduce(0, key[candidate], order[candidate], "amin")
    own = first[key] == order
    values = torch.cat((torch.ones_like(area)[:, None], centre - cell, size.sqrt(),
                        torch.nn.functional.one_hot(labels[img, slot] - 1, num_classes).to(b)), 1)  # fmt: skip
    out.view(-1, 5 + num_classes)[key[own]] = values[own]
    return out


def _cell_corners(grid: int, like: Tensor) -> Tensor:
    """(S, S, 2): each cell's (column, row), i.e. its top-left corner in cell units."""
    i = torch.arange(grid, device=like.device, dtype=like.dtype)
    row, col = torch.meshgrid(i, i, indexing="ij")
    return torch.stack((col, row), -1)


def yolo_boxes(cells: Tensor, image_size: int) -> Tensor:
    """Grid boxes -> pixel boxes.

    Args:
        cells (Tensor[n, S, S, B, 4]): ``[x, y, sqrt_w, sqrt_h]`` per box, as in the output.
    Returns:
        Tensor[n, S, S, B, 4] xyxy in pixels.
    """
    grid = cells.shape[1]
    centre = (cells[..., :2] + _cell_corners(grid, cells)[:, :, None, :]) / grid
    half = cells[..., 2:4].clamp(min=0) ** 2 / 2
    return torch.cat((centre - half, centre + half), -1) * image_size


def yolo_loss(pred: Tensor, target: Tensor, num_boxes: int, lambda_coord: float = 5.0,
              lambda_noobj: float = 0.5) -> dict[str, Tensor]:  # fmt: skip
    """YOLOv1's sum-squared loss, term by term, summed over cells and averaged over images.

    In a cell with an object, the responsible box ``j`` is the one whose predicted box
    overlaps the object most; its confidence target is that IoU (not back-propagated). Every
    other box, in every cell, is pushed towards confidence 0 with weight ``lambda_noobj``.

    Args:
        pred (Tensor[n, S, S, 5B + C]), target (Tensor[n, S, S, 5 + C]): see the module doc.
    Returns:
        ``{"xy", "wh", "obj", "noobj", "class"}``: the five terms (weights included);
        their sum is the loss.
    """
    n, grid = pred.shape[:2]
    boxes = pred[..., : 5 * num_boxes].reshape(n, grid, grid, num_boxes, 5)
    has_object = target[..., 0] > 0  # (n, S, S)
    pred_xyxy = yolo_boxes(boxes[..., :4], 1)  # IoU does not depend on the unit
    true_xyxy = yolo_boxes(target[..., None, 1:5], 1).expand_as(pred_xyxy)
    iou = elementwise_box_iou(pred_xyxy.reshape(-1, 4), true_xyxy.reshape(-1, 4)).view(n, grid, grid, num_boxes)  # fmt: skip
    iou = iou.nan_to_num(0.0).detach()
    responsible = torch.nn.functional.one_hot(iou.argmax(-1), num_boxes).bool() & has_object[..., None]  # fmt: skip
    r = responsible
    truth = target[..., None, 1:5].expand_as(boxes[..., :4])
    terms = {
        "xy": lambda_coord * ((boxes[..., :2] - truth[..., :2]) ** 2).sum(-1)[r].sum(),
        "wh": lambda_coord * ((boxes[..., 2:4] - truth[..., 2:4]) ** 2).sum(-1)[r].sum(),
        "obj": ((boxes[..., 4] - iou) ** 2)[r].sum(),
        "noobj": lambda_noobj * (boxes[..., 4] ** 2)[~r].sum(),
        "class": ((pred[..., 5 * num_boxes :] - target[..., 5:]) ** 2).sum(-1)[has_object].sum(),
    }
    return {k: v / n for k, v in terms.items()}


def yolo_decode(pred: Tensor, num_boxes: int, image_size: int, score_threshold: float = 0.05,
                nms_threshold: float = 0.5, detections_per_image: int = 100,
                boxes_fn=None) -> list[dict[str, Tensor]]:  # fmt: skip
    """Output -> detections: every box gets, for every class, the score
    ``P(class | object) * confidence``; low scores are dropped and NMS runs per class.
    ``boxes_fn`` replaces ``yolo_boxes`` (chapter 05 passes the student's version).

    Returns:
        One ``{"boxes", "scores", "labels"}`` dict per image (labels 1..C).
    """
    n, grid = pred.shape[:2]
    boxes = pred[..., : 5 * num_boxes].reshape(n, grid, grid, num_boxes, 5)
    xyxy = (
        (boxes_fn or yolo_boxes)(boxes[..., :4], image_size).clamp(0, image_size).reshape(n, -1, 4)
    )
    probs = pred[..., 5 * num_boxes :]
    num_classes = probs.shape[-1]
    scores = (boxes[..., 4:5] * probs[:, :, :, None, :]).reshape(n, -1, num_classes)
    out = []
    for b, s in zip(xyxy, scores):
        keep = (s > score_threshold).nonzero()
        box, score, label = b[keep[:, 0]], s[keep[:, 0], keep[:, 1]], keep[:, 1] + 1
        kept = batched_nms(box, score, label, nms_threshold)[:detections_per_image]
        out.append({"boxes": box[kept], "scores": score[kept], "labels": label[kept]})
    return out


# --- YOLOv2: anchor shapes from the data ----------------------------------------------------


def wh_iou(wh1: Tensor, wh2: Tensor) -> Tensor:
    """IoU of boxes that share one centre, from their sizes: (N, 2) x (M, 2) -> (N, M)."""
    inter = torch.min(wh1[:, None], wh2[None]).clamp(min=0).prod(-1)
    return inter / (wh1.prod(-1)[:, None] + wh2.prod(-1)[None] - inter)


def kmeans_anchors(wh: Tensor, k: int, iterations: int = 100, seed: int = 0) -> Tensor:
    """YOLOv2's dimension priors: k-means on box sizes with distance ``1 - IoU``.

    Starts from ``k`` boxes picked by ``torch.randperm(N, generator=seeded)[:k]``; each box
    joins the centre it overlaps most (ties: the lowest index); each centre moves to the mean
    size of its boxes (a centre with no box stays); stops when nothing changes.

    Args:
        wh (Tensor[N, 2]): widths and heights.
    Returns:
        Tensor[k, 2], sorted by area.
    """
    if not 1 <= k <= len(wh):
        raise ValueError(f"need 1 <= k <= number of boxes ({len(wh)}); got k={k}")
    g = torch.Generator().manual_seed(seed)
    centres = wh[torch.randperm(len(wh), generator=g)[:k].to(wh.device)].clone()
    assign = None
    for _ in range(iterations):
        new = wh_iou(wh, centres).argmax(1)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        total = torch.zeros_like(centres).index_add_(0, assign, wh)
        count = torch.bincount(assign, minlength=k)
        centres = torch.where(count[:, None] > 0, total / count.clamp(min=1)[:, None], centres)
    return centres[centres.prod(1).argsort()]


def mean_best_iou(wh: Tensor, anchors: Tensor) -> float:
    """How well a set of anchor shapes covers the boxes: the mean over boxes of the best IoU."""
    return wh_iou(wh, anchors).max(1).values.mean().item()
