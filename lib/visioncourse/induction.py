"""Counting by enumeration with a spatial memory: inductive localisation (Gupta, Vedaldi &
Zisserman, 2018), and the read-out of an end-to-end counter.

The inductive model's whole recurrent state is one map ``m_t`` of where it has already
looked. At each step a network ``Φ(x, m_t)`` gives ``p(y_{t+1})``, a distribution over the
cells of a grid plus one *stop* class (the last index), and ``Δm``, the footprint to add to
the memory. It trains on single steps — tuples ``(x, y_{t+1}, m_t, m_{t+1})`` cut from
scenes whose objects are listed in some order — so it never sees a whole sequence, and the
length of the sequences it can run is not bounded by the ones it saw.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def object_cells(centers: Tensor, present: Tensor, stride: int, grid: int) -> Tensor:
    """The grid cell of each object's centre, numbered row by row; ``grid * grid`` (the stop
    class) for empty slots.

    Args:
        centers (Tensor[N, K, 2]): (cx, cy) in pixels; present (Tensor[N, K] bool).
        stride: pixels per cell; grid: cells per side.
    Returns:
        Tensor[N, K] long, in ``0 .. grid * grid``.
    """
    if centers.shape[:-1] != present.shape or centers.shape[-1] != 2:
        raise ValueError(
            f"centers must be (N, K, 2) and present (N, K); got {tuple(centers.shape)} and "
            f"{tuple(present.shape)}"
        )
    xy = (centers / stride).floor().long().clamp(0, grid - 1)
    cells = xy[..., 1] * grid + xy[..., 0]
    return torch.where(present, cells, torch.full_like(cells, grid * grid))


def step_tuples(masks: Tensor, cells: Tensor, counts: Tensor, steps: Tensor, stop: int):
    """One training tuple per scene: the memory before step ``t``, the target of step ``t``
    and the memory after it.

    Args:
        masks (Tensor[N, K, h, w] bool): each object's footprint on the memory grid, in the
            order of enumeration (slots ``>= counts`` are empty).
        cells (Tensor[N, K] long): each object's cell, the class to predict when it is next.
        counts (Tensor[N] long): objects per scene; steps (Tensor[N] long): ``t`` in
            ``0 .. counts``.
        stop: the class that says "no object left".
    Returns:
        memory (Tensor[N, h, w] float): the union of the first ``t`` footprints;
        target (Tensor[N] long): ``cells[t]``, or ``stop`` when ``t == counts``;
        next_memory (Tensor[N, h, w] float): the union of the first ``t + 1`` footprints
        (the same as ``memory`` at the stop step).
    """
    n, k = cells.shape
    if masks.shape[:2] != (n, k) or counts.shape != (n,) or steps.shape != (n,):
        raise ValueError(
            f"need masks (N, K, h, w), cells (N, K), counts (N,), steps (N,); got "
            f"{tuple(masks.shape)}, {tuple(cells.shape)}, {tuple(counts.shape)}, {tuple(steps.shape)}"
        )
    if ((steps < 0) | (steps > counts)).any():
        raise ValueError("steps must lie in 0 .. counts")
    slot = torch.arange(k, device=masks.device)[None]
    before = (slot < steps[:, None])[:, :, None, None]
    upto = (slot <= steps[:, None])[:, :, None, None] & (slot < counts[:, None])[:, :, None, None]
    memory = (masks & before).any(1).float()
    next_memory = (masks & upto).any(1).float()
    target = cells.gather(1, steps.clamp(max=k - 1)[:, None])[:, 0]
    target = torch.where(steps < counts, target, torch.full_like(target, stop))
    return memory, target, next_memory


def inductive_loss(location_logits: Tensor, delta_memory: Tensor, target: Tensor, memory: Tensor,
                   next_memory: Tensor, gamma: float = 1.0) -> Tensor:  # fmt: skip
    """``−log p(y_{t+1} | x, m_t) + γ ‖m_t + Δm − m_{t+1}‖²``, averaged over the batch.

    Args:
        location_logits (Tensor[N, C + 1]): scores of the C cells and of stop (last);
        delta_memory, memory, next_memory (Tensor[N, h, w]); target (Tensor[N] long).
        gamma: weight of the memory term, whose squared error is averaged over pixels.
    Returns:
        0-d tensor.
    """
    return F.cross_entropy(location_logits, target) + gamma * F.mse_loss(
        memory + delta_memory, next_memory
    )


@torch.no_grad()
def count_by_induction(model: Callable, images: Tensor, memory_shape: tuple[int, int],
                       max_steps: int = 12, round_memory: bool = True) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Run the inductive model until it says stop, one step for every scene at once.

    ``model(images, memory) -> (location_logits (N, C + 1), delta_memory (N, h, w))``, where
    the last class is stop. The memory starts at zero; after each step that is not a stop,
    the footprint ``delta_memory > 0.5`` is added to it (the memory stays 0/1, like the
    memories the model was trained on). A scene that stopped keeps its count and memory.
    ``round_memory=False`` adds the raw ``delta_memory`` instead, clipped to [0, 1], as the
    update ``m_{t+1} = m_t + Δm`` is written.

    Returns:
        counts (Tensor[N] long): steps taken before the first stop (``max_steps`` if never);
        memories (Tensor[max_steps + 1, N, h, w]): the memory before each step, and at the end.
    """
    n = len(images)
    memory = torch.zeros(n, *memory_shape, device=images.device)
    counts = torch.zeros(n, dtype=torch.long, device=images.device)
    done = torch.zeros(n, dtype=torch.bool, device=images.device)
    memories = [memory]
    for _ in range(max_steps):
        logits, delta = model(images, memory)
        done = done | (logits.argmax(1) == logits.shape[1] - 1)
        counts += (~done).long()
        if round_memory:
            new = torch.maximum(memory, (delta > 0.5).float())
        else:
            new = (memory + delta).clamp(0, 1)
        memory = torch.where(done[:, None, None], memory, new)
        memories.append(memory)
    return counts, torch.stack(memories)


def sequence_targets(cells: Tensor, counts: Tensor, stop: int, start: int,
                     ignore_index: int = -100) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Teacher forcing for an end-to-end model that emits one object's cell per step, in
    reading order (row by row, so by increasing cell index), then ``stop``.

    Args:
        cells (Tensor[N, K] long): each object's cell, ``stop`` in empty slots (as
            ``object_cells`` gives them); counts (Tensor[N] long): objects per scene.
        stop, start: the stop and start tokens.
    Returns:
        inputs (Tensor[N, K + 1] long): ``start``, then the sorted cells (``stop`` past the
        count); targets (Tensor[N, K + 1] long): the sorted cells, ``stop`` at position
        ``counts``, ``ignore_index`` after it.
    """
    if cells.dim() != 2 or counts.shape != cells.shape[:1]:
        raise ValueError(
            f"need cells (N, K) and counts (N,); got {tuple(cells.shape)}, {tuple(counts.shape)}"
        )
    ordered = cells.sort(1).values  # stop is the largest token, so empty slots go last
    inputs = torch.cat((torch.full_like(ordered[:, :1], start), ordered), 1)
    targets = torch.cat((ordered, torch.full_like(ordered[:, :1], stop)), 1)
    position = torch.arange(targets.shape[1], device=cells.device)[None]
    targets = torch.where(
        position > counts[:, None], torch.full_like(targets, ignore_index), targets
    )
    return inputs, targets


def count_from_tokens(tokens: Tensor, end: int) -> Tensor:
    """The count an end-to-end model emitted: the position of the first ``end`` token in each
    row (the number of tokens before it), or the row's length if it never ended.

    Args:
        tokens (Tensor[N, L] long).
    Returns:
        Tensor[N] long.
    """
    if tokens.dim() != 2:
        raise ValueError(f"tokens must be (N, L); got {tuple(tokens.shape)}")
    ended = tokens == end
    return torch.where(
        ended.any(1), ended.int().argmax(1), torch.full_like(tokens[:, 0], tokens.shape[1])
    )


def scripted_model(cells_per_image: list[list[int]], grid: int, footprint: float = 0.9) -> Callable:
    """A perfect ``Φ`` for testing an inference loop, on a ``grid × grid`` memory (one memory
    pixel per cell): it points at the first listed cell of each image that is still below 0.5
    in memory, or at stop (class ``grid * grid``) when none is left, and draws ``footprint``
    on that cell alone.

    Args:
        cells_per_image: the cells of each image's objects, in the order to visit them.
    Returns:
        ``model(images, memory) -> (location_logits (N, grid² + 1), delta_memory (N, grid, grid))``.
    """

    def model(images: Tensor, memory: Tensor) -> tuple[Tensor, Tensor]:
        logits = torch.full((len(memory), grid * grid + 1), -10.0)
        delta = torch.zeros_like(memory)
        for i, cells in enumerate(cells_per_image):
            left = [c for c in cells if memory[i].flatten()[c] < 0.5]
            logits[i, left[0] if left else grid * grid] = 10.0
            if left:
                delta[i].view(-1)[left[0]] = footprint
        return logits, delta

    return model
