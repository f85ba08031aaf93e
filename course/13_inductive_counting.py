# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: 13_inductive_counting
# init_cell: false
# check_all_cell: false
# export_cell: false
# run_tests: false
# solutions_pdf: false
# tests:
#   files: true
#   ok_format: false
# generate: true

# %% [markdown]
# # Chapter 13 — Counting by enumeration, with a spatial memory
#
# **What you will learn**
# - why a recurrent network that counts by pointing at objects one after another can fail on
#   scenes with more objects than it was trained on;
# - the **end-to-end baseline**: a CNN encoder and an LSTM that emits one token per object,
#   then "end", trained on whole sequences;
# - **inductive localisation** (Gupta, Vedaldi & Zisserman, 2018): a model whose whole state
#   is a map of where it has already looked, trained on **single steps** `(x, y_{t+1}, m_t,
#   m_{t+1})` rather than whole sequences — and run for as many steps as the scene needs;
# - how to measure the claim: counting accuracy for 3 to 10 objects after training on at
#   most 5, over several seeds, beside the paper's table.
#
# **Lecture:** the research-topics lecture's talk "Inductive Visual Localisation: Factorised
# Training for Superior Generalisation" (Gupta, Vedaldi & Zisserman, 2018). It builds on
# chapter 08 (LSTMs) and uses chapter 00's shapes world as a stand-in for the paper's
# "coloured shapes" data.
#
# **Run time:** about 70 seconds in fast mode on 2 CPU cores; a few minutes in full mode on a
# GPU.

# %%
# Setup: works locally (after `make lab`) and on Colab, where its first run fetches and
# installs the course. Safe to run again, and after Colab's "Restart session".
import importlib.util
import os
import subprocess
import sys

COURSE_REPO = "https://github.com/vision-beyond-classification/course"
CHAPTER = "13_inductive_counting"
if "google.colab" in sys.modules:
    home = "/content/course"
    if not os.path.isdir(f"{home}/course/student/{CHAPTER}"):  # cloned whole, or not at all:
        subprocess.run(["rm", "-rf", home, f"{home}.partial"], check=True)
        subprocess.run(["git", "clone", "-q", "--depth", "1", COURSE_REPO, f"{home}.partial"], check=True)
        os.rename(f"{home}.partial", home)  # an interrupted clone never looks finished
    if importlib.util.find_spec("visioncourse") is None:  # not installed by an earlier run
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", home], check=True)
        importlib.invalidate_caches()
    os.chdir(f"{home}/course/student/{CHAPTER}")

from visioncourse.exercises import Grader
from visioncourse.runtime import setup, sizes

grader = Grader(CHAPTER, repo=COURSE_REPO)  # runs the public tests in ./tests
rt = setup(seed=0)

# %%
import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from visioncourse import figures, induction
from visioncourse.data.shapes import ShapesConfig, generate
from visioncourse.exercises import use_or_reference
from visioncourse.metrics import compare, mean_std
from visioncourse.train import fit, timer

S = sizes(
    fast=dict(side=32, width=16, train_scenes=20000, test_per_count=150, steps=600, batch=64, seeds=3),
    full=dict(side=48, width=32, train_scenes=60000, test_per_count=500, steps=2000, batch=128, seeds=5),
    mode=rt.mode,
)
S

# %% [markdown]
# ## 1. Counting by pointing
#
# One way to count is to point at the objects one at a time and say "one, two, three…" until
# none is left. A network can do the same: at each step it names where the next object is,
# and the count is the number of steps before it says **stop**. The paper's test is the
# question every sequence model faces: trained on scenes with **at most 5** objects, can it
# count 6, 8, 10?
#
# The scenes come from the shapes world: small coloured shapes (4 to 6 pixels wide, never
# overlapping) on a grainy background, 1 to 5 of them for training; for testing, scenes with
# exactly 3, 4, …, 10. The sizes are in pixels, so full mode's larger images hold the same
# objects with more room around them. A location is a **cell** of a grid with a stride of 4
# pixels, numbered row by row (objects never share a cell: they are at least 4 pixels wide
# and never overlap); **stop** is one more class after the cells.

# %%
SIDE = S.side
WORLD = ShapesConfig(image_size=SIDE, min_objects=1, max_objects=5, min_size=4 / SIDE, max_size=6 / SIDE,
                     num_shapes=4, num_colors=5, background="noise", noise=0.03,
                     elongation=1)  # the square world: 4-6 px objects stay 4-6 px wide
TRAIN_MAX, TEST_COUNTS = 5, range(3, 11)
MAX_STEPS = 12  # the most objects any model may point at: more than the test scenes hold
STRIDE, GRID = 4, SIDE // 4
STOP, START = GRID * GRID, GRID * GRID + 1  # the classes after the cells

train = generate(S.train_scenes, WORLD, seed=0, device=rt.device)
train_counts = train.present.sum(1)
train_cells = induction.object_cells(train.scene.center, train.present, STRIDE, GRID)  # (N, 5), STOP in empty slots


def footprints_of(masks):
    """Each object's mask on the memory grid (half the image's side): any pixel of each 2 x 2 block."""
    return masks.unflatten(2, (SIDE // 2, 2)).unflatten(4, (SIDE // 2, 2)).any(5).any(3)


def scenes_with(count, n, seed):
    """n scenes with exactly `count` objects (a crowded draw can drop one: those are skipped), and
    the share of them in which two objects' footprints touch the same memory pixel."""
    batch = generate(2 * n, WORLD.replace(min_objects=count, max_objects=count), seed=seed, device=rt.device)
    keep = (batch.present.sum(1) == count).nonzero()[:n, 0]
    assert len(keep) == n, "not enough scenes with that many objects"
    touching = (footprints_of(batch.masks[keep]).sum(1) > 1).flatten(1).any(1).float().mean().item()
    return batch.images[keep], touching


tests, touching = {}, {}
for k in TEST_COUNTS:
    tests[k], touching[k] = scenes_with(k, S.test_per_count, seed=100 + k)
print(f"{S.train_scenes} training scenes, objects per scene:", torch.bincount(train_counts.cpu())[1:].tolist(),
      f"(1 to {TRAIN_MAX}); {S.test_per_count} test scenes for each count in {list(TEST_COUNTS)}; "
      f"a grid of {GRID} x {GRID} cells + stop = {STOP + 1} classes")
fig, axes = plt.subplots(1, 8, figsize=(12, 1.9))
for ax, k in zip(axes, TEST_COUNTS):
    ax.imshow(tests[k][0].permute(1, 2, 0).cpu()), ax.set_title(f"{k} objects", fontsize=9), ax.axis("off")
plt.show()

# %% [markdown]
# Two models, drawn below. The **end-to-end** one encodes the image with a CNN and unrolls an
# LSTM that, fed the image's features and its own last token, emits one object's cell per
# step and then `stop`; it learns from whole sequences, and how far it has got must live in
# its hidden state. The **inductive** one has no hidden state at all: its state is a map
# `m_t` of where it has already looked. One network `Φ(x, m_t)` answers two questions —
# where is the next object (or: stop), and which pixels does it cover (`Δm`, added to the
# memory).

# %%
figures.inductive_counting()
plt.show()

# %% [markdown]
# ## 2. The end-to-end baseline
#
# The talk frames enumeration as a sequence whose tokens are 2D locations. Our end-to-end
# model emits the cells of the objects in **reading order** (row by row, so by increasing
# cell number), then `stop`; a `start` token opens the sequence. At each step the LSTM gets
# the image's features — the CNN's map flattened and projected, so it keeps where things
# are — and the embedding of the last token. It is trained with **teacher forcing**: the
# input at step `i` is the true token of step `i − 1`, and the loss is the cross-entropy of
# every step up to and including `stop`. At test time it runs greedily for `MAX_STEPS` steps
# on its own tokens, and the count is the number of tokens before its first `stop`
# (`induction.count_from_tokens`).

# %% [raw]
# # BEGIN QUESTION
# name: ex13_1
# points: 1

# %% [markdown]
# **Exercise 13.1 — whole sequences for teacher forcing.** Complete
# `sequence_targets(cells, counts, stop, start)` for a batch of N scenes:
# `cells (Tensor[N, K] long)` holds each object's cell in no particular order, with `stop`
# in the empty slots; `counts (Tensor[N] long)` the number of objects. Return
# `(inputs, targets)`, both `Tensor[N, K + 1] long`:
# - `targets`: the objects' cells in reading order, then `stop` at position `counts[i]`, then
#   `-100` (the index `F.cross_entropy` ignores) at every later position;
# - `inputs`: `start`, followed by the first `K` tokens of the cells in reading order
#   (`stop` past the count) — the target of each step is the input of the next.
#
# No loop over scenes.

# %% [raw]
# # BEGIN SOLUTION


# %%
def sequence_targets(cells, counts, stop, start):
    # BEGIN SOLUTION
    ordered = cells.sort(1).values  # stop is the largest token: empty slots go last
    inputs = torch.cat((torch.full_like(ordered[:, :1], start), ordered), 1)
    targets = torch.cat((ordered, torch.full_like(ordered[:, :1], stop)), 1)
    position = torch.arange(targets.shape[1], device=cells.device)[None]
    return inputs, torch.where(position > counts[:, None], torch.full_like(targets, -100), targets)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_sequence_targets_by_hand(sequence_targets):
    import torch

    from visioncourse.exercises import expect_equal

    cells = torch.tensor([[9, 2, 16, 16]])  # two objects, stop = 16
    inputs, targets = sequence_targets(cells, torch.tensor([2]), 16, 17)
    name, given = "Exercise 13.1 (sequence_targets)", "cells [9, 2, 16, 16] (stop = 16, start = 17), 2 objects"
    expect_equal(name, targets.tolist(), [[2, 9, 16, -100, -100]], inputs=given,
                 hint="reading order is increasing cell number; then stop at position counts; then -100 (ignored), not 0")
    expect_equal(name, inputs.tolist(), [[17, 2, 9, 16, 16]], inputs=given,
                 hint="inputs are the targets shifted right by one, with start in front: start, 2, 9, stop, stop")


test_sequence_targets_by_hand(sequence_targets)


# %%
def test_sequence_targets_empty_and_full(sequence_targets):
    import torch

    from visioncourse.exercises import expect_equal

    cells = torch.tensor([[4, 4, 4], [7, 1, 3]])  # no object at all (stop = 4), and a full scene
    inputs, targets = sequence_targets(cells, torch.tensor([0, 3]), 4, 5)
    name = "Exercise 13.1 (sequence_targets)"
    given = "a scene with no object, and a full one with cells [7, 1, 3] (stop = 4, start = 5)"
    expect_equal(name, targets.tolist(), [[4, -100, -100, -100], [1, 3, 7, 4]], inputs=given,
                 hint="an empty scene's first target is stop; a full scene's stop goes in the extra last position")
    expect_equal(name, inputs.tolist(), [[5, 4, 4, 4], [5, 1, 3, 7]], inputs=given,
                 hint="start first, then the K sorted cells")


test_sequence_targets_empty_and_full(sequence_targets)


# %%
# HIDDEN
def test_sequence_targets_on_the_world(sequence_targets):

    from visioncourse import induction
    from visioncourse.data.shapes import ShapesConfig, generate
    from visioncourse.exercises import expect_equal

    batch = generate(30, ShapesConfig(image_size=32, min_objects=1, max_objects=5, min_size=0.125, max_size=0.19,
                                      elongation=1), seed=3)
    cells = induction.object_cells(batch.scene.center, batch.present, 4, 8)
    got = sequence_targets(cells, batch.present.sum(1), 64, 65)
    want = induction.sequence_targets(cells, batch.present.sum(1), 64, 65)
    for g, w, what in zip(got, want, ("inputs", "targets")):
        expect_equal("Exercise 13.1 (sequence_targets)", g.tolist(), w.tolist(),
                     inputs="30 shapes-world scenes with 1 to 5 objects (8 x 8 cells)", hint=f"{what}, row by row")


test_sequence_targets_on_the_world(sequence_targets)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
targets_fn = use_or_reference("Exercise 13.1", "sequence_targets", induction.sequence_targets,
                              train_cells[:64], train_counts[:64], STOP, START,
                              adapt=lambda fn: lambda *a: torch.cat(fn(*a), 1))


def conv(c_in, c_out, stride=1):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.BatchNorm2d(c_out), nn.ReLU())


class EndToEndCounter(nn.Module):
    def __init__(self, w=S.width, hidden=64):
        super().__init__()
        self.encoder = nn.Sequential(conv(3, w, 2), conv(w, w), conv(w, w, 2), conv(w, w), conv(w, w))  # 1/4: the cells
        self.context = nn.Linear(w * GRID * GRID, 2 * w)  # the whole map, so the LSTM knows where things are
        self.embed = nn.Embedding(STOP + 2, 16)  # cells, stop, start
        self.lstm = nn.LSTM(2 * w + 16, hidden, batch_first=True)
        self.out = nn.Linear(hidden, STOP + 1)

    def forward(self, images, tokens):
        """Scores of the next token (cells and stop) after each input token: (N, L, STOP + 1)."""
        features = self.context(self.encoder(images).flatten(1))
        steps = torch.cat((features[:, None].expand(-1, tokens.shape[1], -1), self.embed(tokens)), 2)
        return self.out(self.lstm(steps)[0])

    @torch.no_grad()
    def generate(self, images, steps=MAX_STEPS):
        """Greedy decoding from `start`: the tokens emitted at steps 1..steps, (N, steps)."""
        features = self.context(self.encoder(images).flatten(1))
        token, state, emitted = torch.full((len(images),), START, device=images.device), None, []
        for _ in range(steps):
            out, state = self.lstm(torch.cat((features, self.embed(token)), 1)[:, None], state)
            token = self.out(out[:, 0]).argmax(1)
            emitted.append(token)
        return torch.stack(emitted, 1)


def sequence_batches(seed, tokens_of):
    g = torch.Generator().manual_seed(seed)

    def batch(step):
        idx = torch.randint(S.train_scenes, (S.batch,), generator=g).to(rt.device)
        inputs, targets = targets_fn(tokens_of(train_cells[idx]), train_counts[idx], STOP, START)
        return (train.images[idx], inputs), targets
    return batch


def sequence_loss(scores, targets):
    return F.cross_entropy(scores.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)


def accuracy_by_count(count_scenes):
    """{k: (accuracy, mean signed error, the counts given)} over the test scenes with k objects."""
    out = {}
    for k, images in tests.items():
        counted = count_scenes(images)
        error = (counted - k).float()
        out[k] = ((error == 0).float().mean().item(), error.mean().item(), counted.cpu())
    return out


E2E_TOKENS = {  # what the end-to-end model is taught to say for each object
    "end to end, cells": lambda cells: cells,  # where it is, in reading order
    "end to end, obj": lambda cells: torch.where(cells == STOP, STOP, 0),  # only "an object" (token 0)
}
end_to_end, results = {}, {}
for arm, tokens_of in E2E_TOKENS.items():
    results[arm] = {}
    for seed in range(S.seeds):
        torch.manual_seed(seed)
        end_to_end[arm, seed] = model = EndToEndCounter().to(rt.device)
        fit(model, sequence_batches(seed, tokens_of), sequence_loss, S.steps, lr=3e-3, amp=True, desc=f"{arm}, seed {seed}")
        results[arm][seed] = accuracy_by_count(lambda x, m=model: induction.count_from_tokens(m.generate(x), STOP))
print(f"EndToEndCounter: {sum(p.numel() for p in model.parameters()):,} parameters; counting accuracy, mean ± std over {S.seeds} seeds")
print(f"{'objects':>7s}" + "".join(f"  {arm:>18s}" for arm in E2E_TOKENS))
for k in TEST_COUNTS:
    print(f"{k:7d}" + "".join(f"  {mean_std([results[arm][s][k][0] for s in range(S.seeds)]):>18s}" for arm in E2E_TOKENS)
          + ("   (beyond training)" if k > TRAIN_MAX else ""))

# %% [markdown]
# Two versions of the same network are trained: one says *where* each object is ("cells"),
# the other only says "an object" (token 0) once per object ("obj") — the same stop, less to
# predict. Read the accuracies before going on: within the counts seen in training (3 to 5)
# and beyond (6 to 10). Where "cells" is well below "obj" even on 3 to 5 objects, its task is
# the harder one at this budget: every token must name the right cell, in order, and a wrong
# cell can also end the sequence early or late. §5 shows the whole distribution of the counts
# each model gave.
#
# ## 3. The inductive model: a memory instead of a hidden state
#
# The inductive model predicts one step from the image and the memory alone. So a scene with
# `c` objects, listed in some order, gives `c + 1` independent training examples: at step
# `t` (from 0 to `c`), the memory `m_t` marks the first `t` objects; the target `y_{t+1}` is
# the cell of object `t + 1` — or **stop** when `t = c`; and the memory after the step,
# `m_{t+1}`, marks one object more. Nothing ties a step to the ones before it, so training
# never sees a sequence. It does see memories, and a training memory never marks more than 4
# objects: a memory with 8 marked objects is still new to Φ. §5 measures whether that
# matters.
#
# Here the order is the order of the world's object slots, which the world draws at random
# (the talk does not say which order the paper uses): the model learns to point at *any*
# object not yet marked, so a step's target is one of several equally right cells and
# `−log p` cannot reach 0. The memory is a map at half the image's resolution (our choice; the
# paper's is the image's size), each object's footprint being its mask there.

# %%
MEMORY = (SIDE // 2, SIDE // 2)
footprints = footprints_of(train.masks)  # (N, 5, SIDE/2, SIDE/2) bool
print(f"memory {MEMORY}; footprints {tuple(footprints.shape)}; test scenes in which two objects' footprints touch the "
      "same memory pixel: " + ", ".join(f"{k} objects {touching[k]:.0%}" for k in TEST_COUNTS))

# %% [raw]
# # BEGIN QUESTION
# name: ex13_2
# points: 2

# %% [markdown]
# **Exercise 13.2 — one step cut out of a scene.** Complete
# `step_tuples(masks, cells, counts, steps, stop)` for a batch of N scenes at once:
# - `masks (Tensor[N, K, h, w] bool)`: each object's footprint, in the order of enumeration
#   (slots from `counts[i]` on are empty); `cells (Tensor[N, K] long)`: each object's cell;
# - `counts (Tensor[N] long)`: objects per scene; `steps (Tensor[N] long)`: the step `t` to
#   cut out of each scene, from 0 to `counts[i]`; `stop`: the stop class.
#
# Return `(memory, target, next_memory)`: `memory (Tensor[N, h, w] float)` marks (with 1.0)
# the union of the first `t` footprints; `target (Tensor[N] long)` is the cell of object `t`
# (0-based), or `stop` when `t == counts`; `next_memory` marks the first `t + 1` footprints —
# at the stop step, the same as `memory`. No loop over scenes (a loop over K is not needed
# either).

# %% [raw]
# # BEGIN SOLUTION


# %%
def step_tuples(masks, cells, counts, steps, stop):
    # BEGIN SOLUTION
    slot = torch.arange(masks.shape[1], device=masks.device)[None]
    before = (slot < steps[:, None])[:, :, None, None]
    upto = ((slot <= steps[:, None]) & (slot < counts[:, None]))[:, :, None, None]
    memory = (masks & before).any(1).float()
    next_memory = (masks & upto).any(1).float()
    target = cells.gather(1, steps.clamp(max=masks.shape[1] - 1)[:, None])[:, 0]
    target = torch.where(steps < counts, target, torch.full_like(target, stop))
    return memory, target, next_memory
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_step_tuples_by_hand(step_tuples):
    import torch

    from visioncourse.exercises import expect_close, expect_equal

    masks = torch.zeros(1, 3, 2, 3, dtype=torch.bool)
    masks[0, 0, 0, 0] = masks[0, 1, 1, 2] = True  # two objects; slot 2 is empty
    cells, counts = torch.tensor([[4, 7, 0]]), torch.tensor([2])
    name = "Exercise 13.2 (step_tuples)"
    memory, target, after = step_tuples(masks, cells, counts, torch.tensor([1]), 9)
    inputs = "one scene with 2 objects (cells 4 and 7), step t = 1"
    expect_close(name, memory, masks[:, 0].float(), inputs=inputs, hint="memory before step 1 marks object 0 only, as float")
    expect_equal(name, target.tolist(), [7], inputs=inputs, hint="the target of step t is object t (0-based): the next one not yet marked")
    expect_close(name, after, masks[:, :2].any(1).float(), inputs=inputs, hint="the memory after the step marks objects 0 and 1")


test_step_tuples_by_hand(step_tuples)


# %%
def test_step_tuples_first_and_stop(step_tuples):
    import torch

    from visioncourse.exercises import expect_close, expect_equal

    masks = torch.zeros(3, 3, 2, 2, dtype=torch.bool)
    masks[0, 0, 0, 0] = masks[0, 1, 0, 1] = masks[1, 0, 1, 1] = True
    masks[2, 0, 0, 0] = masks[2, 1, 0, 1] = masks[2, 2, 1, 0] = True  # a full scene: counts == K == 3
    cells, counts = torch.tensor([[1, 2, 0], [3, 0, 0], [0, 1, 2]]), torch.tensor([2, 1, 3])
    name = "Exercise 13.2 (step_tuples)"
    memory, target, after = step_tuples(masks, cells, counts, torch.tensor([0, 1, 3]), 4)
    inputs = "scene 0 at step 0; scenes 1 and 2 at their stop steps, scene 2 full (t = counts = K = 3)"
    expect_equal(name, target.tolist(), [1, 4, 4], inputs=inputs,
                 hint="when t == counts the target is `stop`; when t == K there is no slot t: clamp the index before `gather`, then replace it with `stop`")
    expect_close(name, memory[0], torch.zeros(2, 2), inputs=inputs, hint="before step 0 the memory is empty")
    expect_close(name, after[1:], memory[1:], inputs=inputs, hint="the stop step marks nothing new: next_memory equals memory")
    expect_equal(name, (memory.dtype, after.dtype), (torch.float32, torch.float32), inputs=inputs,
                 hint="return float memories (`.float()`): Δm is added to them")


test_step_tuples_first_and_stop(step_tuples)


# %%
# HIDDEN
def test_step_tuples_on_the_world(step_tuples):
    import torch
    import torch.nn.functional as F

    from visioncourse import induction
    from visioncourse.data.shapes import ShapesConfig, generate
    from visioncourse.exercises import expect_close, expect_equal

    world = ShapesConfig(image_size=32, min_objects=1, max_objects=5, min_size=0.125, max_size=0.19, elongation=1)
    batch = generate(40, world, seed=7)
    masks = F.max_pool2d(batch.masks.float(), 2).bool()
    counts = batch.present.sum(1)
    cells = induction.object_cells(batch.scene.center, batch.present, 4, 8)
    steps = (torch.rand(40, generator=torch.Generator().manual_seed(1)) * (counts + 1)).long()
    steps[counts == 5] = 5  # the stop step of full scenes
    got, want = step_tuples(masks, cells, counts, steps, 64), induction.step_tuples(masks, cells, counts, steps, 64)
    inputs = "40 shapes-world scenes, random steps in 0..counts"
    expect_equal("Exercise 13.2 (step_tuples)", got[1].tolist(), want[1].tolist(), inputs=inputs, hint="targets per scene")
    for g, w, what in ((got[0], want[0], "memory"), (got[2], want[2], "next_memory")):
        expect_close("Exercise 13.2 (step_tuples)", g, w, inputs=inputs, hint=f"{what}: a union of footprints, one scene per row")


test_step_tuples_on_the_world(step_tuples)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The tuples of one training scene, step by step: the memory before the step, the target
# cell (a red square, or "stop"), the memory after it.

# %%
tuples_fn = use_or_reference("Exercise 13.2", "step_tuples", induction.step_tuples, footprints[:64],
                             train_cells[:64], train_counts[:64], train_counts[:64] // 2 + (train_counts[:64] == 5) * 3, STOP,
                             adapt=lambda fn: lambda *a: torch.cat([t.flatten().float() for t in fn(*a)]))
scene = int((train_counts == 4).nonzero()[0])
fig, axes = plt.subplots(2, 6, figsize=(11, 4))
axes[0, 0].imshow(train.images[scene].permute(1, 2, 0).cpu()), axes[0, 0].set_title("scene", fontsize=9)
for t in range(5):
    one = torch.tensor([scene], device=rt.device)
    memory, target, after = tuples_fn(footprints[one], train_cells[one], train_counts[one], torch.tensor([t], device=rt.device), STOP)
    axes[0, t + 1].imshow(memory[0].cpu(), cmap="gray", vmin=0, vmax=1)
    axes[1, t + 1].imshow(after[0].cpu(), cmap="gray", vmin=0, vmax=1)
    y = target.item()
    if y == STOP:
        axes[0, t + 1].set_title(f"m_{t}; target: stop", fontsize=9)
    else:
        r, c = divmod(y, GRID)  # a cell is STRIDE/2 memory pixels wide
        axes[0, t + 1].add_patch(plt.Rectangle((c * 2 - 0.5, r * 2 - 0.5), 2, 2, fill=False, color="red", lw=2))
        axes[0, t + 1].set_title(f"m_{t}; target: cell {y}", fontsize=9)
    axes[1, t + 1].set_title(f"m_{t + 1}", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# **The loss** of one step has two terms: the negative log-probability of the target (a
# softmax over the cells and stop), and the squared error of the memory update, weighted by
# `γ`: `−log p(y_{t+1} | x, m_t) + γ ‖m_t + Δm − m_{t+1}‖²`.

# %% [raw]
# # BEGIN QUESTION
# name: ex13_3
# points: 1

# %% [markdown]
# **Exercise 13.3 — the loss of one step.** Complete
# `inductive_loss(location_logits, delta_memory, target, memory, next_memory, gamma)`:
# `location_logits (Tensor[N, C + 1])` (C cells, stop last), `delta_memory`, `memory`,
# `next_memory (Tensor[N, h, w])`, `target (Tensor[N] long)`. Return the scalar mean over the
# batch of the first term plus `gamma` times the squared error of the memory, **averaged over
# its pixels** (so γ does not depend on the memory's size).

# %% [raw]
# # BEGIN SOLUTION


# %%
def inductive_loss(location_logits, delta_memory, target, memory, next_memory, gamma=1.0):
    # BEGIN SOLUTION
    return F.cross_entropy(location_logits, target) + gamma * F.mse_loss(memory + delta_memory, next_memory)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_inductive_loss_by_hand(inductive_loss):
    import math

    import torch

    from visioncourse.exercises import expect_close

    name = "Exercise 13.3 (inductive_loss)"
    logits = torch.tensor([[0.0, 0.0, 0.0, math.log(5.0)]])  # p(stop) = 5/8, p(cell 1) = 1/8
    memory, after = torch.zeros(1, 2, 2), torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    expect_close(name, inductive_loss(logits, after - memory, torch.tensor([3]), memory, after, gamma=2.0), math.log(8 / 5),
                 inputs="one scene, target = stop (the last class), an exact memory update",
                 hint="stop is an ordinary class of the softmax; with an exact Δm the second term is 0")
    logits = logits.repeat(2, 1)
    memory = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).repeat(2, 1, 1)
    after = torch.tensor([[1.0, 1.0], [0.0, 0.0]]).repeat(2, 1, 1)
    delta = torch.stack((torch.tensor([[0.0, 0.5], [0.0, 0.5]]), after[1] - memory[1]))
    expect_close(name, inductive_loss(logits, delta, torch.tensor([1, 3]), memory, after, gamma=2.0),
                 (math.log(8) + math.log(8 / 5)) / 2 + 2 * 0.0625,
                 inputs="2 scenes: p(target) = 1/8 and 5/8 (stop); memory errors (0, -0.5, 0, +0.5) and none; gamma = 2",
                 hint="the mean over the batch of -log p(target), plus gamma × the mean over all pixels of (m_t + Δm − m_{t+1})²: m_t is part of the prediction")


test_inductive_loss_by_hand(inductive_loss)


# %%
# HIDDEN
def test_inductive_loss_batch(inductive_loss):
    import torch

    from visioncourse import induction
    from visioncourse.exercises import expect_close

    g = torch.Generator().manual_seed(2)
    logits, delta = torch.randn(6, 17, generator=g), torch.rand(6, 8, 8, generator=g)
    memory, after = (torch.rand(6, 8, 8, generator=g) > 0.7).float(), (torch.rand(6, 8, 8, generator=g) > 0.5).float()
    target = torch.randint(0, 17, (6,), generator=g)
    for gamma in (0.0, 3.0):
        expect_close("Exercise 13.3 (inductive_loss)", inductive_loss(logits, delta, target, memory, after, gamma=gamma),
                     induction.inductive_loss(logits, delta, target, memory, after, gamma=gamma),
                     inputs=f"a random batch of 6, 17 classes, 8 x 8 memories, gamma = {gamma}",
                     hint="the mean over the batch of the first term; the memory term counts m_t + Δm, not Δm alone")


test_inductive_loss_batch(inductive_loss)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **The network Φ.** An encoder reads the image and the memory together; a 1 × 1 convolution
# scores every cell; the score of stop is one learned number, the same for every image (our
# choice: the talk does not describe Φ). Stop wins only when no cell scores above that
# constant, so a cell should score high when an object there is not yet covered by the
# memory. The cell scores are not strictly local — each sees a window of about 27 × 27
# pixels, most of a 32-pixel image — so Φ *could* learn how crowded a scene is; nothing in
# its design forbids it. The footprint head takes the chosen cell (the target during
# training, the arg-max at test time) and draws that object's mask on the memory grid.
# Training uses one random step `t` of each scene in the batch: one supervised decision per
# scene, where the end-to-end model gets `c + 1` per scene.

# %%
loss_fn = use_or_reference("Exercise 13.3", "inductive_loss", induction.inductive_loss, torch.randn(3, 5), torch.rand(3, 2, 2),
                           torch.tensor([0, 4, 2]), torch.zeros(3, 2, 2), torch.ones(3, 2, 2), 0.5)
GAMMA = 1.0


class InductiveCounter(nn.Module):
    """Φ(x, m) -> (scores of the GRID² cells and stop, the footprint Δm of the chosen cell)."""

    def __init__(self, w=S.width):
        super().__init__()
        self.stem = conv(3, w, 2)  # 1/2 of the image: the memory's grid
        self.encoder = nn.Sequential(conv(w + 1, w), conv(w, w, 2), conv(w, w), conv(w, w))  # 1/4: the cells
        self.where = nn.Conv2d(w, 1, 1)
        self.stop = nn.Parameter(torch.zeros(1))
        self.footprint = nn.Sequential(conv(w + 1, w), nn.Conv2d(w, 8, 3, padding=1))
        self.refine = nn.Sequential(conv(8 + w, 16), nn.Conv2d(16, 1, 3, padding=1))

    def forward(self, images, memory, target=None):
        stem = self.stem(images)
        features = self.encoder(torch.cat((stem, memory[:, None]), 1))
        logits = torch.cat((self.where(features).flatten(1), self.stop.expand(len(images), 1)), 1)
        chosen = logits.argmax(1) if target is None else target
        where = F.one_hot(chosen, STOP + 1)[:, :STOP].to(features.dtype).view(-1, 1, GRID, GRID)  # stop: no cell
        coarse = F.interpolate(self.footprint(torch.cat((features, where), 1)), scale_factor=2, mode="bilinear")
        delta = torch.sigmoid(self.refine(torch.cat((coarse, stem), 1)))[:, 0]
        return logits, delta


def step_batches(seed):
    g = torch.Generator().manual_seed(seed)

    def batch(step):
        idx = torch.randint(S.train_scenes, (S.batch,), generator=g).to(rt.device)
        t = (torch.rand(S.batch, generator=g).to(rt.device) * (train_counts[idx] + 1)).long()  # 0..count
        memory, target, after = tuples_fn(footprints[idx], train_cells[idx], train_counts[idx], t, STOP)
        return (train.images[idx], memory, target), target, memory, after
    return batch


inductive, results["inductive"] = {}, {}
for seed in range(S.seeds):
    torch.manual_seed(seed)
    inductive[seed] = InductiveCounter().to(rt.device)
    fit(inductive[seed], step_batches(seed), lambda out, y, m, after: loss_fn(out[0], out[1].float(), y, m, after, GAMMA),
        S.steps, lr=3e-3, amp=True, desc=f"inductive, seed {seed}")
print(f"InductiveCounter: {sum(p.numel() for p in inductive[0].parameters()):,} parameters "
      f"(EndToEndCounter: {sum(p.numel() for p in model.parameters()):,}); the same scenes, {S.steps} steps of {S.batch}")

# %% [markdown]
# ## 4. Running the induction
#
# At test time the model runs on its own: the memory starts empty; at each step Φ gives
# scores and a footprint; a scene whose best class is stop is finished, and keeps its count;
# for every other scene the count goes up by one and the footprint is added to the memory.
# The footprint is rounded (`Δm > 0.5`) before it is added, so the memory stays 0/1 like the
# memories of training — §6 measures what this rounding does.

# %% [raw]
# # BEGIN QUESTION
# name: ex13_4
# points: 2

# %% [markdown]
# **Exercise 13.4 — the inference loop.** Complete
# `count_by_induction(model, images, memory_shape, max_steps)`:
# `model(images, memory)` returns `(location_logits (N, C + 1), delta_memory (N, h, w))`, stop
# being the last class; `memory_shape = (h, w)`. Run `max_steps` steps for all N images at
# once and return `(counts, memories)`: `counts (Tensor[N] long)`, the number of steps before
# each image's first stop (`max_steps` if it never stops), and `memories
# (Tensor[max_steps + 1, N, h, w])`, the memory before each step and after the last one. A
# finished image keeps its memory; the others add `(delta_memory > 0.5)` to theirs (a
# maximum, so a pixel stays 0 or 1). Keep looping even when every image has stopped:
# `memories` always has `max_steps + 1` entries. (The stub is already decorated with
# `@torch.no_grad()`: nothing here is trained.)

# %% [raw]
# # BEGIN SOLUTION


# %%
@torch.no_grad()
def count_by_induction(model, images, memory_shape, max_steps=12):
    # BEGIN SOLUTION
    n = len(images)
    memory = torch.zeros(n, *memory_shape, device=images.device)
    counts = torch.zeros(n, dtype=torch.long, device=images.device)
    done = torch.zeros(n, dtype=torch.bool, device=images.device)
    memories = [memory]
    for _ in range(max_steps):
        logits, delta = model(images, memory)
        done = done | (logits.argmax(1) == logits.shape[1] - 1)
        counts += (~done).long()
        memory = torch.where(done[:, None, None], memory, torch.maximum(memory, (delta > 0.5).float()))
        memories.append(memory)
    return counts, torch.stack(memories)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_count_by_induction_scripted_model(count_by_induction):
    import torch

    from visioncourse.exercises import expect_equal
    from visioncourse.induction import scripted_model

    scenes = [[0, 5, 10], [], [3, 12, 15, 1, 2, 6, 7, 8]]
    counts, memories = count_by_induction(scripted_model(scenes, 4), torch.zeros(3, 1), (4, 4), max_steps=10)
    name = "Exercise 13.4 (count_by_induction)"
    inputs = "induction.scripted_model, a perfect Φ; images with 3, 0 and 8 objects on a 4 x 4 grid; max_steps = 10"
    expect_equal(name, counts.tolist(), [3, 0, 8], inputs=inputs,
                 hint="count the steps before each image's first stop; an image that stopped must not count again")
    expect_equal(name, tuple(memories.shape), (11, 3, 4, 4), inputs=inputs, hint="the memory before each step, and after the last")
    expect_equal(name, memories[-1].flatten(1).sum(1).tolist(), [3.0, 0.0, 8.0], inputs=inputs,
                 hint="add the rounded footprint (delta > 0.5, as 0/1) after each step that is not a stop")


test_count_by_induction_scripted_model(count_by_induction)


# %%
def test_count_by_induction_stop_is_final(count_by_induction):
    import torch

    from visioncourse.exercises import expect_equal

    def wobbly(images, memory):
        """Step 1: cell 0; step 2: cell 5, redrawing cell 0 too; step 3: stop, yet drawing cell 10;
        step 4: cell 5 again."""
        step = len(calls)
        calls.append(step)
        logits = torch.full((len(memory), 17), -10.0, device=memory.device)
        logits[:, {0: 0, 1: 5, 2: 16}.get(step, 5)] = 10.0
        delta = torch.zeros_like(memory)
        for cell in {0: [0], 1: [0, 5], 2: [10]}.get(step, [5]):
            delta.view(len(memory), -1)[:, cell] = 0.9
        return logits, delta

    calls = []
    counts, memories = count_by_induction(wobbly, torch.zeros(1, 1), (4, 4), max_steps=4)
    name = "Exercise 13.4 (count_by_induction)"
    inputs = "a model that points at 2 cells, says stop, then points again; max_steps = 4"
    expect_equal(name, counts.tolist(), [2], inputs=inputs,
                 hint="an image that has said stop is finished for good: keep a `done` flag that, once True, stays True")
    expect_equal(name, memories[:, 0].flatten(1).sum(1).tolist(), [0.0, 1.0, 2.0, 2.0, 2.0], inputs=inputs,
                 hint="memory = maximum(memory, delta > 0.5), so a pixel marked twice stays 1; after stop the memory no longer changes")


test_count_by_induction_stop_is_final(count_by_induction)


# %%
# HIDDEN
def test_count_by_induction_budget_and_rounding(count_by_induction):
    import torch

    from visioncourse.exercises import expect_equal
    from visioncourse.induction import scripted_model

    scenes = [[0, 5, 10], [], [3, 12, 15, 1, 2, 6, 7, 8]]
    name = "Exercise 13.4 (count_by_induction)"
    counts, _ = count_by_induction(scripted_model(scenes, 4), torch.zeros(3, 1), (4, 4), max_steps=5)
    expect_equal(name, counts.tolist(), [3, 0, 5], inputs="the same images, max_steps = 5",
                 hint="an image that never says stop has used all max_steps steps")
    counts, memories = count_by_induction(scripted_model([[1, 2]], 4, footprint=0.4), torch.zeros(1, 1), (4, 4), max_steps=4)
    expect_equal(name, (counts.tolist(), memories.sum().item()), ([4], 0.0),
                 inputs="a model whose footprints are 0.4 (below the cut-off), max_steps = 4",
                 hint="a footprint below 0.5 adds nothing, so the model points at the same object again and again")


test_count_by_induction_budget_and_rounding(count_by_induction)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
induce_fn = use_or_reference("Exercise 13.4", "count_by_induction", induction.count_by_induction,
                             inductive[0], tests[3][:8], MEMORY, 6,
                             adapt=lambda fn: lambda *a: torch.cat([t.flatten().float() for t in fn(*a)]))
for seed in range(S.seeds):
    results["inductive"][seed] = accuracy_by_count(lambda x, m=inductive[seed]: induce_fn(m, x, MEMORY, MAX_STEPS)[0])
with timer() as t_ind:
    induce_fn(inductive[0], tests[10], MEMORY, MAX_STEPS)
with timer() as t_e2e:
    induction.count_from_tokens(end_to_end["end to end, cells", 0].generate(tests[10]), STOP)
print(f"time per 10-object scene on {rt.device.type}: inductive {1000 * t_ind.seconds / S.test_per_count:.2f} ms "
      f"({MAX_STEPS} passes of Φ), end to end {1000 * t_e2e.seconds / S.test_per_count:.2f} ms (one CNN pass, {MAX_STEPS} LSTM steps)")

# %% [markdown]
# Step through the induction on a test scene: the scores of the next step (the brighter the
# cell, the likelier; the title gives p(stop)), the memory before it and the footprint the
# step adds (its chosen cell in red). Untick `rounded` to add the raw footprints instead (§6).

# %%
def show_induction(count=8, scene=0, step=3, rounded=True, model=inductive[0]):
    images = tests[count][scene:scene + 1]
    counts, memories = induction.count_by_induction(model, images, MEMORY, MAX_STEPS, round_memory=rounded)
    with torch.no_grad():
        logits, _ = model(images, memories[min(step, MAX_STEPS - 1)])
    p = logits.float().softmax(1)[0]
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.0))
    axes[0].imshow(images[0].permute(1, 2, 0).cpu()), axes[0].set_title(f"{count} objects; it counted {counts.item()}", fontsize=9)
    axes[1].imshow(p[:STOP].view(GRID, GRID).cpu(), cmap="magma", vmin=0, vmax=1)
    axes[1].set_title(f"step {step + 1}: p(cell); p(stop) = {p[STOP]:.2f}", fontsize=9)
    axes[2].imshow(memories[step, 0].cpu(), cmap="gray", vmin=0, vmax=1), axes[2].set_title(f"memory m_{step}", fontsize=9)
    axes[3].imshow((memories[step + 1, 0] - memories[step, 0]).cpu(), cmap="gray", vmin=0, vmax=1)
    chosen = p.argmax().item()
    if chosen == STOP:
        axes[3].set_title("stop: nothing added", fontsize=9)
    else:
        r, c = divmod(chosen, GRID)  # a cell is 2 x 2 memory pixels
        axes[3].add_patch(plt.Rectangle((2 * c - 0.5, 2 * r - 0.5), 2, 2, fill=False, color="red", lw=2))
        axes[3].set_title(f"footprint added (cell {chosen})", fontsize=9)
    for ax in axes:
        ax.axis("off")
    plt.tight_layout()
    plt.show()


show_induction(count=8, step=3)  # drawn once for the static page; the widget below redraws it
_ = widgets.interact(show_induction, count=widgets.IntSlider(8, 3, 10), scene=widgets.IntSlider(0, 0, 19),
                     step=widgets.IntSlider(3, 0, MAX_STEPS - 1), rounded=True, model=widgets.fixed(inductive[0]))

# %% [markdown]
# ## 5. The claim, measured
#
# The paper's table (coloured shapes, trained on at most 5 objects) gives counting accuracy
# for 3 to 10 objects: the end-to-end model near 99 % up to 5 and 0 % from 6 on; the
# inductive model 95.5 % or more everywhere.
#
# **What differs from the paper.** Our scenes are the shapes world at 32 × 32 pixels (48 in
# full mode), and training is short (the sizes are in the setup cell). Our memory is at half
# the image's resolution. Objects are listed in a random order for the inductive model and in
# reading order for the end-to-end one. Stop is one learned constant, and the memory update
# is rounded (§6). The "cells" end-to-end model learns from each object's cell, the "obj" one
# only from the count; the inductive one from each object's cell and mask (its footprint).
#
# Below, our three models, each over the seeds, beside the paper's numbers, with a verdict
# per count: the inductive model "beats" an end-to-end one only when every seed of one is
# above every seed of the other.

# %%
PAPER_E2E = dict(zip(TEST_COUNTS, (99.5, 99.5, 98.9, 0, 0, 0, 0, 0)))
PAPER_INDUCTIVE = dict(zip(TEST_COUNTS, (100, 99.9, 99.5, 98.9, 97.2, 98.5, 95.5, 95.5)))
acc = lambda arm, k: [100 * results[arm][s][k][0] for s in range(S.seeds)]  # in %, like the paper
ARMS = list(results)
print(f"counting accuracy (%), mean ± std over {S.seeds} seeds ({S.test_per_count} scenes per count); trained on 1..{TRAIN_MAX} objects")
print(f"{'objects':>7s}" + "".join(f"  {arm:>18s}" for arm in ARMS) + f"  {'paper: e2e':>10s}  {'inductive':>9s}   verdict")
for k in TEST_COUNTS:
    words = [f"{compare(acc('inductive', k), acc(arm, k))} {arm.split(', ')[1]}" for arm in E2E_TOKENS]
    print(f"{k:7d}" + "".join(f"  {mean_std(acc(arm, k), 1):>18s}" for arm in ARMS) +
          f"  {PAPER_E2E[k]:10.1f}  {PAPER_INDUCTIVE[k]:9.1f}   inductive " + "; ".join(words))
beyond = [k for k in TEST_COUNTS if k > TRAIN_MAX]
mean_beyond = lambda arm: sum(sum(acc(arm, k)) for k in beyond) / (len(beyond) * S.seeds)
print("mean over 6..10 objects: " + ", ".join(f"{arm} {mean_beyond(arm):.1f} %" for arm in ARMS))

fig, ax = plt.subplots(figsize=(6.5, 3.6))
ks = list(TEST_COUNTS)
for arm, color in zip(ARMS, ("tab:blue", "tab:cyan", "tab:red")):
    runs = torch.tensor([acc(arm, k) for k in ks])
    ax.plot(ks, runs.mean(1), "o-", color=color, label=f"{arm} (ours, mean of {S.seeds} seeds)")
    ax.fill_between(ks, runs.min(1).values, runs.max(1).values, color=color, alpha=0.2)
for name, paper, color in (("end to end", PAPER_E2E, "tab:blue"), ("inductive", PAPER_INDUCTIVE, "tab:red")):
    ax.plot(ks, [paper[k] for k in ks], "x--", color=color, alpha=0.6, label=f"{name} (paper)")
ax.axvspan(2.5, TRAIN_MAX + 0.5, color="gray", alpha=0.1, label="counts seen in training")
ax.set_xlabel("objects in the scene"), ax.set_ylabel("counting accuracy (%)"), ax.set_ylim(-2, 102)
ax.legend(fontsize=8), ax.set_title("trained on 1..5 objects; the band spans the seeds", fontsize=9)
plt.show()

BAR = 50 if rt.fast else 80
print(f"bar: inductive mean accuracy over 6..10 objects {mean_beyond('inductive'):.1f} % ≥ {BAR} %")
assert mean_beyond("inductive") >= BAR, "below the bar"

# %% [markdown]
# An accuracy hides *how* a counter is wrong. Below, for each number of objects (rows), the
# share of test scenes given each count (columns), the seeds pooled. A counter's peak moves
# along the red diagonal. If a model's right answers at some count come from a length it
# stops at whatever the scene — the peaks of neighbouring rows in the same column — those
# answers are not counting.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), sharey=True)
for ax, name in zip(axes, ARMS):
    said = torch.stack([torch.bincount(torch.cat([results[name][s][k][2] for s in range(S.seeds)]), minlength=MAX_STEPS + 1).float()
                        for k in TEST_COUNTS])
    ax.imshow(said / said.sum(1, keepdim=True), cmap="Blues", vmin=0, vmax=1, aspect="auto",
              extent=(-0.5, MAX_STEPS + 0.5, TEST_COUNTS[-1] + 0.5, TEST_COUNTS[0] - 0.5))
    ax.plot(list(TEST_COUNTS), list(TEST_COUNTS), "r.", ms=5)
    ax.set_xlabel("count given"), ax.set_title(f"{name}: share of test scenes, {S.seeds} seeds pooled", fontsize=9)
axes[0].set_ylabel("objects in the scene")
plt.show()
for name in ARMS:
    print(f"{name:>17s}, mean signed error (counted − true) by objects: " +
          ", ".join(f"{k}: {sum(results[name][s][k][1] for s in range(S.seeds)) / S.seeds:+.2f}" for k in TEST_COUNTS))

# %% [markdown]
# ## 6. What the rounding of the memory does
#
# The update as written is `m_{t+1} = m_t + Δm`. Our loop rounds Δm first. The alternative
# adds the sigmoid's output as it is, clipped to [0, 1]. Since that output is never exactly
# 0, small errors *could* add up over a long induction and move the memory away from the 0/1
# maps of training. The same trained models, counted both ways:

# %%
results["inductive, raw Δm"] = {s: accuracy_by_count(lambda x, m=inductive[s]: induction.count_by_induction(m, x, MEMORY, MAX_STEPS, round_memory=False)[0])
        for s in range(S.seeds)}
print(f"{'objects':>7s}  {'rounded Δm':>12s}  {'raw Δm (clipped)':>16s}   (accuracy, %)")
for k in TEST_COUNTS:
    print(f"{k:7d}  {mean_std(acc('inductive', k), 1):>12s}  {mean_std(acc('inductive, raw Δm', k), 1):>16s}   "
          f"rounded {compare(acc('inductive', k), acc('inductive, raw Δm', k))} raw")

# %% [markdown]
# ## Takeaways
#
# - Counting by enumeration turns counting into a sequence of "next object" decisions, and
#   the question is what the model's state must remember. An LSTM's hidden state must carry
#   how far it has got; nothing in its training says what to do at a step it never reached.
# - The inductive model's state is only a map of what has been visited, and every training
#   example is a single step. A scene with more objects asks it for more steps, and for
#   memories more crowded than any it saw. Making stop a fixed score that any unmarked object
#   beats is our design; we did not test whether it is needed (a stop score from pooled
#   features would be the ablation).
# - Read the table in §5, not the story: how far beyond 5 each model carries here, and where
#   the paper's numbers are not reached. One wrong step spoils a count, so per-step errors
#   compound with the number of objects; the share of scenes whose footprints touch (§3)
#   grows with it too — a candidate cause, not a measured one. Where the verdict column says
#   the inductive model loses on 3–5 objects, that is a cost of factorised training at this
#   budget. It also runs Φ once per step, against one CNN pass for the LSTM (the timing in §4).
# - The memory is only useful if it stays like the memories of training: §6 measures what
#   rounding the footprint does to that.
#
# ## Further reading
#
# - A. Gupta, A. Vedaldi, A. Zisserman (2018). *Inductive visual localisation: factorised
#   training for superior generalisation.* BMVC.
# - S. Hochreiter, J. Schmidhuber (1997). *Long short-term memory.* (Chapter 08.)
# - S. Reed, N. de Freitas (2016). *Neural programmer-interpreters.* ICLR — another model
#   trained on single steps of an algorithm, which generalises to longer inputs.
# - A. Graves, G. Wayne, I. Danihelka (2014). *Neural Turing machines.* — an external memory
#   read and written by a recurrent controller.
