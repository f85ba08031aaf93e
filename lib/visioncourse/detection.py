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


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else size
    if h < 1 or w < 1:
        raise ValueError(f"output_size must be positive; got {size}")
    return int(h), int(w)


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
    h, w = _pair(output_size)
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


# --- Fast R-CNN: pooling a fixed-size feature from any box -------------------------------


def _round_half_away(x: Tensor) -> Tensor:
    """C's round(): halves go away from zero (torch.round sends them to the even integer)."""
    r = torch.round(x)
    tie = (x - x.trunc()).abs() == 0.5
    return torch.where(tie, x.trunc() + x.sign(), r)


def _per_image(input: Tensor, rois: Tensor, fn) -> Tensor:
    """Apply fn(feature_map (C, H, W), indices (k,) of that image's rois) -> (k, C, h, w),
    image by image, and return the results in the order of ``rois``."""
    image = rois[:, 0].long()
    parts, order = [], []
    for n in image.unique().tolist():
        mine = (image == n).nonzero()[:, 0]
        parts.append(fn(input[n], mine))
        order.append(mine)
    return torch.cat(parts)[torch.cat(order).argsort()]


def _check_rois(input: Tensor, boxes) -> Tensor:
    if not isinstance(input, Tensor) or input.dim() != 4:
        raise ValueError(f"input must be a Tensor[N, C, H, W]; got {getattr(input, 'shape', type(input))}")  # fmt: skip
    rois = _rois(boxes).to(input)
    if len(rois) and (rois[:, 0].min() < 0 or rois[:, 0].max() >= len(input)):
        raise ValueError(f"roi image indices must lie in [0, {len(input) - 1}]")
    return rois


def roi_pool(input: Tensor, boxes: Tensor | list[Tensor], output_size: int | tuple[int, int],
             spatial_scale: float = 1.0) -> Tensor:  # fmt: skip
    """Max-pool each box of a feature map into a fixed ``h x w`` grid (Fast R-CNN's RoI pooling),
    with the same rounding as ``torchvision.ops.roi_pool``.

    The box is scaled by ``spatial_scale`` and rounded to whole feature cells (corners
    included, so it spans ``x2 - x1 + 1`` cells); bin ``j`` of ``w`` covers cells
    ``floor(j * width / w)`` to ``ceil((j + 1) * width / w)`` (exclusive) from the box's first
    cell, clipped to the map. An empty bin gives 0.

    Args:
        input (Tensor[N, C, H, W]): feature maps.
        boxes: a list of N Tensor[K_i, 4], or Tensor[K, 5] with the image index first; in
            (x1, y1, x2, y2) image coordinates.
        output_size: (h, w) or one int.
        spatial_scale: feature cells per image pixel (1 / stride).
    Returns:
        Tensor[K, C, h, w].
    """
    rois = _check_rois(input, boxes)
    h, w = _pair(output_size)
    if len(rois) == 0:
        return input.new_zeros(0, input.shape[1], h, w)
    height, width = input.shape[-2:]

    def bin_masks(start, end, bins, size):
        # Index ranges of every bin -> a (K, bins, size) membership mask.
        extent = (end - start + 1).clamp(min=1).to(input.dtype)
        step = extent / bins
        j = torch.arange(bins, device=input.device, dtype=input.dtype)
        lo = (torch.floor(j * step[:, None]) + start[:, None]).clamp(0, size)
        hi = (torch.ceil((j + 1) * step[:, None]) + start[:, None]).clamp(0, size)
        cells = torch.arange(size, device=input.device)
        return (cells >= lo[..., None]) & (cells < hi[..., None])

    corners = _round_half_away(rois[:, 1:] * spatial_scale).long()
    rows = bin_masks(corners[:, 1], corners[:, 3], h, height)  # (K, h, H)
    cols = bin_masks(corners[:, 0], corners[:, 2], w, width)  # (K, w, W)
    lowest = torch.finfo(input.dtype).min

    def pool(feature, idx):
        # The max over a rectangle is the max over its rows of the max over its columns.
        r, c = rows[idx], cols[idx]
        along_x = torch.where(c[:, None, None], feature[None, :, :, None, :], lowest).amax(-1)
        full = torch.where(r[:, None, :, :, None], along_x[:, :, None], lowest).amax(3)
        empty = ~(r.any(-1)[:, :, None] & c.any(-1)[:, None, :])
        return full.masked_fill(empty[:, None], 0.0)

    chunk = 64  # bounds the (k, C, H, w, W) intermediate
    return _per_image(input, rois, lambda f, idx: torch.cat([pool(f, idx[i : i + chunk])
                                                             for i in range(0, len(idx), chunk)]))  # fmt: skip


def _bilinear_rows(coords: Tensor, valid: Tensor, size: int) -> Tensor:
    """Interpolation weights (K, S, size) of S sample coordinates per roi along one axis,
    with roi_align's border rules: samples beyond [-1, size] count as 0, the rest clamp."""
    c = coords.clamp(min=0)
    low = c.floor().long()
    at_edge = low >= size - 1
    low = low.clamp(max=size - 1)
    c = torch.where(at_edge, low.to(c), c)
    high = torch.where(at_edge, low, low + 1)
    frac = c - low
    keep = (valid & (coords >= -1.0) & (coords <= size)).to(c)
    weights = c.new_zeros(*coords.shape, size)
    weights.scatter_add_(-1, low[..., None], ((1 - frac) * keep)[..., None])
    weights.scatter_add_(-1, high[..., None], (frac * keep)[..., None])
    return weights


def roi_align(input: Tensor, boxes: Tensor | list[Tensor], output_size: int | tuple[int, int],
              spatial_scale: float = 1.0, sampling_ratio: int = -1, aligned: bool = False) -> Tensor:  # fmt: skip
    """Average-pool each box of a feature map into a fixed ``h x w`` grid without rounding
    (Mask R-CNN's RoI Align); computes what ``torchvision.ops.roi_align`` computes.

    Each bin averages ``sampling_ratio x sampling_ratio`` bilinear samples placed evenly inside
    it (``sampling_ratio <= 0``: ``ceil(box size / bins)`` per axis, chosen per box).
    ``aligned=True`` shifts the box by half a cell so that pixel centres line up; with
    ``aligned=False`` boxes are at least one cell wide, as in the original.

    Bilinear sampling is separable, so each output is ``A_y @ F @ A_x^T``: ``A_y (h, H)`` sums
    the row weights of a bin's samples, ``A_x (w, W)`` the column weights.

    Args: as ``roi_pool``, plus ``sampling_ratio`` and ``aligned``.
    Returns:
        Tensor[K, C, h, w].
    """
    rois = _check_rois(input, boxes)
    h, w = _pair(output_size)
    if len(rois) == 0:
        return input.new_zeros(0, input.shape[1], h, w)
    height, width = input.shape[-2:]
    offset = 0.5 if aligned else 0.0
    start = rois[:, 1:3] * spatial_scale - offset  # (K, 2) as (x, y)
    extent = (rois[:, 3:5] - rois[:, 1:3]) * spatial_scale
    if not aligned:
        extent = extent.clamp(min=1.0)
    bins = torch.tensor([w, h], device=input.device, dtype=input.dtype)
    bin_size = extent / bins
    if sampling_ratio > 0:
        grid = torch.full_like(extent, sampling_ratio, dtype=torch.long)
    else:
        grid = torch.ceil(extent / bins).long()
    count = (grid[:, 0] * grid[:, 1]).clamp(min=1).to(input.dtype)

    def axis_weights(axis, bins_n, size):
        g = max(int(grid[:, axis].max()), 1)
        i = torch.arange(g, device=input.device, dtype=input.dtype)
        p = torch.arange(bins_n, device=input.device, dtype=input.dtype)
        gk = grid[:, axis].to(input.dtype)[:, None, None]
        coords = (start[:, axis, None, None] + p[None, :, None] * bin_size[:, axis, None, None]
                  + (i[None, None, :] + 0.5) * bin_size[:, axis, None, None] / gk.clamp(min=1))  # fmt: skip
        valid = (i[None, None, :] < gk).expand_as(coords)
        return _bilinear_rows(coords, valid, size).sum(2)  # (K, bins, size)

    ay = axis_weights(1, h, height)
    ax = axis_weights(0, w, width)

    def pool(feature, idx):
        out = torch.einsum("kyh,chw,kxw->kcyx", ay[idx], feature, ax[idx])
        return out / count[idx, None, None, None]

    return _per_image(input, rois, pool)


# --- Faster R-CNN: anchors and their labels ------------------------------------------------


def anchor_grid(grid_size: tuple[int, int], stride: int | tuple[int, int], sizes: tuple[float, ...],
                aspect_ratios: tuple[float, ...], dtype: torch.dtype = torch.float32,
                device: torch.device | str | None = None) -> Tensor:  # fmt: skip
    """Every anchor box of one feature map, as torchvision's ``AnchorGenerator`` makes them.

    Each location (row ``i``, column ``j``) gets ``len(aspect_ratios) * len(sizes)`` boxes
    centred on the image point ``(j * stride_x, i * stride_y)``; an anchor of size ``s`` and
    ratio ``r = height / width`` has area ``s**2``: width ``s / sqrt(r)``, height
    ``s * sqrt(r)``, corners rounded to whole pixels.

    Args:
        grid_size: (rows, columns) of the feature map.
        stride: image pixels per feature cell, (y, x) or one int.
    Returns:
        Tensor[rows * columns * A, 4] (x1, y1, x2, y2): locations row-major, and at each one
        the anchors ratio-major (all sizes of the first ratio first).
    """
    if not sizes or not aspect_ratios or min(sizes) <= 0 or min(aspect_ratios) <= 0:
        raise ValueError(f"sizes and aspect_ratios must be non-empty and positive; got {sizes}, {aspect_ratios}")  # fmt: skip
    stride_y, stride_x = (stride, stride) if isinstance(stride, int) else stride
    scales = torch.as_tensor(sizes, dtype=dtype, device=device)
    ratios = torch.as_tensor(aspect_ratios, dtype=dtype, device=device)
    h_ratios = ratios.sqrt()
    ws = (scales[None, :] / h_ratios[:, None]).reshape(-1)
    hs = (scales[None, :] * h_ratios[:, None]).reshape(-1)
    cell = (torch.stack((-ws, -hs, ws, hs), 1) / 2).round()
    ys = torch.arange(grid_size[0], device=device, dtype=dtype) * stride_y
    xs = torch.arange(grid_size[1], device=device, dtype=dtype) * stride_x
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    shifts = torch.stack((x, y, x, y), -1).reshape(-1, 1, 4)
    return (shifts + cell[None]).reshape(-1, 4)


def label_anchors(anchors: Tensor, gt_boxes: Tensor, fg_iou_threshold: float = 0.7,
                  bg_iou_threshold: float = 0.3, allow_low_quality_matches: bool = True
                  ) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Faster R-CNN's anchor labels, as torchvision's ``Matcher`` + RPN assign them.

    An anchor is positive (1) when its best IoU with a ground-truth box is >= fg, negative (0)
    when it is < bg, and ignored (-1) in between. With ``allow_low_quality_matches``, the
    anchors that overlap a ground-truth box best (ties included) are positive too, so every
    object has a positive anchor; like torchvision, such an anchor regresses towards its own
    best box, which can be a neighbouring object when two overlap.

    Args:
        anchors (Tensor[A, 4]), gt_boxes (Tensor[G, 4]) in (x1, y1, x2, y2).
    Returns:
        labels (Tensor[A] int64 in {1, 0, -1}), matched (Tensor[A] int64): the index of each
        anchor's best ground-truth box (0 when there is none; use it for positives only).
    """
    _check_boxes(anchors, "anchors")
    _check_boxes(gt_boxes, "gt_boxes")
    if bg_iou_threshold > fg_iou_threshold:
        raise ValueError("bg_iou_threshold must not exceed fg_iou_threshold")
    if len(gt_boxes) == 0:
        zeros = torch.zeros(len(anchors), dtype=torch.long, device=anchors.device)
        return zeros, zeros.clone()
    iou = box_iou(gt_boxes, anchors)  # (G, A)
    best_iou, matched = iou.max(0)
    labels = torch.full_like(matched, -1)
    labels[best_iou >= fg_iou_threshold] = 1
    labels[best_iou < bg_iou_threshold] = 0
    if allow_low_quality_matches:
        best_for_gt = iou.max(1, keepdim=True).values
        labels[(iou == best_for_gt).any(0)] = 1
    return labels, matched


def sample_balanced(labels: Tensor, batch_size_per_image: int, positive_fraction: float,
                    generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Pick at most ``batch_size_per_image`` labelled items, up to ``positive_fraction`` of them
    positive (label >= 1), the rest negative (label 0); -1 is never picked. When positives are
    short, negatives fill the batch (torchvision's ``BalancedPositiveNegativeSampler``).

    Args:
        labels (Tensor[A]).
    Returns:
        positive, negative (Tensor[A] bool masks).
    """
    positive, negative = (labels >= 1).nonzero()[:, 0], (labels == 0).nonzero()[:, 0]
    num_pos = min(int(batch_size_per_image * positive_fraction), len(positive))
    num_neg = min(batch_size_per_image - num_pos, len(negative))

    def pick(idx, k):
        mask = torch.zeros(len(labels), dtype=torch.bool, device=labels.device)
        perm = torch.randperm(len(idx), generator=generator)[:k].to(labels.device)
        mask[idx[perm]] = True
        return mask

    return pick(positive, num_pos), pick(negative, num_neg)


# --- the course's small two-stage detector (chapters 04 and 05) -----------------------------


class SmallBackbone(torch.nn.Sequential):
    """Image (N, 3, H, W) -> feature map (N, 2 * width, H / 4, W / 4): four 3x3 conv + batch
    norm + ReLU blocks, the first two followed by 2x2 max pooling. ``out_channels`` is what
    torchvision's detectors ask of a backbone."""

    def __init__(self, width: int = 32):
        def block(cin, cout, pool):
            layers = [torch.nn.Conv2d(cin, cout, 3, padding=1), torch.nn.BatchNorm2d(cout), torch.nn.ReLU()]  # fmt: skip
            return layers + [torch.nn.MaxPool2d(2)] if pool else layers

        super().__init__(*block(3, width // 2, True), *block(width // 2, width, True),
                         *block(width, 2 * width, False), *block(2 * width, 2 * width, False))  # fmt: skip
        self.out_channels = 2 * width


def small_faster_rcnn(num_classes: int, image_size: int, width: int = 32,
                      anchor_sizes: tuple[int, ...] = (12, 20, 32),
                      aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0), pool: int = 5,
                      rois_per_image: int = 32, anchors_per_image: int = 64, hidden: int = 128):  # fmt: skip
    """torchvision's ``FasterRCNN`` sized for the shapes world, without pretrained weights.

    ``SmallBackbone(width)`` (one feature map at stride 4), one anchor size set, RoI align to
    ``pool x pool`` cells, a two-layer box head of ``hidden`` units; images are neither
    resized nor normalised (``image_size`` in, ``image_size`` out); 300 proposals before NMS
    and 100 (training) / 50 (test) after; ``anchors_per_image`` anchors and
    ``rois_per_image`` regions sampled per image for the losses.

    Args:
        num_classes: object classes, background not counted.
    """
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.rpn import AnchorGenerator
    from torchvision.ops import MultiScaleRoIAlign

    backbone = SmallBackbone(width)
    return FasterRCNN(
        backbone, num_classes=None,  # given by the predictor
        min_size=image_size, max_size=image_size, image_mean=[0.0] * 3, image_std=[1.0] * 3,
        rpn_anchor_generator=AnchorGenerator((tuple(anchor_sizes),), (tuple(aspect_ratios),)),
        rpn_pre_nms_top_n_train=300, rpn_post_nms_top_n_train=100,
        rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=50,
        rpn_batch_size_per_image=anchors_per_image, box_batch_size_per_image=rois_per_image,
        box_roi_pool=MultiScaleRoIAlign(["0"], pool, sampling_ratio=2),
        box_head=TwoMLPHead(backbone.out_channels * pool * pool, hidden),
        box_predictor=FastRCNNPredictor(hidden, num_classes + 1),
    )  # fmt: skip
