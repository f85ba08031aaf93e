"""Evaluation metrics. Inputs are tensors; shapes are given in each docstring."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .boxes import _check_boxes, box_iou, elementwise_box_iou


def localization_correct(pred_labels: Tensor, pred_boxes: Tensor, gt_labels: Tensor,
                         gt_boxes: Tensor, iou_threshold: float = 0.5) -> Tensor:  # fmt: skip
    """The ImageNet classification+localisation criterion, per image.

    An image counts as correct when one of its k guesses has the right class *and* a box
    with IoU >= ``iou_threshold`` with the ground truth (ImageNet used k = 5 and 0.5).

    Args:
        pred_labels (Tensor[N, k] or Tensor[N]): guessed classes, best first.
        pred_boxes (Tensor[N, k, 4] or Tensor[N, 4]): one xyxy box per guess.
        gt_labels (Tensor[N]), gt_boxes (Tensor[N, 4]): the single object of each image.
    Returns:
        Tensor[N] bool.
    """
    if pred_labels.dim() == 1:
        pred_labels, pred_boxes = pred_labels[:, None], pred_boxes[:, None]
    if pred_boxes.dim() != 3 or pred_boxes.shape[:2] != pred_labels.shape:
        raise ValueError(
            f"pred_boxes must have shape (N, k, 4) matching pred_labels (N, k); got "
            f"{tuple(pred_boxes.shape)} and {tuple(pred_labels.shape)}"
        )
    _check_boxes(gt_boxes, "gt_boxes")
    n, k = pred_labels.shape
    if gt_labels.shape != (n,) or gt_boxes.shape[0] != n:
        raise ValueError(f"gt_labels must be (N,) and gt_boxes (N, 4) with N = {n}")
    iou = elementwise_box_iou(pred_boxes.reshape(-1, 4), gt_boxes.repeat_interleave(k, 0)).view(
        n, k
    )
    hit = (pred_labels == gt_labels[:, None]) & (iou >= iou_threshold)
    return hit.any(1)


def accuracy(logits: Tensor, labels: Tensor) -> float:
    """Fraction of rows whose arg-max equals the label: logits (N, C), labels (N,)."""
    if len(labels) == 0:
        return float("nan")
    return (logits.argmax(-1) == labels).float().mean().item()


# --- detection: average precision ---------------------------------------------------------

INTERPOLATIONS = ("voc", "voc11", "coco101")


def average_precision(precision: Tensor, recall: Tensor, interpolation: str = "voc") -> Tensor:
    """Area under one precision/recall curve.

    Args:
        precision, recall (Tensor[D]): the curve after each of D detections, taken by
            decreasing score (recall never decreases).
        interpolation: how the curve becomes one number. All three first replace each
            precision by the best precision at any higher recall (the "envelope"), then:

            * ``"voc"``: the exact area under the envelope (VOC 2010 and later);
            * ``"voc11"``: the mean of the envelope at recall 0, 0.1, ..., 1 (VOC 2007);
            * ``"coco101"``: the mean at recall 0, 0.01, ..., 1 (COCO, pycocotools).
    Returns:
        0-d float64 tensor. An empty curve has AP 0.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}; got {interpolation!r}")
    if precision.shape != recall.shape or precision.dim() != 1:
        raise ValueError(
            f"precision and recall must be 1-d of the same length; got "
            f"{tuple(precision.shape)} and {tuple(recall.shape)}"
        )
    precision, recall = precision.double().cpu(), recall.double().cpu()
    if interpolation == "voc":
        # Sentinels: the curve starts at recall 0 and its envelope ends at precision 0.
        recall = torch.cat((recall.new_zeros(1), recall, recall.new_ones(1)))
        precision = torch.cat((precision.new_zeros(1), precision, precision.new_zeros(1)))
        envelope = precision.flip(0).cummax(0).values.flip(0)
        return ((recall[1:] - recall[:-1]) * envelope[1:]).sum()
    envelope = precision.flip(0).cummax(0).values.flip(0) if len(precision) else precision
    steps = 11 if interpolation == "voc11" else 101
    # numpy's linspace, bit for bit what pycocotools uses: a threshold equal to a recall
    # value must compare the same way here and there.
    thresholds = torch.from_numpy(np.linspace(0.0, 1.0, steps))
    index = torch.searchsorted(recall.contiguous(), thresholds, side="left")
    padded = torch.cat((envelope, envelope.new_zeros(1)))  # beyond the curve: precision 0
    return padded[index.clamp(max=len(envelope))].mean()


def _check_detections(preds: list[dict], targets: list[dict]) -> None:
    if not isinstance(preds, (list, tuple)) or not isinstance(targets, (list, tuple)):
        raise ValueError("preds and targets must be lists of dicts, one per image")
    if len(preds) != len(targets):
        raise ValueError(
            f"preds and targets must have one dict per image; got {len(preds)} and {len(targets)}"
        )
    for kind, items, keys in (("preds", preds, ("boxes", "scores", "labels")),
                              ("targets", targets, ("boxes", "labels"))):  # fmt: skip
        for i, item in enumerate(items):
            missing = [k for k in keys if k not in item]
            if missing:
                raise ValueError(f"{kind}[{i}] has no {missing}; expected keys {list(keys)}")
            _check_boxes(item["boxes"], f"{kind}[{i}]['boxes']")
            n = len(item["boxes"])
            for k in keys[1:]:
                if item[k].shape != (n,):
                    raise ValueError(
                        f"{kind}[{i}]['{k}'] must have shape ({n},) like its boxes; "
                        f"got {tuple(item[k].shape)}"
                    )


def _match_image(pred: dict, target: dict, iou_thresholds: Tensor, matching: str,
                 max_detections: int | None) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """Mark one image's detections as true positives, at every IoU threshold.

    Returns the kept detections' labels (D,), scores (D,) and true-positive flags (T, D),
    detections ordered by decreasing score (stable).
    """
    order = torch.sort(pred["scores"], descending=True, stable=True).indices
    labels, scores, boxes = pred["labels"][order], pred["scores"][order], pred["boxes"][order]
    if max_detections is not None:  # pycocotools keeps the best 100 per image and class
        one_hot = labels[:, None] == labels.unique()[None, :]
        rank_in_class = (one_hot.cumsum(0) * one_hot).sum(1) - 1
        keep = rank_in_class < max_detections
        labels, scores, boxes = labels[keep], scores[keep], boxes[keep]
    tp = torch.zeros(len(iou_thresholds), len(labels), dtype=torch.bool)
    gt_boxes, gt_labels = target["boxes"], target["labels"]
    if len(labels) == 0 or len(gt_labels) == 0:
        return labels, scores, tp
    iou = box_iou(boxes.double(), gt_boxes.double())
    iou = torch.where(labels[:, None] == gt_labels[None, :], iou, -1.0)  # other class: no match
    for t, threshold in enumerate(iou_thresholds.tolist()):
        if matching == "voc":
            # VOC devkit: each detection looks only at its best-overlapping ground truth; the
            # first (best-scoring) detection to claim it with IoU > threshold wins, the rest
            # are duplicates. Vectorised: the lowest detection index per claimed box.
            best_iou, best_gt = iou.max(1)
            claims = best_iou > threshold
            first = torch.full((len(gt_labels),), len(labels), dtype=torch.long)
            first.scatter_reduce_(0, best_gt[claims], claims.nonzero()[:, 0], reduce="amin")
            tp[t] = claims & (first[best_gt] == torch.arange(len(labels)))
        else:
            # pycocotools: each detection, best first, takes the best *still unmatched*
            # ground truth with IoU >= threshold. Later choices depend on earlier ones, so
            # this loop is sequential, but it only visits detections that can match at all.
            taken = torch.zeros(len(gt_labels), dtype=torch.bool)
            for d in (iou.max(1).values >= threshold).nonzero()[:, 0].tolist():
                candidates = torch.where(taken, -1.0, iou[d])
                best = float(candidates.max())
                if best >= threshold:
                    # ties go to the last ground truth, as in pycocotools' loop
                    g = int((candidates == best).nonzero()[-1])
                    taken[g], tp[t, d] = True, True
    return labels, scores, tp


def mean_average_precision(preds: list[dict], targets: list[dict], iou_threshold: float = 0.5,
                           interpolation: str = "voc", matching: str | None = None,
                           max_detections: int | None = None) -> dict[str, Tensor]:  # fmt: skip
    """Detection AP per class and their mean (mAP) at one IoU threshold.

    Inputs are those of ``torchmetrics.detection.MeanAveragePrecision``, one dict per image:

    * ``preds[i]``: ``boxes (Tensor[N, 4])`` xyxy, ``scores (Tensor[N])``, ``labels (Tensor[N])``;
    * ``targets[i]``: ``boxes (Tensor[M, 4])`` xyxy, ``labels (Tensor[M])``.

    Args:
        iou_threshold: a detection is correct when it matches a ground-truth box of its class
            with IoU above it (VOC: ``>``; COCO: ``>=``).
        interpolation: ``"voc"`` (all points), ``"voc11"`` or ``"coco101"``; see
            ``average_precision``.
        matching: ``"voc"`` (the VOC devkit's rule) or ``"coco"`` (pycocotools' rule); by default
            ``"coco"`` for ``"coco101"`` and ``"voc"`` otherwise.
        max_detections: detections kept per image and class; by default 100 for COCO matching
            (as pycocotools) and all for VOC.
    Returns:
        ``{"map": Tensor, "map_per_class": Tensor[C], "classes": Tensor[C]}`` (float64 and
        int64), over every class seen in targets or preds. A class without ground truth gets
        AP -1 and is left out of the mean, as in torchmetrics; ``map`` is -1 when no class
        has ground truth. Detections on an image without ground truth are false positives.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}; got {interpolation!r}")
    matching = matching or ("coco" if interpolation == "coco101" else "voc")
    if matching not in ("voc", "coco"):
        raise ValueError(f"matching must be 'voc' or 'coco'; got {matching!r}")
    if max_detections is None and matching == "coco":
        max_detections = 100
    _check_detections(preds, targets)
    cpu = lambda d: {k: v.detach().cpu() for k, v in d.items()}  # noqa: E731
    preds, targets = [cpu(p) for p in preds], [cpu(t) for t in targets]
    thresholds = torch.tensor([float(iou_threshold)], dtype=torch.float64)
    matched = [_match_image(p, t, thresholds, matching, max_detections)
               for p, t in zip(preds, targets)]  # fmt: skip
    labels = torch.cat([m[0] for m in matched]) if matched else torch.zeros(0, dtype=torch.long)
    scores = torch.cat([m[1] for m in matched]) if matched else torch.zeros(0)
    tp = torch.cat([m[2][0] for m in matched]) if matched else torch.zeros(0, dtype=torch.bool)
    gt_labels = torch.cat([t["labels"] for t in targets]) if targets else labels.new_zeros(0)
    classes = torch.cat((labels, gt_labels)).unique().long()
    ap = torch.full((len(classes),), -1.0, dtype=torch.float64)
    for i, c in enumerate(classes.tolist()):
        num_gt = int((gt_labels == c).sum())
        if num_gt == 0:
            continue
        mine = labels == c
        # Concatenated image by image, then a stable sort: ties stay in image order, as in
        # pycocotools.
        order = torch.sort(scores[mine], descending=True, stable=True).indices
        hits = tp[mine][order].double()
        cum_tp, cum_fp = hits.cumsum(0), (1 - hits).cumsum(0)
        ap[i] = average_precision(cum_tp / (cum_tp + cum_fp), cum_tp / num_gt, interpolation)
    valid = ap >= 0
    mean = ap[valid].mean() if valid.any() else torch.tensor(-1.0, dtype=torch.float64)
    return {"map": mean, "map_per_class": ap, "classes": classes}
