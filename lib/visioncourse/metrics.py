"""Evaluation metrics. Inputs are tensors; shapes are given in each docstring."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .boxes import _check_boxes, box_area, box_iou, elementwise_box_iou


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


def _check_detections(preds: list[dict], targets: list[dict], geometry: str = "boxes") -> None:
    if not isinstance(preds, (list, tuple)) or not isinstance(targets, (list, tuple)):
        raise ValueError("preds and targets must be lists of dicts, one per image")
    if len(preds) != len(targets):
        raise ValueError(
            f"preds and targets must have one dict per image; got {len(preds)} and {len(targets)}"
        )
    for kind, items, keys in (("preds", preds, (geometry, "scores", "labels")),
                              ("targets", targets, (geometry, "labels"))):  # fmt: skip
        for i, item in enumerate(items):
            missing = [k for k in keys if k not in item]
            if missing:
                raise ValueError(f"{kind}[{i}] has no {missing}; expected keys {list(keys)}")
            if geometry == "boxes":
                _check_boxes(item["boxes"], f"{kind}[{i}]['boxes']")
            elif item["masks"].dim() != 3:
                raise ValueError(f"{kind}[{i}]['masks'] must be (N, H, W); got {tuple(item['masks'].shape)}")  # fmt: skip
            n = len(item[geometry])
            for k in keys[1:]:
                if item[k].shape != (n,):
                    raise ValueError(
                        f"{kind}[{i}]['{k}'] must have shape ({n},) like its {geometry}; "
                        f"got {tuple(item[k].shape)}"
                    )


def _sorted_detections(
    pred: dict, max_detections: int | None, geometry: str = "boxes"
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One image's detections by decreasing score (stable), keeping the best
    ``max_detections`` per class: labels, scores, boxes (or masks) and each one's rank in its
    class."""
    order = torch.sort(pred["scores"], descending=True, stable=True).indices
    labels, scores, boxes = pred["labels"][order], pred["scores"][order], pred[geometry][order]
    one_hot = labels[:, None] == labels.unique()[None, :]
    rank = (one_hot.cumsum(0) * one_hot).sum(1) - 1
    if max_detections is not None:  # pycocotools keeps the best 100 per image and class
        keep = rank < max_detections
        labels, scores, boxes, rank = labels[keep], scores[keep], boxes[keep], rank[keep]
    return labels, scores, boxes, rank


def mask_iou(masks1: Tensor, masks2: Tensor) -> Tensor:
    """Pairwise IoU of binary masks: (N, H, W) x (M, H, W) -> (N, M) float64 (0 when both are
    empty)."""
    a, b = masks1.flatten(1).double(), masks2.flatten(1).double()
    inter = (a > 0).double() @ (b > 0).double().T
    union = (a > 0).sum(1)[:, None] + (b > 0).sum(1)[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1), 0.0)


def _class_iou(items: Tensor, labels: Tensor, target: dict, geometry: str = "boxes") -> Tensor:
    """IoU (D, G) in float64, -1 between a detection and a ground truth of another class."""
    if geometry == "masks":
        iou = mask_iou(items, target["masks"])
    else:
        iou = box_iou(items.double(), target["boxes"].double())
    return torch.where(labels[:, None] == target["labels"][None, :], iou, -1.0)


def _coco_match(iou: Tensor, thresholds: Tensor, gt_ignore: Tensor) -> tuple[Tensor, Tensor]:
    """pycocotools' greedy matching of one image's detections (rows of ``iou``, best score
    first) at every IoU threshold.

    Each detection takes the best still-unmatched ground truth with IoU >= threshold (ties: the
    last one), preferring ground truth that is not ignored; a detection matched to an ignored
    ground truth is ignored itself.

    Returns:
        matched, ignored (Tensor[T, D] bool).
    """
    num_t, (num_d, num_g) = len(thresholds), iou.shape
    matched = torch.zeros(num_t, num_d, dtype=torch.bool)
    ignored = torch.zeros(num_t, num_d, dtype=torch.bool)
    if num_d == 0 or num_g == 0:
        return matched, ignored
    taken = torch.zeros(num_t, num_g, dtype=torch.bool)
    last = torch.arange(num_g, dtype=torch.float64) * 1e-12  # ties go to the last gt
    rows = torch.arange(num_t)
    # Later choices depend on earlier ones, so this loop is sequential, but it only visits
    # detections that can match at all, and handles every threshold at once.
    for d in (iou.max(1).values >= thresholds.min()).nonzero()[:, 0].tolist():
        free = torch.where(taken, -1.0, iou[d])  # (T, G)
        for group in (~gt_ignore, gt_ignore):  # ground truth that counts first
            candidates = torch.where(group, free, -1.0)
            best = candidates.max(1, keepdim=True).values
            ok = (best[:, 0] >= thresholds) & ~matched[:, d]
            if ok.any():
                g = ((candidates == best) * (1 + last)).argmax(1)
                taken[rows[ok], g[ok]] = True
                matched[ok, d] = True
                ignored[ok, d] = gt_ignore[g[ok]]
    return matched, ignored


def _match_image(pred: dict, target: dict, iou_thresholds: Tensor, matching: str,
                 max_detections: int | None) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """Mark one image's detections as true positives, at every IoU threshold.

    Returns the kept detections' labels (D,), scores (D,) and true-positive flags (T, D),
    detections ordered by decreasing score (stable).
    """
    labels, scores, boxes, _ = _sorted_detections(pred, max_detections)
    tp = torch.zeros(len(iou_thresholds), len(labels), dtype=torch.bool)
    if len(labels) == 0 or len(target["labels"]) == 0:
        return labels, scores, tp
    iou = _class_iou(boxes, labels, target)
    if matching == "coco":
        no_ignore = torch.zeros(len(target["labels"]), dtype=torch.bool)
        return labels, scores, _coco_match(iou, iou_thresholds, no_ignore)[0]
    # VOC devkit: each detection looks only at its best-overlapping ground truth; the first
    # (best-scoring) detection to claim it with IoU > threshold wins, the rest are duplicates.
    # Vectorised: the lowest detection index per claimed box.
    best_iou, best_gt = iou.max(1)
    for t, threshold in enumerate(iou_thresholds.tolist()):
        claims = best_iou > threshold
        first = torch.full((len(target["labels"]),), len(labels), dtype=torch.long)
        first.scatter_reduce_(0, best_gt[claims], claims.nonzero()[:, 0], reduce="amin")
        tp[t] = claims & (first[best_gt] == torch.arange(len(labels)))
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


# --- COCO: AP averaged over IoU thresholds, by object size, and recall ----------------------

# Object sizes by area in image pixels, bounds included, as pycocotools.
COCO_AREA_RANGES = {"all": (0.0, 1e10), "small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2),
                    "large": (96.0**2, 1e10)}  # fmt: skip


def _area(items: Tensor, geometry: str) -> Tensor:
    return (
        (items.flatten(1) > 0).sum(1).double() if geometry == "masks" else box_area(items).double()
    )


def _coco_image(pred: dict, target: dict, thresholds: Tensor, max_detections: int, geometry: str):
    """Match one image's detections once per area range (pycocotools' evaluateImg)."""
    labels, scores, items, rank = _sorted_detections(pred, max_detections, geometry)
    gt_area = target["area"].double() if "area" in target else _area(target[geometry], geometry)
    det_area = _area(items, geometry)
    if len(labels) and len(target["labels"]):
        iou = _class_iou(items, labels, target, geometry)
    else:
        iou = torch.zeros(len(labels), len(target["labels"]), dtype=torch.float64)
    matched, ignored, gt_ignored = [], [], []
    for lo, hi in COCO_AREA_RANGES.values():
        gt_ignore = (gt_area < lo) | (gt_area > hi)
        m, ig = _coco_match(iou, thresholds, gt_ignore)
        # An unmatched detection of the wrong size neither helps nor hurts.
        ig |= ~m & ((det_area < lo) | (det_area > hi))[None, :]
        matched.append(m), ignored.append(ig), gt_ignored.append(gt_ignore)
    return labels, scores, rank, torch.stack(matched), torch.stack(ignored), torch.stack(gt_ignored)


def coco_map(preds: list[dict], targets: list[dict], iou_thresholds: list[float] | None = None,
             max_detection_thresholds: tuple[int, ...] = (1, 10, 100),
             class_metrics: bool = False, iou_type: str = "bbox") -> dict[str, Tensor]:  # fmt: skip
    """COCO evaluation of boxes (``iou_type="bbox"``) or instance masks (``"segm"``): what
    ``torchmetrics.detection.MeanAveragePrecision`` (and pycocotools) report, from the same
    inputs and under the same keys.

    Inputs as ``mean_average_precision``; for ``"segm"``, ``masks (Tensor[N, H, W])`` (bool or
    0/1) instead of boxes, and IoU and area are those of the masks. A target may also carry
    ``area (Tensor[M])`` (default: box or mask area). Crowd annotations are not supported.

    Every (class, IoU threshold) pair gets a 101-point AP with pycocotools' matching; then

    * ``map``: the mean over thresholds 0.50, 0.55, ..., 0.95 and classes (mAP@[.5:.95]);
    * ``map_50``, ``map_75``: at one threshold (-1 if it is not among ``iou_thresholds``);
    * ``map_small`` / ``map_medium`` / ``map_large``: only objects of area < 32², 32²–96²,
      > 96² pixels count (detections matched to other objects, or of another size, are
      ignored);
    * ``mar_1``, ``mar_10``, ``mar_100``: recall with at most 1, 10, 100 detections per image
      and class, averaged over thresholds and classes; ``mar_small`` ... at the largest;
    * ``map_per_class``, ``mar_100_per_class`` (with ``class_metrics``; else -1) and
      ``classes``.

    A mean over nothing (e.g. no large objects) is -1, as in pycocotools.
    """
    for i, t in enumerate(targets if isinstance(targets, (list, tuple)) else []):
        if "iscrowd" in t and bool(torch.as_tensor(t["iscrowd"]).any()):
            raise ValueError(f"targets[{i}] has crowd annotations (iscrowd), which coco_map does not support")  # fmt: skip
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm'; got {iou_type!r}")
    geometry = "boxes" if iou_type == "bbox" else "masks"
    _check_detections(preds, targets, geometry)
    if iou_thresholds is None:  # pycocotools' own values, bit for bit
        thresholds = torch.from_numpy(np.linspace(0.5, 0.95, 10))
    else:
        thresholds = torch.tensor([float(t) for t in iou_thresholds], dtype=torch.float64)
    max_dets = sorted(int(m) for m in max_detection_thresholds)
    cpu = lambda d: {k: v.detach().cpu() for k, v in d.items()}  # noqa: E731
    images = [_coco_image(cpu(p), cpu(t), thresholds, max_dets[-1], geometry) for p, t in zip(preds, targets)]  # fmt: skip
    cat = lambda i, dim=0: torch.cat([im[i] for im in images], dim)  # noqa: E731
    if images:
        labels, scores, rank = cat(0), cat(1), cat(2)
        matched, ignored, gt_ignored = cat(3, 2), cat(4, 2), cat(5, 1)
        gt_labels = torch.cat([t["labels"].cpu() for t in targets])
    else:
        labels = rank = gt_labels = torch.zeros(0, dtype=torch.long)
        scores, matched = torch.zeros(0), torch.zeros(len(COCO_AREA_RANGES), len(thresholds), 0)
        ignored, gt_ignored = matched.bool(), torch.zeros(len(COCO_AREA_RANGES), 0).bool()
    classes = torch.cat((labels, gt_labels)).unique().long()
    num_t, num_k, num_a, num_m = len(thresholds), len(classes), len(COCO_AREA_RANGES), len(max_dets)
    precision = torch.full((num_t, num_k, num_a), -1.0, dtype=torch.float64)
    recall = torch.full((num_t, num_k, num_a, num_m), -1.0, dtype=torch.float64)
    for k, c in enumerate(classes.tolist()):
        for a in range(num_a):
            num_gt = int(((gt_labels == c) & ~gt_ignored[a]).sum())
            if num_gt == 0:
                continue
            for m, max_det in enumerate(max_dets):
                mine = ((labels == c) & (rank < max_det)).nonzero()[:, 0]
                mine = mine[torch.sort(scores[mine], descending=True, stable=True).indices]
                for t in range(num_t):
                    hits = matched[a, t, mine][~ignored[a, t, mine]].double()
                    tp, fp = hits.cumsum(0), (1 - hits).cumsum(0)
                    recall[t, k, a, m] = tp[-1] / num_gt if len(tp) else 0.0
                    if m == num_m - 1:
                        precision[t, k, a] = average_precision(tp / (tp + fp), tp / num_gt, "coco101")  # fmt: skip

    def mean(x):
        x = x[x > -1]
        return x.mean() if len(x) else torch.tensor(-1.0, dtype=torch.float64)

    def at(threshold):
        t = (thresholds == threshold).nonzero()[:, 0]
        return mean(precision[t, :, 0]) if len(t) else torch.tensor(-1.0, dtype=torch.float64)

    out = {"map": mean(precision[:, :, 0]), "map_50": at(0.5), "map_75": at(0.75)}
    for a, name in enumerate(list(COCO_AREA_RANGES)[1:], start=1):
        out[f"map_{name}"] = mean(precision[:, :, a])
    for m, max_det in enumerate(max_dets):
        out[f"mar_{max_det}"] = mean(recall[:, :, 0, m])
    for a, name in enumerate(list(COCO_AREA_RANGES)[1:], start=1):
        out[f"mar_{name}"] = mean(recall[:, :, a, -1])
    none = torch.tensor(-1.0, dtype=torch.float64)
    per_class = [mean(precision[:, k, 0]) for k in range(num_k)]
    per_class_recall = [mean(recall[:, k, 0, -1]) for k in range(num_k)]
    out["map_per_class"] = torch.stack(per_class) if class_metrics and num_k else none
    out[f"mar_{max_dets[-1]}_per_class"] = torch.stack(per_class_recall) if class_metrics and num_k else none  # fmt: skip
    out["classes"] = classes
    return out


# --- semantic segmentation ------------------------------------------------------------------


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int, ignore_index: int | None = None) -> Tensor:  # fmt: skip
    """Pixel counts: ``[t, p]`` = pixels of true class ``t`` predicted as ``p``.

    Args:
        pred, target (Tensor[...] int, same shape): class indices 0..C-1 per pixel (0 is
            background when there is one).
        ignore_index: target pixels with this value are not counted.
    Returns:
        Tensor[C, C] int64. Sum several of them to accumulate over a dataset.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape; got {tuple(pred.shape)} and {tuple(target.shape)}")  # fmt: skip
    pred, target = pred.reshape(-1).long(), target.reshape(-1).long()
    keep = target != ignore_index if ignore_index is not None else torch.ones_like(target, dtype=torch.bool)  # fmt: skip
    pred, target = pred[keep], target[keep]
    if len(target) and (min(pred.min(), target.min()) < 0 or max(pred.max(), target.max()) >= num_classes):  # fmt: skip
        raise ValueError(f"class indices must lie in [0, {num_classes - 1}]")
    return torch.bincount(target * num_classes + pred, minlength=num_classes**2).view(num_classes, num_classes)  # fmt: skip


def segmentation_scores(confmat: Tensor) -> dict[str, Tensor]:
    """Semantic-segmentation scores from a (dataset-wide) confusion matrix.

    * ``pixel_accuracy``: correct pixels / all pixels;
    * ``iou`` (Tensor[C]): per class, TP / (TP + FP + FN) — NaN for a class absent from both
      prediction and target; ``miou``: their mean over the other classes (as
      ``torchmetrics``' ``MulticlassJaccardIndex(average="macro")``);
    * ``dice`` (Tensor[C]): 2 TP / (2 TP + FP + FN), NaN likewise; ``mean_dice``.

    All float64.
    """
    c = confmat.double()
    tp = c.diag()
    fp, fn = c.sum(0) - tp, c.sum(1) - tp
    union = tp + fp + fn
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    iou = torch.where(union > 0, tp / union.clamp(min=1), nan)
    dice = torch.where(union > 0, 2 * tp / (2 * tp + fp + fn).clamp(min=1), nan)
    total = c.sum()
    return {
        "pixel_accuracy": tp.sum() / total if total > 0 else nan,
        "iou": iou,
        "miou": iou.nanmean(),
        "dice": dice,
        "mean_dice": dice.nanmean(),
    }


# ----------------------------------------------------------------------------- over seeds


def mean_std(values, digits: int = 2) -> str:
    """``"mean ± std"`` of per-seed values (sample standard deviation; 0 for a single value)."""
    t = torch.tensor(values, dtype=torch.float64)
    spread = t.std().item() if len(t) > 1 else 0.0
    return f"{t.mean():.{digits}f} ± {spread:.{digits}f}"


def separated(a, b) -> bool:
    """True when two sets of per-seed values do not overlap: the only case in which a chapter
    prints a verdict on which is better."""
    return min(a) > max(b) or min(b) > max(a)


def compare(a, b) -> str:
    """How per-seed values ``a`` stand against ``b``: ``"beats"``, ``"loses to"``, or ``"is not
    separated from"`` when they overlap (no verdict)."""
    if not separated(a, b):
        return "is not separated from"
    return "beats" if min(a) > max(b) else "loses to"


def verdict(name_a: str, a, name_b: str, b) -> str:
    """One line on how per-seed values ``a`` stand against ``b``: "A beats B on every seed",
    "... loses to ...", or, when they overlap, that there is no verdict."""
    word = compare(a, b)
    if word == "is not separated from":
        return f"{name_a} {word} {name_b} (the seeds overlap: no verdict)"
    return f"{name_a} {word} {name_b} on every seed"
