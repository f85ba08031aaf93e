"""Evaluation metrics. Inputs are tensors; shapes are given in each docstring."""

from __future__ import annotations

from torch import Tensor

from .boxes import _check_boxes, elementwise_box_iou


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
