"""Region proposals in the spirit of selective search (Uijlings et al., 2013).

1. Over-segment the image into small coherent regions (Felzenszwalb & Huttenlocher's graph
   segmentation, from scikit-image).
2. Repeatedly merge the two most similar *neighbouring* regions (similar colours, both small,
   and filling their joint bounding box well) until one region is left.
3. Every region ever formed, small or merged, proposes its bounding box.

Several segmentation scales are combined ("diversification"), and the proposals are ranked
as in the paper: a region's position in its hierarchy (the last merge first) times a random
number, so that the first proposals mix large and small regions.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import find_objects
from torch import Tensor

HISTOGRAM_BINS = 8  # per colour channel


def _regions_and_neighbours(segments: np.ndarray, image: np.ndarray):
    """Per-segment pixel count, colour histogram, box, and the set of adjacent pairs."""
    n = int(segments.max()) + 1
    flat = segments.ravel()
    size = np.bincount(flat, minlength=n).astype(np.float64)
    bins = np.minimum((image * HISTOGRAM_BINS).astype(np.int64), HISTOGRAM_BINS - 1)
    bins = bins + np.arange(3) * HISTOGRAM_BINS  # channel c uses bins [8c, 8c + 8)
    width = 3 * HISTOGRAM_BINS
    hist = np.bincount((flat[:, None] * width + bins.reshape(-1, 3)).ravel(), minlength=n * width)
    hist = hist.reshape(n, width) / (3 * size[:, None])
    slices = find_objects(segments + 1)  # one (rows, cols) slice pair per segment
    box = np.array([[c.start, r.start, c.stop, r.stop] for r, c in slices], dtype=np.float64)
    pairs = np.concatenate(
        [
            np.stack([segments[:, :-1].ravel(), segments[:, 1:].ravel()], 1),
            np.stack([segments[:-1, :].ravel(), segments[1:, :].ravel()], 1),
        ]
    )
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    adjacent = np.zeros((n, n), dtype=bool)
    adjacent[pairs[:, 0], pairs[:, 1]] = adjacent[pairs[:, 1], pairs[:, 0]] = True
    return size, hist, box, adjacent


def _hierarchy(segments: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Boxes of all regions of one greedy merging hierarchy, in creation order."""
    size, hist, box, adjacent = _regions_and_neighbours(segments, image)
    n, total = len(size), float(segments.size)
    # Room for the n starting regions and the n - 1 merged ones.
    size = np.concatenate([size, np.zeros(n - 1)])
    hist = np.concatenate([hist, np.zeros((n - 1, hist.shape[1]))])
    box = np.concatenate([box, np.zeros((n - 1, 4))])
    alive = np.zeros(2 * n - 1, dtype=bool)
    alive[:n] = True
    adj = np.zeros((2 * n - 1, 2 * n - 1), dtype=bool)
    adj[:n, :n] = adjacent

    def similarity(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        joint = np.concatenate([np.minimum(box[i, :2], box[j, :2]),
                                np.maximum(box[i, 2:], box[j, 2:])], -1)  # fmt: skip
        joint_area = (joint[..., 2] - joint[..., 0]) * (joint[..., 3] - joint[..., 1])
        colour = np.minimum(hist[i], hist[j]).sum(-1)  # histogram intersection, in [0, 1]
        small = 1 - (size[i] + size[j]) / total  # merge small regions first
        fill = 1 - (joint_area - size[i] - size[j]) / total  # regions that fit together
        return colour + small + fill

    sim = np.full((2 * n - 1, 2 * n - 1), -np.inf)
    i, j = np.nonzero(np.triu(adj))
    sim[i, j] = similarity(i, j)
    for new in range(n, 2 * n - 1):
        flat = int(np.argmax(sim))
        a, b = divmod(flat, sim.shape[1])
        if not np.isfinite(sim[a, b]):  # disconnected leftovers (cannot happen on a grid)
            break
        size[new] = size[a] + size[b]
        hist[new] = (size[a] * hist[a] + size[b] * hist[b]) / size[new]
        box[new] = [*np.minimum(box[a, :2], box[b, :2]), *np.maximum(box[a, 2:], box[b, 2:])]
        neighbours = (adj[a] | adj[b]) & alive
        neighbours[[a, b]] = False
        alive[[a, b]], alive[new] = False, True
        sim[[a, b], :], sim[:, [a, b]] = -np.inf, -np.inf
        adj[new], adj[:, new] = neighbours, neighbours
        others = np.nonzero(neighbours)[0]
        sim[others, new] = similarity(others, new)
    return box[: new + 1] if n > 1 else box[:1]


def selective_search(image: Tensor, scales: tuple[float, ...] = (30, 100, 300), sigma: float = 0.8,
                     min_size: int = 10, seed: int = 0) -> Tensor:  # fmt: skip
    """Class-agnostic region proposals for one image.

    Args:
        image (Tensor[3, H, W]): RGB in [0, 1].
        scales: Felzenszwalb ``scale`` values, one hierarchy each: larger gives fewer, larger
            starting regions.
        sigma, min_size: Felzenszwalb's smoothing and smallest segment, in pixels.
        seed: for the random part of the ranking.
    Returns:
        Tensor[P, 4] float in (x1, y1, x2, y2), pixel-edge coordinates, best-ranked first,
        without duplicates.
    """
    from skimage.segmentation import felzenszwalb

    if not isinstance(image, Tensor) or image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(
            f"image must be a Tensor[3, H, W]; got {getattr(image, 'shape', type(image))}"
        )
    pixels = image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    rng = np.random.default_rng(seed)
    boxes, ranks = [], []
    for scale in scales:
        segments = felzenszwalb(pixels, scale=scale, sigma=sigma, min_size=min_size)
        hierarchy = _hierarchy(segments, pixels)
        # The last region formed gets position 1, the first starting segment the largest.
        position = np.arange(len(hierarchy), 0, -1, dtype=np.float64)
        boxes.append(hierarchy)
        ranks.append(position * rng.random(len(hierarchy)))
    boxes_np, ranks_np = np.concatenate(boxes), np.concatenate(ranks)
    boxes_np = boxes_np[np.argsort(ranks_np, kind="stable")]
    _, first = np.unique(boxes_np, axis=0, return_index=True)  # keep each box's best rank
    return torch.from_numpy(boxes_np[np.sort(first)]).float()
