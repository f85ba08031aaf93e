"""Metric learning and retrieval: losses, triplet mining, ranking metrics and hashing.

Embeddings are rows: ``(N, D)`` tensors. Distances are Euclidean unless a docstring says
otherwise; "similarity" is a dot product (a cosine for unit-length rows).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# --- losses ------------------------------------------------------------------------------


def contrastive_loss(x0: Tensor, x1: Tensor, same: Tensor, margin: float) -> Tensor:
    """The lecture's contrastive (margin) loss, averaged over pairs:
    ``y · d² + (1 − y) · max(0, m − d)²`` with ``d`` the Euclidean distance of each pair.

    Args:
        x0, x1 (Tensor[N, D]): the two embeddings of each pair.
        same (Tensor[N]): 1 (or True) where the pair shows the same identity.
    """
    d = (x0 - x1).pow(2).sum(1).clamp_min(1e-12).sqrt()  # clamp: d's gradient is 1/d at 0
    y = same.float()
    return (y * d.pow(2) + (1 - y) * F.relu(margin - d).pow(2)).mean()


def triplet_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float) -> Tensor:
    """The lecture's triplet loss with squared distances, averaged over triplets:
    ``max(0, m + d(a, p)² − d(a, n)²)``. Equals ``nn.TripletMarginWithDistanceLoss`` with a
    squared Euclidean distance function.

    Args:
        anchor, positive, negative (Tensor[N, D]).
    """
    d_ap = (anchor - positive).pow(2).sum(1)
    d_an = (anchor - negative).pow(2).sum(1)
    return F.relu(margin + d_ap - d_an).mean()


def vse_loss(images: Tensor, captions: Tensor, margin: float = 0.2,
             max_violation: bool = False) -> Tensor:  # fmt: skip
    """VSE++'s hinge loss (Faghri et al., 2018) for a batch of matching pairs.

    Row i of ``images`` matches row i of ``captions``; every other row is a negative. With
    ``s = images @ captions.T``, each pair pays ``[α − s(i, c) + s(i, ĉ)]₊`` for contrastive
    captions ĉ and ``[α − s(i, c) + s(î, c)]₊`` for contrastive images î: summed over all
    negatives ("sum-hinge", VSE0) or only the hardest of each kind ("max-hinge", VSE++).
    Like the paper's code, the loss is summed over the batch, not averaged.

    Args:
        images, captions (Tensor[B, D]): embeddings, usually unit length.
    """
    scores = images @ captions.T
    positive = scores.diagonal()
    is_pair = torch.eye(len(scores), dtype=torch.bool, device=scores.device)
    cost_caption = (margin - positive[:, None] + scores).masked_fill(is_pair, 0).clamp(min=0)
    cost_image = (margin - positive[None, :] + scores).masked_fill(is_pair, 0).clamp(min=0)
    if max_violation:
        return cost_caption.amax(1).sum() + cost_image.amax(0).sum()
    return cost_caption.sum() + cost_image.sum()


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """SimCLR's NT-Xent loss (Chen et al., 2020) for B pairs of views.

    The 2B embeddings are normalised; each one must pick its partner view out of the other
    2B − 1 by cosine similarity / temperature (a cross-entropy), averaged over all 2B.
    Equals pytorch-metric-learning's ``NTXentLoss(temperature)`` on ``cat(z1, z2)`` with
    labels ``cat(arange(B), arange(B))``.

    Args:
        z1, z2 (Tensor[B, D]): the two views' embeddings; row i of each comes from image i.
    """
    z = F.normalize(torch.cat((z1, z2)), dim=1)
    self_pair = torch.eye(len(z), dtype=torch.bool, device=z.device)
    sim = (z @ z.T / temperature).masked_fill(self_pair, float("-inf"))  # not its own partner
    b = len(z1)
    partner = torch.cat((torch.arange(b, 2 * b), torch.arange(b))).to(z.device)
    return F.cross_entropy(sim, partner)


# --- mining ------------------------------------------------------------------------------


def batch_hard(distances: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Batch-hard mining (Hermans et al., 2017): for every anchor, its farthest positive
    and its nearest negative. Equals pytorch-metric-learning's ``BatchHardMiner``.

    Args:
        distances (Tensor[N, N]): pairwise distances within the batch.
        labels (Tensor[N]): identities; every anchor needs one positive and one negative.
    Returns:
        (positive_idx, negative_idx), each Tensor[N] long.
    """
    same = labels[:, None] == labels[None, :]
    self_pair = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    if not ((same & ~self_pair).any(1) & (~same).any(1)).all():
        raise ValueError("batch_hard: every anchor needs a positive and a negative in the batch")
    hardest_positive = distances.masked_fill(~same | self_pair, float("-inf")).argmax(1)
    hardest_negative = distances.masked_fill(same, float("inf")).argmin(1)
    return hardest_positive, hardest_negative


def semihard_triplets(distances: Tensor, labels: Tensor, margin: float) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """All semi-hard triplets (Schroff et al., 2015): the negative is farther than the
    positive, but by no more than the margin, ``d(a, p) < d(a, n) ≤ d(a, p) + m``. Equals
    pytorch-metric-learning's ``TripletMarginMiner(margin, type_of_triplets="semihard")``.

    Args:
        distances (Tensor[N, N]), labels (Tensor[N]).
    Returns:
        (anchor_idx, positive_idx, negative_idx), each Tensor[T] long.
    """
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    gap = distances[:, None, :] - distances[:, :, None]  # [a, p, n] = d(a, n) - d(a, p)
    keep = positive[:, :, None] & ~same[:, None, :] & (gap > 0) & (gap <= margin)
    return keep.nonzero(as_tuple=True)


# --- ranking -----------------------------------------------------------------------------


def first_relevant_rank(scores: Tensor, relevant: Tensor) -> Tensor:
    """0-based rank of each query's best-ranked relevant item: how many items score strictly
    higher than it. A query with no relevant item gets the number of items.

    Args:
        scores (Tensor[Q, N]): higher is closer.
        relevant (Tensor[Q, N] bool).
    Returns:
        Tensor[Q] long.
    """
    best = scores.masked_fill(~relevant, float("-inf")).amax(1, keepdim=True)
    rank = (scores > best).sum(1)
    return torch.where(relevant.any(1), rank, scores.shape[1])


def recall_at_k(ranks: Tensor, k: int) -> float:
    """The share of queries whose first relevant item is among the top k (VSE++'s R@K,
    torchmetrics' ``RetrievalHitRate``): ``ranks`` are 0-based, from ``first_relevant_rank``."""
    return (ranks < k).float().mean().item()


def median_rank(ranks: Tensor) -> float:
    """VSE++'s median rank: ``floor(median(ranks)) + 1`` with 0-based ranks (NumPy's median,
    the mean of the middle two for an even count)."""
    return float(torch.quantile(ranks.double(), 0.5).floor().item() + 1)


def roc_curve(scores: Tensor, positive: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """False and true positive rates of ``score >= threshold`` for every threshold, highest
    threshold first (the curve starts at (0, 0)), and the area under it.

    Args:
        scores (Tensor[N]), positive (Tensor[N] bool).
    Returns:
        fpr (Tensor[T+1]), tpr (Tensor[T+1]), auc (Tensor[]) with T distinct scores.
    """
    order = scores.argsort(descending=True)
    scores, positive = scores[order], positive[order].float()
    tp, fp = positive.cumsum(0), (1 - positive).cumsum(0)
    last = torch.cat((scores[1:] != scores[:-1], scores.new_ones(1, dtype=torch.bool)))
    zero = scores.new_zeros(1)
    tpr = torch.cat((zero, tp[last] / tp[-1]))
    fpr = torch.cat((zero, fp[last] / fp[-1]))
    return fpr, tpr, torch.trapezoid(tpr, fpr)


# --- search ------------------------------------------------------------------------------


def exact_search(queries: Tensor, database: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Brute-force k nearest neighbours by squared Euclidean distance, like faiss
    ``IndexFlatL2``: (distances, indices), each (Q, k), nearest first."""
    d = torch.cdist(queries, database).pow(2)
    dist, idx = d.topk(k, dim=1, largest=False)
    return dist, idx


def lsh_codes(x: Tensor, planes: Tensor) -> Tensor:
    """Random-hyperplane hashing (Charikar, 2002): bit j says on which side of hyperplane j
    a vector lies, ``x · planes[j] >= 0`` (faiss's rule: a vector on the plane gets 1). Two
    vectors at angle θ differ on each bit with probability θ / π. Returns Tensor[N, bits]
    bool for x (Tensor[N, D]), planes (Tensor[bits, D])."""
    return x @ planes.T >= 0


def lsh_search(queries: Tensor, database: Tensor, planes: Tensor, k: int) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The k database vectors whose codes are nearest the query's in Hamming distance.

    Returns:
        (distances Tensor[Q, k] long, indices Tensor[Q, k] long), nearest first.
    """
    q = lsh_codes(queries, planes).float() * 2 - 1  # ±1: agreements - disagreements = q · d
    d = lsh_codes(database, planes).float() * 2 - 1
    hamming = (
        planes.shape[0] - q @ d.T
    ) / 2  # float: a Q × N long matrix would take twice the memory
    dist, idx = hamming.topk(k, dim=1, largest=False)
    return dist.round().long(), idx


def pack_codes(bits: Tensor) -> Tensor:
    """Bits (N, B) bool -> bytes (N, ceil(B / 8)) uint8, least significant bit first: the
    layout of faiss's binary codes (``np.packbits(..., bitorder="little")``)."""
    n, b = bits.shape
    padded = F.pad(bits.to(torch.uint8), (0, -b % 8)).view(n, -1, 8)
    weights = 2 ** torch.arange(8, dtype=torch.uint8, device=bits.device)
    return (padded * weights).sum(2, dtype=torch.uint8)
