"""Drawing: images, boxes and masks with matplotlib."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from torch import Tensor

PALETTE = ("#ffffff", "#ff7f0e", "#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#8c564b", "#9467bd")


def to_numpy_image(image: Tensor):
    """(3, H, W) float in [0, 1] -> (H, W, 3) numpy, for imshow."""
    return image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def draw_boxes(ax, boxes: Tensor, labels: Tensor | None = None, class_names: Sequence[str] | None = None,
               scores: Tensor | None = None, color: str | None = None, linewidth: float = 1.5) -> None:  # fmt: skip
    """Draw xyxy boxes (Tensor[N, 4], pixel-edge coordinates) on a matplotlib axis."""
    for i, (x1, y1, x2, y2) in enumerate(boxes.detach().cpu().tolist()):
        label = int(labels[i]) if labels is not None else 0
        c = color or PALETTE[label % len(PALETTE)]
        # imshow puts pixel centres on integers, so pixel edges sit at -0.5
        ax.add_patch(
            plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, color=c, lw=linewidth)
        )
        text = class_names[label] if (class_names and labels is not None) else ""
        if scores is not None:
            text = f"{text} {float(scores[i]):.2f}".strip()
        if text:
            ax.text(x1 - 0.5, y1 - 1.5, text, color=c, fontsize=7, va="bottom")


def overlay_masks(image: Tensor, masks: Tensor, alpha: float = 0.55) -> Tensor:
    """Tint each instance mask (Tensor[K, H, W] bool) of image (3, H, W) with its own colour."""
    colors = torch.tensor(plt.cm.tab10.colors, dtype=image.dtype, device=image.device)
    out = image.clone()
    for k, mask in enumerate(masks.bool()):
        tint = colors[k % len(colors)][:, None, None]
        out = torch.where(mask, (1 - alpha) * out + alpha * tint, out)
    return out


def show_images(images: Tensor, titles: Sequence[str] | None = None, ncols: int = 8, size: float = 1.8,
                boxes: Sequence[Tensor] | None = None, labels: Sequence[Tensor] | None = None,
                class_names: Sequence[str] | None = None):  # fmt: skip
    """A grid of images (N, 3, H, W), optionally with per-image boxes and labels; returns the figure."""
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * bool(titles)), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        ax = axes.flat[i]
        ax.imshow(to_numpy_image(images[i]), interpolation="nearest")
        if boxes is not None:
            draw_boxes(ax, boxes[i], labels[i] if labels is not None else None, class_names)
        if titles is not None:
            ax.set_title(titles[i], fontsize=7, wrap=True)
    fig.tight_layout()
    return fig


def show_detections(images: Tensor, detections: Sequence[dict], class_names: Sequence[str] | None = None,
                    score_threshold: float = 0.5, n: int = 4):  # fmt: skip
    """The first ``n`` images (N, 3, H, W) with their detections scored at least
    ``score_threshold``; ``detections`` are torchvision's output dicts (``boxes`` xyxy in
    pixels, ``labels``, ``scores``). Returns the figure."""
    n = min(n, len(images), len(detections))
    kept = [d["scores"] >= score_threshold for d in detections[:n]]
    return show_images(
        images[:n],
        titles=[f"{int(k.sum())} detections, score ≥ {score_threshold:g}" for k in kept],
        ncols=n,
        size=2.6,
        boxes=[d["boxes"][k] for d, k in zip(detections, kept)],
        labels=[d["labels"][k] for d, k in zip(detections, kept)],
        class_names=class_names,
    )


def show_batch(batch, n: int = 8, with_boxes: bool = True, with_captions: bool = False):
    """Show the first ``n`` images of a ``ShapesBatch`` (or real ``PhotoBatch``) with their
    boxes and class names."""
    n = min(n, len(batch))
    targets = batch.targets()[:n]
    return show_images(
        batch.images[:n],
        titles=batch.captions[:n] if with_captions else None,
        boxes=[t["boxes"] for t in targets] if with_boxes else None,
        labels=[t["labels"] for t in targets] if with_boxes else None,
        class_names=batch.classes,
    )
