"""visioncourse.induction: training tuples, the loss, the inference loop and the token read-out."""

import pytest
import torch
import torch.nn.functional as F

from visioncourse import induction
from visioncourse.data.shapes import ShapesConfig, generate


def test_object_cells_by_hand():
    centers = torch.tensor([[[1.0, 1.0], [9.5, 4.2], [15.9, 15.9]]])
    present = torch.tensor([[True, True, False]])
    assert induction.object_cells(centers, present, stride=4, grid=4).tolist() == [[0, 6, 16]]
    with pytest.raises(ValueError, match="centers"):
        induction.object_cells(centers[..., :1], present, 4, 4)


def test_step_tuples_walk_through_a_scene():
    masks = torch.zeros(1, 3, 2, 3, dtype=torch.bool)
    masks[0, 0, 0, 0] = masks[0, 1, 1, 2] = True  # slot 2 is empty
    cells, counts = torch.tensor([[4, 7, 9]]), torch.tensor([2])
    seen = [
        induction.step_tuples(masks, cells, counts, torch.tensor([t]), stop=9) for t in range(3)
    ]
    memories = [m for m, _, _ in seen] + [seen[-1][2]]
    assert [m.sum().item() for m in memories] == [0, 1, 2, 2]
    assert [y.item() for _, y, _ in seen] == [4, 7, 9]
    for (_, _, after), (before, _, _) in zip(seen, seen[1:]):
        assert torch.equal(after, before)  # m_{t+1} of one step is m_t of the next
    with pytest.raises(ValueError, match="steps"):
        induction.step_tuples(masks, cells, counts, torch.tensor([3]), stop=9)


def test_step_tuples_on_the_shapes_world_batched():
    batch = generate(
        16,
        ShapesConfig(image_size=32, min_objects=1, max_objects=5, min_size=0.12, max_size=0.18),
        seed=1,
    )
    counts = batch.present.sum(1)
    cells = induction.object_cells(batch.scene.center, batch.present, 4, 8)
    steps = counts // 2
    memory, target, after = induction.step_tuples(batch.masks, cells, counts, steps, stop=64)
    for i in range(16):  # against a loop over scenes
        t = steps[i].item()
        assert torch.equal(memory[i].bool(), batch.masks[i, :t].any(0))
        assert torch.equal(after[i].bool(), batch.masks[i, : t + 1].any(0))
        assert target[i] == cells[i, t]


def test_inductive_loss_is_cross_entropy_plus_memory_error():
    g = torch.Generator().manual_seed(0)
    logits, delta = torch.randn(4, 10, generator=g), torch.rand(4, 3, 3, generator=g)
    memory, after = torch.zeros(4, 3, 3), (torch.rand(4, 3, 3, generator=g) > 0.5).float()
    target = torch.tensor([0, 9, 3, 3])
    expected = F.nll_loss(logits.log_softmax(1), target) + 0.5 * ((delta - after) ** 2).mean()
    got = induction.inductive_loss(logits, delta, target, memory, after, gamma=0.5)
    assert torch.allclose(got, expected)


def test_count_by_induction_with_a_perfect_model():
    scenes = [[0, 5, 10], [], [3, 12, 15, 1, 2, 6, 7, 8]]  # 3, 0 and 8 objects on a 4 x 4 grid
    model = induction.scripted_model(scenes, grid=4)
    counts, memories = induction.count_by_induction(model, torch.zeros(3, 1), (4, 4), max_steps=10)
    assert counts.tolist() == [3, 0, 8]
    assert memories.shape == (11, 3, 4, 4)
    assert memories[-1].flatten(1).sum(1).tolist() == [3, 0, 8]
    assert set(memories.unique().tolist()) <= {0.0, 1.0}  # footprints are rounded
    counts, _ = induction.count_by_induction(model, torch.zeros(3, 1), (4, 4), max_steps=5)
    assert counts.tolist() == [3, 0, 5]  # never stopped: the step budget


def test_count_from_tokens():
    tokens = torch.tensor([[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    assert induction.count_from_tokens(tokens, end=1).tolist() == [2, 0, 4]
    with pytest.raises(ValueError):
        induction.count_from_tokens(tokens[0], end=1)


def test_count_by_induction_soft_memory_adds_the_raw_footprint():
    model = induction.scripted_model([[0, 5]], grid=4)  # footprints of 0.9, kept as they are
    _, memories = induction.count_by_induction(
        model, torch.zeros(1, 1), (4, 4), max_steps=3, round_memory=False
    )
    assert memories[-1].flatten()[[0, 5]].tolist() == pytest.approx([0.9, 0.9])


def test_sequence_targets_by_hand():
    cells = torch.tensor([[9, 2, 16, 16], [16, 16, 16, 16]])  # 2 objects (stop = 16), and none
    inputs, targets = induction.sequence_targets(cells, torch.tensor([2, 0]), stop=16, start=17)
    assert inputs.tolist() == [[17, 2, 9, 16, 16], [17, 16, 16, 16, 16]]
    assert targets.tolist() == [[2, 9, 16, -100, -100], [16, -100, -100, -100, -100]]


def test_count_by_induction_stop_is_final():
    """A model that says stop at step 3 and then points again, redrawing marked cells: the loop
    must keep the stop, and take a maximum rather than a sum."""
    calls = []

    def wobbly(images, memory):
        step = len(calls)
        calls.append(step)
        logits = torch.full((len(memory), 17), -10.0)
        logits[:, {0: 0, 1: 5, 2: 16}.get(step, 5)] = 10.0
        delta = torch.zeros_like(memory)
        for cell in {0: [0], 1: [0, 5], 2: [10]}.get(step, [5]):
            delta.view(len(memory), -1)[:, cell] = 0.9
        return logits, delta

    counts, memories = induction.count_by_induction(wobbly, torch.zeros(1, 1), (4, 4), max_steps=4)
    assert counts.tolist() == [2]
    assert memories[:, 0].flatten(1).sum(1).tolist() == [0.0, 1.0, 2.0, 2.0, 2.0]
