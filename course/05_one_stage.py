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
# name: 05_one_stage
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
# # Chapter 05 — YOLO and one-stage detectors
#
# **What you will learn**
# - YOLO (Redmon et al., 2016): detection as **one regression** from the image to an
#   `S × S` grid of boxes, confidences and class probabilities — no proposals;
# - the YOLO loss term by term, and how its output becomes scored boxes;
# - YOLOv2's ideas (Redmon & Farhadi, 2017): anchor shapes found by **k-means with 1 − IoU**,
#   centre offsets bounded to their cell, multi-scale training;
# - SSD-style dense heads with default boxes (Liu et al., 2016), and RetinaNet's **focal
#   loss** (Lin et al., 2017), designed for background that outnumbers objects a thousand to
#   one: what it does to the loss, and what it does to AP over seeds;
# - the speed/accuracy trade-off against chapter 04's Faster R-CNN, measured.
#
# **Lectures:** "Detection, segmentation, captioning" (YOLO, YOLOv2) and "Vision beyond
# classification" (one-stage detectors, RetinaNet, focal loss).
#
# **Run time:** about 80 seconds in fast mode on 2 CPU cores; a few minutes in full mode on a
# GPU (larger batches of scenes drawn on the GPU, mixed precision).

# %%
# Setup: works locally (after `make lab`) and on Colab, where its first run fetches and
# installs the course. Safe to run again, and after Colab's "Restart session".
import importlib.util
import os
import subprocess
import sys

COURSE_REPO = "https://github.com/vision-beyond-classification/course"
CHAPTER = "05_one_stage"
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
import copy
import functools
import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from tqdm.auto import tqdm

from visioncourse import boxes as vboxes
from visioncourse import detection, onestage
from visioncourse.data import ShapesConfig, generate
from visioncourse.exercises import use_or_reference
from visioncourse.metrics import coco_map, mean_average_precision, mean_std, verdict
from visioncourse.runtime import autocast_dtype
from visioncourse.train import fit, timer
from visioncourse.viz import draw_boxes, to_numpy_image

# Every size this notebook uses, for both modes, in one place. Full mode draws fresh scenes on
# the device at every step instead of cycling through a fixed pool.
S = sizes(
    fast=dict(pool=2000, test_scenes=150, width=16, steps=250, batch=32, fresh=False,
              dense_pool=400, dense_steps=120, dense_batch=16, seeds=3,
              two_stage_steps=150, two_stage_batch=8, photos=300, photo_steps=60),
    full=dict(pool=0, test_scenes=500, width=32, steps=3000, batch=256, fresh=True,
              dense_pool=4000, dense_steps=1500, dense_batch=64, seeds=5,
              two_stage_steps=1500, two_stage_batch=16, photos=2000, photo_steps=1000),
    mode=rt.mode,
)
S

# %% [markdown]
# ## 1. YOLO: one look, one grid
#
# R-CNN and its successors first decide *where to look*, then classify each region. YOLO
# skips that step: one network maps the whole image to a fixed-size tensor that already
# holds the detections.
#
# - The image is divided into an `S × S` grid. **The cell that contains an object's centre is
#   responsible for it.**
# - Every cell predicts `B` boxes, each as `(x, y, w, h, c)`: `x, y` the centre's offset
#   inside the cell, `w, h` the size relative to the image, and a confidence
#   `c = P(object) × IoU(predicted box, true box)`;
# - and one set of class probabilities `P(class_k | object)` shared by its boxes.
#
# For PASCAL VOC (20 classes) the paper used `S = 7`, `B = 2`: the output is
# `7 × 7 × (2 × 5 + 20) = 7 × 7 × 30`, 1,470 numbers for up to 98 boxes. Our 64×64 scenes
# with 3 classes use `S = 8` (8-pixel cells), `B = 2`: `8 × 8 × 13`.
#
# The paper's YOLO ends in fully connected layers, so every prediction can use the whole
# image as context. Ours is fully convolutional: each cell sees only its receptive field,
# computed after training below. Either way each cell is responsible for one object (the
# larger, in Exercise 5.1), so crowds of small objects are YOLO's weak spot.

# %%
from visioncourse import figures

figures.yolo_grid()
plt.show()


# %%
scene = ShapesConfig(image_size=64, min_objects=2, max_objects=5, min_size=0.12, max_size=0.45,
                     max_overlap=0.2, background="texture", clutter=6)  # as chapters 03 and 04
NUM_CLASSES, IMAGE = scene.num_shapes, scene.image_size
GRID, BOXES = 8, 2
test = generate(S.test_scenes, scene, seed=10**6, device=rt.device)  # held-out seeds
test_targets = [{"boxes": t["boxes"].cpu(), "labels": t["labels"].cpu()} for t in test.targets()]
pool = generate(S.pool, scene, seed=0, device=rt.device) if S.pool else None

# %% [raw]
# # BEGIN QUESTION
# name: ex5_1
# points: 3

# %% [markdown]
# **Exercise 5.1 — YOLO targets.** Complete `yolo_target(boxes, labels, grid, num_classes,
# image_size)` for **one image**: `boxes (Tensor[k, 4])` xyxy in pixels, `labels
# (Tensor[k])` in `1..C`. Return `Tensor[grid, grid, 5 + C]` with, in the cell `[row, col]`
# that contains the object's centre:
#
# - channel 0: 1 (there is an object);
# - channels 1, 2: the centre's offset inside the cell, in cells (`centre_x · grid /
#   image_size − col`, in `[0, 1)`), then the same for y;
# - channels 3, 4: `√(w / image_size)`, `√(h / image_size)` — YOLO regresses square roots so
#   that an error of a few pixels costs more on a small box than on a large one;
# - channels 5 …: the one-hot class (`labels − 1`);
#
# and zeros everywhere else. `col = floor(centre_x · grid / image_size)` with `centre_x` in
# pixels (multiply before dividing, so that a centre on a cell edge is not lost to
# round-off), clamped to `grid − 1`. When two centres fall into one cell, the **larger** box (by area) owns it (the
# first listed, if equal). A loop over the objects is fine.

# %% [raw]
# # BEGIN SOLUTION


# %%
def yolo_target(boxes, labels, grid, num_classes, image_size):
    # BEGIN SOLUTION
    target = torch.zeros(grid, grid, 5 + num_classes)
    owner_area = torch.full((grid, grid), -1.0)
    for (x1, y1, x2, y2), label in zip(boxes.tolist(), labels.tolist()):
        cx, cy = (x1 + x2) / 2 * grid / image_size, (y1 + y2) / 2 * grid / image_size  # in cells
        w, h = (x2 - x1) / image_size, (y2 - y1) / image_size
        col, row = min(int(cx), grid - 1), min(int(cy), grid - 1)
        if w * h > owner_area[row, col]:
            owner_area[row, col] = w * h
            target[row, col] = 0
            target[row, col, :5] = torch.tensor([1.0, cx - col, cy - row, w**0.5, h**0.5])
            target[row, col, 4 + label] = 1.0
    return target
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_yolo_target_small(yolo_target):
    import math

    import torch

    from visioncourse.exercises import expect_close

    t = yolo_target(torch.tensor([[10.0, 20, 30, 36]]), torch.tensor([2]), 8, 3, 64)
    expected = torch.zeros(8, 8, 8)
    expected[3, 2] = torch.tensor([1.0, 0.5, 0.5, math.sqrt(20 / 64), math.sqrt(16 / 64), 0, 1, 0])
    expect_close(
        "Exercise 5.1 (yolo_target)",
        t,
        expected,
        inputs="64 px image, 8x8 grid, one class-2 box (10, 20, 30, 36): centre (20, 28)",
        hint="the centre is in column 2, row 3 (index [3, 2]); offsets 0.5; sqrt of 20/64 and 16/64",
    )
    # two centres in one cell: a small class-1 box listed first, then a larger class-3 box;
    # both centres (20, 28) and (22, 26) are in cell [3, 2], which the larger box must own
    t = yolo_target(torch.tensor([[16.0, 24, 24, 32], [12, 18, 32, 34]]), torch.tensor([1, 3]), 8, 3, 64)
    expected = torch.zeros(8, 8, 8)
    expected[3, 2] = torch.tensor([1.0, 0.75, 0.25, math.sqrt(20 / 64), math.sqrt(16 / 64), 0, 0, 1])
    expect_close(
        "Exercise 5.1 (yolo_target)",
        t,
        expected,
        inputs="two boxes whose centres share cell [3, 2]: (16, 24, 24, 32) class 1, then (12, 18, 32, 34) class 3",
        hint="one object per cell: the larger box owns it, and its class must not be mixed with the other's",
    )


test_yolo_target_small(yolo_target)


# %%
# HIDDEN
def test_yolo_target_matches_reference(yolo_target):
    import torch

    from visioncourse.data import ShapesConfig, generate
    from visioncourse.exercises import expect_close
    from visioncourse.onestage import yolo_targets

    crowded = ShapesConfig(image_size=48, min_objects=3, max_objects=6, min_size=0.1, max_size=0.5)
    batch = generate(12, crowded, seed=7)
    expected = yolo_targets(batch.boxes, batch.labels, 6, 3, 48)
    for i, t in enumerate(batch.targets()):
        expect_close(
            "Exercise 5.1 (yolo_target)",
            yolo_target(t["boxes"], t["labels"], 6, 3, 48),
            expected[i],
            inputs=f"crowded scene {i}: {len(t['boxes'])} objects on a 6x6 grid",
            hint="when two centres share a cell, keep the larger box (the first if equal)",
        )
    edge = yolo_target(torch.tensor([[40.0, 40, 48, 48]]), torch.tensor([1]), 6, 3, 48)
    expect_close(
        "Exercise 5.1 (yolo_target)",
        edge[5, 5, :3],
        torch.tensor([1.0, 0.5, 0.5]),
        inputs="a box in the bottom-right corner",
        hint="clamp the cell index to grid - 1",
    )


test_yolo_target_matches_reference(yolo_target)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# `visioncourse.onestage.yolo_targets` does the same for a whole padded batch at once (one
# `scatter_reduce` picks each cell's owner). The responsible cells of one scene:

# %%
target_fn = use_or_reference("Exercise 5.1", "yolo_target",
                             lambda b, lab, g, c, s: onestage.yolo_targets(b[None], lab[None], g, c, s)[0],
                             torch.tensor([[10.0, 20, 30, 36], [12, 12, 20, 20]]), torch.tensor([2, 1]),
                             8, 3, 64)
t0 = test_targets[0]
cells = target_fn(t0["boxes"], t0["labels"], GRID, NUM_CLASSES, IMAGE)
fig, ax = plt.subplots(figsize=(3.6, 3.6))
ax.imshow(to_numpy_image(test.images[0].cpu()), interpolation="nearest")
for k in range(1, GRID):
    ax.axhline(k * IMAGE / GRID, color="white", lw=0.4), ax.axvline(k * IMAGE / GRID, color="white", lw=0.4)
draw_boxes(ax, t0["boxes"], t0["labels"], scene.classes)
for row, col in (cells[..., 0] > 0).nonzero().tolist():
    ax.add_patch(plt.Rectangle((col * 8, row * 8), 8, 8, color="yellow", alpha=0.4))
ax.set_title("responsible cells (yellow)", fontsize=9), ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. The loss, term by term
#
# YOLO trains with plain squared errors, weighted (the lecture's form):
#
# $$\begin{aligned}
# E ={}& \lambda_\text{coord} \sum_{i} \sum_{j} \mathbb 1^\text{obj}_{ij} \left[(x_i - \hat x_{ij})^2 + (y_i - \hat y_{ij})^2\right]
#  + \lambda_\text{coord} \sum_{i} \sum_{j} \mathbb 1^\text{obj}_{ij} \left[(\sqrt{w_i} - \sqrt{\hat w_{ij}})^2 + (\sqrt{h_i} - \sqrt{\hat h_{ij}})^2\right] \\
# &+ \sum_{i} \sum_{j} \mathbb 1^\text{obj}_{ij} (c_{ij} - \hat c_{ij})^2
#  + \lambda_\text{noobj} \sum_{i} \sum_{j} (1 - \mathbb 1^\text{obj}_{ij})\, \hat c_{ij}^2
#  + \sum_{i} \mathbb 1^\text{obj}_i \sum_{k} (p_{ik} - \hat p_{ik})^2
# \end{aligned}$$
#
# over cells $i$ and the $B$ boxes $j$ of each cell. $\mathbb 1^\text{obj}_i$: cell $i$ has
# an object; $\mathbb 1^\text{obj}_{ij}$: and box $j$ is the one **responsible** for it — the
# one whose predicted box overlaps the true box most. Its confidence target $c_{ij}$ is that
# IoU. With $\lambda_\text{coord} = 5$ and $\lambda_\text{noobj} = 0.5$: most boxes see no
# object, so their "say nothing" term is down-weighted, and localisation is up-weighted.

# %% [raw]
# # BEGIN QUESTION
# name: ex5_2
# points: 3

# %% [markdown]
# **Exercise 5.2 — the YOLO loss.** Complete `yolo_loss_terms(pred, target, num_boxes,
# lambda_coord=5.0, lambda_noobj=0.5)`: `pred (Tensor[n, S, S, 5B + C])` — box `j` of a cell
# is `[x, y, √w, √h, c]` at channels `5j … 5j + 4`, then the C class probabilities —
# and `target (Tensor[n, S, S, 5 + C])` from exercise 5.1. Return a dict with the five terms
# `"xy"`, `"wh"`, `"obj"`, `"noobj"`, `"class"` (each summed over the batch, **divided by
# n**, weights included).
#
# To pick the responsible box of each object cell, turn the predicted and the true
# `[x, y, √w, √h]` into xyxy boxes (`onestage.yolo_boxes` does it: give it `(n, S, S, B, 4)`
# and `(n, S, S, 1, 4)` tensors) and compare their IoU (`vboxes.elementwise_box_iou` on
# flattened rows); the largest IoU wins (the lower `j` on ties). Use the IoU, detached, as the
# confidence target.

# %% [raw]
# # BEGIN SOLUTION


# %%
def yolo_loss_terms(pred, target, num_boxes, lambda_coord=5.0, lambda_noobj=0.5):
    # BEGIN SOLUTION
    n, grid = pred.shape[:2]
    boxes = pred[..., : 5 * num_boxes].reshape(n, grid, grid, num_boxes, 5)
    truth = target[..., None, 1:5].expand_as(boxes[..., :4])
    has_object = target[..., 0] > 0
    iou = vboxes.elementwise_box_iou(onestage.yolo_boxes(boxes[..., :4], 1).reshape(-1, 4),
                                     onestage.yolo_boxes(truth, 1).reshape(-1, 4))
    iou = iou.view(n, grid, grid, num_boxes).nan_to_num(0.0).detach()
    r = F.one_hot(iou.argmax(-1), num_boxes).bool() & has_object[..., None]
    terms = {
        "xy": lambda_coord * ((boxes[..., :2] - truth[..., :2]) ** 2).sum(-1)[r].sum(),
        "wh": lambda_coord * ((boxes[..., 2:4] - truth[..., 2:4]) ** 2).sum(-1)[r].sum(),
        "obj": ((boxes[..., 4] - iou) ** 2)[r].sum(),
        "noobj": lambda_noobj * (boxes[..., 4] ** 2)[~r].sum(),
        "class": ((pred[..., 5 * num_boxes :] - target[..., 5:]) ** 2).sum(-1)[has_object].sum(),
    }
    return {k: v / n for k, v in terms.items()}
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_yolo_loss_terms_small(yolo_loss_terms):
    import torch

    from visioncourse.exercises import expect_close

    # One object in cell [0, 0] of a 2x2 grid; box 0 predicts it exactly (IoU 1), box 1 is
    # elsewhere; both confidences 0.5; class probability 0.8 for the right class.
    target = torch.zeros(1, 2, 2, 6)
    target[0, 0, 0] = torch.tensor([1.0, 0.5, 0.5, 0.5, 0.5, 1.0])
    pred = torch.zeros(1, 2, 2, 11)
    pred[0, 0, 0] = torch.tensor([0.5, 0.5, 0.5, 0.5, 0.5, 0.9, 0.9, 0.1, 0.1, 0.5, 0.8])
    terms = yolo_loss_terms(pred, target, 2)
    got = torch.tensor([float(terms[k]) for k in ("xy", "wh", "obj", "noobj", "class")])
    expect_close(
        "Exercise 5.2 (yolo_loss_terms)",
        got,
        torch.tensor([0.0, 0.0, 0.25, 0.125, 0.04]),
        inputs="xy, wh, obj, noobj, class for one object, box 0 exact, confidences 0.5",
        hint="obj: (0.5 - IoU 1)^2; noobj: 0.5 * 0.5^2 for box 1 only; class: (0.8 - 1)^2",
    )


test_yolo_loss_terms_small(yolo_loss_terms)


# %%
# HIDDEN
def test_yolo_loss_terms_match_reference(yolo_loss_terms):
    import torch

    from visioncourse.data import ShapesConfig, generate
    from visioncourse.exercises import expect_close
    from visioncourse.onestage import yolo_loss, yolo_targets

    world = ShapesConfig(image_size=48, min_objects=1, max_objects=4)
    g = torch.Generator().manual_seed(11)
    for boxes_per_cell, lc, ln in ((2, 5.0, 0.5), (3, 2.0, 0.1), (1, 5.0, 0.5)):
        batch = generate(4, world, seed=boxes_per_cell)
        target = yolo_targets(batch.boxes, batch.labels, 6, 3, 48)
        pred = torch.rand(4, 6, 6, 5 * boxes_per_cell + 3, generator=g)
        mine, ref = yolo_loss_terms(pred, target, boxes_per_cell, lc, ln), yolo_loss(pred, target, boxes_per_cell, lc, ln)
        keys = ("xy", "wh", "obj", "noobj", "class")
        expect_close(
            "Exercise 5.2 (yolo_loss_terms)",
            torch.tensor([float(mine[k]) for k in keys]),
            torch.tensor([float(ref[k]) for k in keys]),
            inputs=f"4 random predictions, B={boxes_per_cell}, lambda_coord={lc}, lambda_noobj={ln}",
            hint="divide every term by the batch size; use the lambda arguments",
        )


test_yolo_loss_terms_match_reference(yolo_loss_terms)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **The network.** Four 3×3 conv blocks (three of them halve the resolution: 64 → 8) and a
# 1×1 convolution to `5B + C` channels per cell. The box values and confidences go through a
# sigmoid, the class scores through a softmax. (YOLOv1 used linear outputs; the sigmoid on
# `x, y` is YOLOv2's "location prediction", section 4, which keeps every centre inside its
# cell.) The output is fully convolutional: a larger image simply gives a larger grid.


# %%
def loss_probe(fn):  # use_or_reference compares tensors: probe the five terms as one
    def probe(*args):
        out = fn(*args)
        return None if out is None else torch.stack([torch.as_tensor(out[k]) for k in ("xy", "wh", "obj", "noobj", "class")])

    return probe


g = torch.Generator().manual_seed(0)
probe_target = onestage.yolo_targets(
    torch.tensor([[[8.0, 8, 30, 20]]]), torch.tensor([[1]]), 4, 3, 64
)
loss_terms = use_or_reference("Exercise 5.2", "yolo_loss_terms", onestage.yolo_loss,
                              torch.rand(1, 4, 4, 13, generator=g), probe_target, 2,
                              adapt=loss_probe)


def conv_block(cin, cout, pool):
    layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.1)]
    return layers + [nn.MaxPool2d(2)] if pool else layers


class YOLO(nn.Module):
    def __init__(self, width, num_classes, num_boxes=BOXES):
        super().__init__()
        w = width
        self.body = nn.Sequential(*conv_block(3, w, True), *conv_block(w, 2 * w, True),
                                  *conv_block(2 * w, 4 * w, True), *conv_block(4 * w, 4 * w, False),
                                  nn.Conv2d(4 * w, 5 * num_boxes + num_classes, 1))
        self.num_boxes = num_boxes

    def forward(self, images):
        out = self.body(images).permute(0, 2, 3, 1)  # (n, S, S, 5B + C)
        boxes, classes = out[..., : 5 * self.num_boxes], out[..., 5 * self.num_boxes :]
        return torch.cat((boxes.sigmoid(), classes.softmax(-1)), -1)


def scene_batch(step, image_size=IMAGE):
    """A training batch: fresh scenes drawn on the device (full mode) or a random draw from
    the fixed pool (fast mode), with their YOLO targets for a grid of 8-pixel cells."""
    if S.fresh or image_size != IMAGE:
        batch = generate(S.batch, scene.replace(image_size=image_size), seed=10**7 + step, device=rt.device)
        images, boxes, labels = batch.images, batch.boxes, batch.labels
    else:
        g = torch.Generator().manual_seed(step)
        idx = torch.randint(0, S.pool, (S.batch,), generator=g).to(rt.device)
        images, boxes, labels = pool.images[idx], pool.boxes[idx], pool.labels[idx]
    return images, onestage.yolo_targets(boxes, labels, image_size // 8, NUM_CLASSES, image_size)


def total_loss(pred, target):
    return sum(loss_terms(pred, target, BOXES).values())


torch.manual_seed(0)
yolo = YOLO(S.width, NUM_CLASSES).to(rt.device)
history = fit(yolo, scene_batch, total_loss, S.steps, lr=3e-3, desc="YOLO", amp=True)
precision = autocast_dtype(rt.device)  # bfloat16 or float16 on a GPU, None (float32) on the CPU
print(f"trained in {history.seconds:.1f} s: {history.images_per_second:.0f} training images per second "
      f"({S.steps} steps of {S.batch}{', fresh scenes on the GPU' if S.fresh else ' from a pool'}, "
      f"{str(precision or torch.float32).removeprefix('torch.')})")

# What one cell sees: its receptive field, layer by layer. A k×k layer widens the field by
# (k - 1) steps of the current stride; a stride-s layer multiplies the stride by s.
def first(size):  # kernel_size and stride are ints or (height, width) pairs
    return size if isinstance(size, int) else size[0]


field, jump = 1, 1
for layer in yolo.body:
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
        field, jump = field + (first(layer.kernel_size) - 1) * jump, jump * first(layer.stride)
longest = min(scene.max_size * scene.elongation**0.5, 1.0) * IMAGE
print(f"receptive field of a cell: {field}×{field} pixels of the {IMAGE}×{IMAGE} image (cells {jump} "
      f"pixels apart); the longest objects are up to {longest:.0f} pixels long")

# %% [markdown]
# ## 3. From the grid to detections
#
# Each box's score for class k is **P(class k | object) × confidence** — the lecture's
# `p_k · c`, an estimate of "an object of class k is here, and this box fits it". Boxes below
# a small threshold are dropped and non-maximum suppression runs per class (several cells,
# and both boxes of a cell, often claim the same object).
# `visioncourse.onestage.yolo_decode` does exactly that — with your boxes from the grid.

# %% [raw]
# # BEGIN QUESTION
# name: ex5_5
# points: 2

# %% [markdown]
# **Exercise 5.5 — from grid cells to boxes.** Complete `yolo_cells_to_boxes(cells,
# image_size)`: `cells (Tensor[n, S, S, B, 4])` holds, for the B boxes of cell `[row, col]`,
# the network's `[x, y, √w, √h]` — the centre's offset inside the cell (in cells, as in the
# targets of exercise 5.1) and the square roots of width and height as fractions of the
# image. Return `Tensor[n, S, S, B, 4]`: the boxes in pixels, xyxy. The centre is
# `(col + x) / S · image_size` across and `(row + y) / S · image_size` down; a network can
# output a negative `√w`: clamp the roots at 0 before squaring. No Python loops over cells.

# %% [raw]
# # BEGIN SOLUTION


# %%
def yolo_cells_to_boxes(cells, image_size):
    # BEGIN SOLUTION
    grid = cells.shape[1]
    i = torch.arange(grid, dtype=cells.dtype, device=cells.device)
    row, col = torch.meshgrid(i, i, indexing="ij")
    corner = torch.stack((col, row), -1)[:, :, None, :]  # (S, S, 1, 2) as (x, y)
    centre = (cells[..., :2] + corner) / grid
    half = cells[..., 2:4].clamp(min=0) ** 2 / 2
    return torch.cat((centre - half, centre + half), -1) * image_size
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_yolo_cells_to_boxes_by_hand(yolo_cells_to_boxes):
    import torch

    from visioncourse.exercises import expect_close

    # a 2x2 grid on a 64 px image, one box per cell; cell [row 1, col 0] holds x = y = 0.5,
    # sqrt(w) = 0.5, sqrt(h) = 0.25: centre (16, 48), width 64/4 = 16, height 64/16 = 4
    cells = torch.zeros(1, 2, 2, 1, 4)
    cells[0, 1, 0, 0] = torch.tensor([0.5, 0.5, 0.5, 0.25])
    boxes = yolo_cells_to_boxes(cells, 64)
    expect_close("Exercise 5.5 (yolo_cells_to_boxes)", boxes[0, 1, 0, 0], [8.0, 46.0, 24.0, 50.0], atol=1e-5,
                 inputs="64 px, 2x2 grid, cell [row 1, col 0] = [0.5, 0.5, 0.5, 0.25]",
                 hint="x runs along columns, y along rows: centre = ((col + x) / S, (row + y) / S) * image_size; square the roots")
    expect_close("Exercise 5.5 (yolo_cells_to_boxes)", boxes[0, 0, 1, 0], [32.0, 0.0, 32.0, 0.0], atol=1e-5,
                 inputs="cell [row 0, col 1] with all zeros", hint="a zero box sits at its cell's top-left corner")


test_yolo_cells_to_boxes_by_hand(yolo_cells_to_boxes)


# %%
# HIDDEN
def test_yolo_cells_to_boxes_matches_reference(yolo_cells_to_boxes):
    import torch

    from visioncourse.exercises import expect_close
    from visioncourse.onestage import yolo_boxes

    g = torch.Generator().manual_seed(3)
    cells = torch.rand(3, 5, 5, 2, 4, generator=g) * 1.2 - 0.1  # some negative roots
    expect_close("Exercise 5.5 (yolo_cells_to_boxes)", yolo_cells_to_boxes(cells, 80), yolo_boxes(cells, 80), atol=1e-4,
                 inputs="3 images, 5x5 grid, 2 boxes per cell, values in [-0.1, 1.1]",
                 hint="clamp negative roots at 0 before squaring; works for any n, S and B")


test_yolo_cells_to_boxes_matches_reference(yolo_cells_to_boxes)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
cells_fn = use_or_reference("Exercise 5.5", "yolo_cells_to_boxes", onestage.yolo_boxes,
                            torch.tensor([[[[[0.5, 0.5, 0.5, 0.25]]], [[[0.2, 0.9, 0.3, 0.7]]]]]).expand(1, 2, 2, 1, 4).contiguous(), 64)


@torch.no_grad()
def detect_yolo(model, images, chunk=100, size_scale=1.0):
    """Detections per image; ``size_scale`` multiplies every predicted width and height."""
    model.eval()
    out = []
    for i in range(0, len(images), chunk):
        pred = model(images[i : i + chunk]).float()
        boxes = pred[..., : 5 * BOXES].unflatten(-1, (BOXES, 5))  # a view: (x, y, √w, √h, c)
        boxes[..., 2:4] *= size_scale**0.5
        dets = onestage.yolo_decode(pred, BOXES, images.shape[-1], boxes_fn=cells_fn)
        out += [{k: v.cpu() for k, v in d.items()} for d in dets]
    return out


yolo_detections = detect_yolo(yolo, test.images)
yolo_map50 = mean_average_precision(yolo_detections, test_targets)["map"].item()
yolo_coco = coco_map(yolo_detections, test_targets)
print(f"held-out scenes: mAP@0.5 (VOC) {yolo_map50:.3f}, COCO AP {yolo_coco['map']:.3f}, "
      f"AP75 {yolo_coco['map_75']:.3f}")


def show_yolo(scene_index=0, score_threshold=0.3):
    d = yolo_detections[scene_index]
    keep = d["scores"] >= score_threshold
    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    ax.imshow(to_numpy_image(test.images[scene_index].cpu()), interpolation="nearest")
    draw_boxes(ax, test_targets[scene_index]["boxes"], color="yellow", linewidth=2)
    draw_boxes(ax, d["boxes"][keep], d["labels"][keep], scene.classes, d["scores"][keep], linewidth=1)
    ax.axis("off"), ax.set_title("YOLO (yellow: truth)", fontsize=9)
    plt.show()


_ = widgets.interact(
    show_yolo,
    scene_index=widgets.IntSlider(0, 0, len(test_targets) - 1, description="scene"),
    score_threshold=widgets.FloatSlider(0.3, min=0.05, max=0.95, step=0.05, description="score ≥"),
)

# %% [markdown]
# **The bar.** mAP@0.5 ≥ 0.70 on the held-out scenes in fast mode (0.85 in full mode).

# %%
BAR = 0.70 if rt.fast else 0.85
print(f"YOLO mAP@0.5 {yolo_map50:.3f} (bar {BAR})")
assert yolo_map50 >= BAR, "below the bar: check exercises 5.1 and 5.2, or train longer"

# %% [markdown]
# ## 4. YOLOv2's ideas
#
# YOLOv2 kept the single pass and fixed what hurt YOLO most — localisation and recall — with
# a list of changes (the lecture's table goes from 63.4 to 78.6 mAP on VOC 2007). Three of
# them, on our data:
#
# **Dimension priors.** Like Faster R-CNN, YOLOv2 predicts boxes relative to anchor shapes,
# but instead of choosing the shapes by hand it runs **k-means on the training boxes' sizes**.
# Euclidean distance would let large boxes dominate, so the distance between a box and a
# centre is `1 − IoU` of the two sizes placed on one centre: a 10-pixel error matters as much
# for a small box as a proportional one for a large box.

# %% [raw]
# # BEGIN QUESTION
# name: ex5_3
# points: 2

# %% [markdown]
# **Exercise 5.3 — k-means with 1 − IoU.** Complete `kmeans_wh(wh, k, iterations=100,
# seed=0)`: `wh (Tensor[N, 2])` widths and heights. Use `onestage.wh_iou(a, b)` (IoU of
# sizes sharing one centre, `(N, 2) × (M, 2) → (N, M)`). Exactly:
#
# 1. start from the sizes `wh[torch.randperm(N, generator=torch.Generator().manual_seed(seed))[:k]]`;
# 2. assign every box to the centre it overlaps most (`argmax` of IoU — the smallest
#    distance `1 − IoU`);
# 3. move every centre to the **mean** size of its boxes (a centre with no box stays);
# 4. repeat 2–3 until the assignment no longer changes, or `iterations` times;
#
# and return the `(k, 2)` centres sorted by area (`prod(1).argsort()`).

# %% [raw]
# # BEGIN SOLUTION


# %%
def kmeans_wh(wh, k, iterations=100, seed=0):
    # BEGIN SOLUTION
    g = torch.Generator().manual_seed(seed)
    centres = wh[torch.randperm(len(wh), generator=g)[:k]].clone()
    assign = None
    for _ in range(iterations):
        new = onestage.wh_iou(wh, centres).argmax(1)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        for c in range(k):
            if (assign == c).any():
                centres[c] = wh[assign == c].mean(0)
    return centres[centres.prod(1).argsort()]
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_kmeans_wh_small(kmeans_wh):
    import torch

    from visioncourse.exercises import expect_close

    wh = torch.tensor([[10.0, 10], [11, 11], [9, 9], [40, 20], [42, 22], [38, 18]])
    expect_close(
        "Exercise 5.3 (kmeans_wh)",
        kmeans_wh(wh, 2, seed=0),
        torch.tensor([[10.0, 10], [40, 20]]),
        inputs="two obvious groups of sizes, k=2",
        hint="each centre ends at the mean of its group; sort the centres by area",
    )


test_kmeans_wh_small(kmeans_wh)


# %%
# HIDDEN
def test_kmeans_wh_matches_reference(kmeans_wh):
    import torch

    from visioncourse.exercises import expect_close
    from visioncourse.onestage import kmeans_anchors

    g = torch.Generator().manual_seed(3)
    wh = 4 + torch.rand(300, 2, generator=g) * 40
    for k, seed in ((1, 0), (3, 1), (5, 2), (9, 3)):
        expect_close(
            "Exercise 5.3 (kmeans_wh)",
            kmeans_wh(wh, k, seed=seed),
            kmeans_anchors(wh, k, seed=seed),
            inputs=f"300 random sizes, k={k}, seed={seed}",
            hint="start from wh[randperm(N, seeded generator)[:k]]; stop when assignments repeat",
            atol=1e-4,
        )


test_kmeans_wh_matches_reference(kmeans_wh)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# How well do anchor shapes cover our objects? For every training box, the best IoU with any
# anchor shape (centres aligned), averaged — the measure YOLOv2 used to choose k. Hand-picked
# sets are chapter 04's: sizes 12, 20, 32 and, for 9 shapes, ratios 1:2, 1:1, 2:1.

# %%
kmeans_fn = use_or_reference("Exercise 5.3", "kmeans_wh", onestage.kmeans_anchors,
                             torch.tensor([[10.0, 10], [11, 11], [40, 20], [42, 22]]), 2)
train_boxes = (pool if pool is not None else generate(2000, scene, seed=0)).targets()
wh = torch.cat([t["boxes"][:, 2:] - t["boxes"][:, :2] for t in train_boxes]).float().cpu()


def hand_picked(sizes, ratios):
    return torch.tensor([[s / math.sqrt(r), s * math.sqrt(r)] for r in ratios for s in sizes])


rows = {"hand-picked, 3 squares (12, 20, 32)": hand_picked((12, 20, 32), (1.0,)),
        "hand-picked, 9 (× ratios 1:2, 1:1, 2:1)": hand_picked((12, 20, 32), (0.5, 1.0, 2.0))}
for k in (1, 3, 5, 9):
    rows[f"k-means, k = {k}"] = kmeans_fn(wh, k)
print(f"{len(wh)} training boxes\n{'anchor shapes':42s}{'mean best IoU':>14s}")
for name, shapes in rows.items():
    print(f"{name:42s}{onestage.mean_best_iou(wh, shapes):14.3f}")
fig, ax = plt.subplots(figsize=(4, 3.2))
ax.scatter(wh[:, 0], wh[:, 1], s=2, alpha=0.3, label="training boxes")
ax.scatter(*rows["k-means, k = 5"].T, marker="x", s=80, color="red", label="k-means, k = 5")
ax.scatter(*rows["hand-picked, 9 (× ratios 1:2, 1:1, 2:1)"].T, marker="+", s=80, color="black", label="hand-picked 9")
ax.set_xlabel("width (px)"), ax.set_ylabel("height (px)"), ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# k-means puts its shapes where the boxes are — wide ones for the ellipses, tall ones for the
# standing rectangles, at the sizes that occur — while the hand-picked grid spends shapes on
# combinations that are rare. Read in the table how many learned shapes it takes to match
# the nine hand-picked ones, and what nine learned ones give. On VOC, YOLOv2 found k = 5 a
# good trade-off between recall and model size.
#
# **Location prediction.** With anchors, Faster R-CNN's offsets `x = x_a + t_x · w_a` are
# unbounded: early in training a box can jump anywhere. YOLOv2 predicts the centre as
# `b_x = σ(t_x) + c_x` (in cells): the sigmoid keeps it inside its cell, which made training
# stable. Our network has used this from the start.
#
# **Multi-scale training.** The network has no fully connected layer, so it accepts any image
# size that is a multiple of its stride (8): a 48-pixel image gives a 6×6 grid, an 80-pixel
# one 10×10, and objects appear smaller or larger in pixels. Our network was trained at 64
# pixels only; how does it do at other sizes? The last column checks one possible culprit:
# objects that cannot be detected at all because a larger object's centre falls into the
# same cell.

# %%
SCALES = (48, 64, 80)
scaled_tests = {s: generate(S.test_scenes, scene.replace(image_size=s), seed=10**6, device=rt.device) for s in SCALES}


def map_at_scales(model, rescale=False):
    """mAP@0.5 at every input size; ``rescale`` multiplies the predicted sizes by IMAGE / size."""
    out = {}
    for s, batch in scaled_tests.items():
        truth = [{"boxes": t["boxes"].cpu(), "labels": t["labels"].cpu()} for t in batch.targets()]
        dets = detect_yolo(model, batch.images, size_scale=IMAGE / s if rescale else 1.0)
        out[s] = mean_average_precision(dets, truth)["map"].item()
    return out


at_scales, rescaled = map_at_scales(yolo), map_at_scales(yolo, rescale=True)
print(f"{'input size':>10s}{'grid':>7s}{'mAP@0.5':>9s}{'sizes × 64/size':>17s}{'objects without a cell':>25s}")
for size, batch in scaled_tests.items():
    cells = onestage.yolo_targets(batch.boxes, batch.labels, size // 8, NUM_CLASSES, size)
    lost = 1 - cells[..., 0].sum().item() / batch.num_objects.sum().item()
    print(f"{size:10d}{size // 8:5d}²{at_scales[size]:9.3f}{rescaled[size]:17.3f}{lost:25.1%}")

# %% [markdown]
# Read the table from the middle row. The last column, objects that lose their cell to a
# neighbour, covers a few percent of the objects at most: too few to explain the drops on
# its own. A second cause: our network predicts widths and heights as fractions of the
# *image*, which it learned at 64 pixels. If it judges an object's size from its pixels, at
# 48 pixels it draws every box 48/64 = 0.75 times too small on each side, and at 80 pixels
# 1.25 times too large, and many boxes then miss IoU 0.5. The fourth column tests this: the
# same detections with every predicted width and height multiplied by 64 / input size. What
# that recovers is the size error; what is still missing against the 64-pixel row is the
# change of scale itself (objects larger or smaller in pixels than any seen in training).
# YOLOv2's answer is **multi-scale training**: every 10 batches it picked a new input size
# between 320 and 608, so that one network works across sizes and a user trades speed for
# accuracy at test time. We have not trained that here.

# %% [markdown]
# ## 5. SSD-style dense heads, and the imbalance problem
#
# SSD (Liu et al., 2016) is another one-stage detector, closer to the RPN of chapter 04 than
# to YOLO: at every cell of **several feature maps** of decreasing resolution it places
# **default boxes** (anchors) of a few sizes and shapes, and a small convolutional head
# predicts, for each default box, class scores and four box deltas. Fine maps handle small
# objects, coarse maps large ones. RetinaNet (Lin et al., 2017) has the same structure.
#
# Our version, a setting chosen for its imbalance: **96×96 scenes with one small object** (9–15 pixels),
# heads on the stride-4 map (24×24 cells, 9 default boxes each: sizes 9, 12, 16 × three
# shapes) and the stride-8 map (12×12 cells, 6 each: sizes 22, 32). A default box is a
# positive when its IoU with the object is ≥ 0.5 (or it is the object's best), background
# below 0.4, ignored in between. Each class has its own sigmoid output (background is "all
# classes off"), as in RetinaNet.

# %%
figures.ssd_multiscale()
plt.show()


# %%
dense_scene = ShapesConfig(image_size=96, min_objects=1, max_objects=1, min_size=0.094,
                           max_size=0.156, background="noise", clutter=4)
DENSE_IMAGE = dense_scene.image_size
LEVELS = ((4, (9, 12, 16)), (8, (22, 32)))  # (stride, default box sizes)
RATIOS = (0.5, 1.0, 2.0)
default_boxes = torch.cat([detection.anchor_grid((DENSE_IMAGE // s, DENSE_IMAGE // s), s, sizes_, RATIOS) + s / 2
                           for s, sizes_ in LEVELS]).to(rt.device)  # cell centres, as SSD


def dense_labels(batch):
    """Per default box: class (0 background, -1 ignored) and regression target."""
    labels, goals = [], []
    for t in batch.targets():
        lab, matched = detection.label_anchors(default_boxes, t["boxes"], 0.5, 0.4)
        labels.append(torch.where(lab == 1, t["labels"][matched], lab))
        goals.append(vboxes.encode_boxes(t["boxes"][matched], default_boxes))
    return torch.stack(labels), torch.stack(goals)


dense_train = generate(S.dense_pool, dense_scene, seed=0, device=rt.device)
dense_test = generate(S.test_scenes, dense_scene, seed=10**6, device=rt.device)
dense_test_targets = [{"boxes": t["boxes"].cpu(), "labels": t["labels"].cpu()} for t in dense_test.targets()]
dense_train_labels, dense_train_goals = dense_labels(dense_train)
positives = (dense_train_labels > 0).sum(1).float().mean().item()
negatives = (dense_train_labels == 0).sum(1).float().mean().item()
print(f"{len(default_boxes)} default boxes per image; per image {positives:.1f} positive, "
      f"{negatives:.0f} background: 1 : {negatives / positives:.0f}")

# %% [markdown]
# About a thousand background boxes for every object box. Trained with plain cross-entropy,
# the sum over all those easy background boxes — each contributing a little loss —
# dominates the summed loss (measured below), and RetinaNet's authors argue it drowns the
# few boxes that matter. **Focal loss** scales each term by $(1 - p_t)^\gamma$, where $p_t$ is
# the probability the model gives to the right answer:
#
# $$\text{FL}(p_t) = -\alpha_t\, (1 - p_t)^\gamma \log p_t,\qquad p_t = \begin{cases} p & y = 1\\ 1 - p & y = 0\end{cases},\qquad
# \alpha_t = \begin{cases} \alpha & y = 1\\ 1 - \alpha & y = 0.\end{cases}$$
#
# A well-classified box ($p_t$ near 1) contributes almost nothing; with $\gamma = 0$ and no
# $\alpha$ it is cross-entropy. RetinaNet used $\gamma = 2$, $\alpha = 0.25$.


# %%
def show_focal(gamma=2.0, alpha=0.25):
    p = torch.linspace(0.001, 0.999, 400)
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(p, -torch.log(p), label="cross-entropy", color="gray")
    ax.plot(p, -alpha * (1 - p) ** gamma * torch.log(p), label=f"focal, γ={gamma}, α={alpha}")
    ax.set_xlabel("probability of the right answer, $p_t$"), ax.set_ylabel("loss")
    ax.set_yscale("log"), ax.set_ylim(1e-6, 10), ax.legend(fontsize=8), ax.grid(alpha=0.3)
    plt.show()


_ = widgets.interact(
    show_focal,
    gamma=widgets.FloatSlider(2.0, min=0.0, max=5.0, step=0.5, description="γ"),
    alpha=widgets.FloatSlider(0.25, min=0.05, max=1.0, step=0.05, description="α"),
)

# %% [raw]
# # BEGIN QUESTION
# name: ex5_4
# points: 2

# %% [markdown]
# **Exercise 5.4 — focal loss.** Complete `focal_loss(inputs, targets, alpha=0.25,
# gamma=2.0)`: `inputs` are logits, `targets` 0/1 floats of the same shape; return the
# elementwise loss (same shape, no reduction), as `torchvision.ops.sigmoid_focal_loss`
# computes it: `p = sigmoid(inputs)`, the cross-entropy term from
# `F.binary_cross_entropy_with_logits(..., reduction="none")` (numerically safe), times
# `(1 − p_t) ** gamma`, times `α_t` — except that a negative `alpha` means "no α weighting".

# %% [raw]
# # BEGIN SOLUTION


# %%
def focal_loss(inputs, targets, alpha=0.25, gamma=2.0):
    # BEGIN SOLUTION
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_focal_loss_small(focal_loss):
    import math

    import torch

    from visioncourse.exercises import expect_close

    got = focal_loss(torch.tensor([0.0, 0.0, math.log(9)]), torch.tensor([1.0, 0.0, 1.0]))
    # p = 0.5, 0.5, 0.9: CE = log 2, log 2, -log 0.9; (1 - p_t)^2 = 0.25, 0.25, 0.01
    expected = torch.tensor([0.25 * 0.25 * math.log(2), 0.75 * 0.25 * math.log(2), 0.25 * 0.01 * -math.log(0.9)])
    expect_close(
        "Exercise 5.4 (focal_loss)",
        got,
        expected,
        inputs="logits (0, 0, log 9), targets (1, 0, 1), alpha 0.25, gamma 2",
        hint="alpha weights positives, 1 - alpha negatives; p_t is p for y=1 and 1-p for y=0",
    )


test_focal_loss_small(focal_loss)


# %%
# HIDDEN
def test_focal_loss_matches_torchvision(focal_loss):
    import torch
    from torchvision.ops import sigmoid_focal_loss

    from visioncourse.exercises import expect_close

    g = torch.Generator().manual_seed(8)
    x = torch.randn(50, 4, generator=g) * 6
    t = (torch.rand(50, 4, generator=g) > 0.8).float()
    for alpha, gamma in ((0.25, 2.0), (-1, 0.0), (0.5, 1.0), (-1, 3.0)):
        expect_close(
            "Exercise 5.4 (focal_loss)",
            focal_loss(x, t, alpha, gamma),
            sigmoid_focal_loss(x, t, alpha, gamma, reduction="none"),
            inputs=f"200 random logits (up to ±20), alpha {alpha}, gamma {gamma}",
            hint="alpha < 0: no alpha weighting; use binary_cross_entropy_with_logits",
            atol=1e-5,
        )


test_focal_loss_matches_torchvision(focal_loss)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **The experiment.** The same dense detector trained with cross-entropy and with focal loss
# ($\gamma = 2$, $\alpha = 0.25$), from `S.seeds` seeds each; the two losses share each
# seed's initialisation, batches and steps. Both start with every class probability at 0.01 (RetinaNet's "prior"
# initialisation of the last bias), and both normalise by the number of positive boxes.
# First, where the loss comes from on one batch at initialisation:

# %%
focal_fn = use_or_reference("Exercise 5.4", "focal_loss",
                            lambda x, t, a=0.25, g=2.0: torchvision.ops.sigmoid_focal_loss(x, t, a, g),
                            torch.tensor([0.0, 0.0, 2.0]), torch.tensor([1.0, 0.0, 1.0]))


class DenseDetector(nn.Module):
    """SSD/RetinaNet-style: a head on the stride-4 and the stride-8 maps; per default box,
    C class logits (one sigmoid each) and 4 box deltas."""

    def __init__(self, width, num_classes, prior=0.01):
        super().__init__()
        w = width
        self.stride4 = nn.Sequential(*conv_block(3, w // 2, True), *conv_block(w // 2, w, True),
                                     *conv_block(w, 2 * w, False))
        self.stride8 = nn.Sequential(*conv_block(2 * w, 2 * w, True))
        per_cell = [len(sizes_) * len(RATIOS) for _, sizes_ in LEVELS]
        self.cls = nn.ModuleList(nn.Conv2d(2 * w, a * num_classes, 3, padding=1) for a in per_cell)
        self.box = nn.ModuleList(nn.Conv2d(2 * w, a * 4, 3, padding=1) for a in per_cell)
        for conv in self.cls:  # every class starts at probability `prior`
            nn.init.constant_(conv.bias, -math.log((1 - prior) / prior))
        self.num_classes = num_classes

    def forward(self, images):
        f4 = self.stride4(images)
        logits, deltas = [], []
        for f, cls, box in zip((f4, self.stride8(f4)), self.cls, self.box):
            n = len(f)  # (n, A*C, H, W) -> (n, H*W*A, C): cells row-major, anchors inside
            logits.append(cls(f).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes))
            deltas.append(box(f).permute(0, 2, 3, 1).reshape(n, -1, 4))
        return torch.cat(logits, 1), torch.cat(deltas, 1)


def dense_loss(kind, parts=None):
    def loss(out, labels, goals):
        logits, deltas = out
        valid, positive = labels >= 0, labels > 0
        onehot = F.one_hot(labels.clamp(min=0), NUM_CLASSES + 1)[..., 1:].to(logits.dtype)
        if kind == "focal":
            cls = focal_fn(logits[valid].float(), onehot[valid].float())
        else:
            cls = F.binary_cross_entropy_with_logits(logits[valid].float(), onehot[valid].float(), reduction="none")
        if parts is not None:  # where does the classification loss come from?
            background = (labels[valid] == 0)[:, None].expand_as(cls)
            parts.append((cls[background].sum().item(), cls.sum().item()))
        box = F.smooth_l1_loss(deltas[positive].float(), goals[positive], beta=1 / 9, reduction="sum")
        return (cls.sum() + box) / positive.sum().clamp(min=1)

    return loss


def dense_batch(step, seed=0):
    g = torch.Generator().manual_seed(seed * 10**6 + step)
    idx = torch.randint(0, S.dense_pool, (S.dense_batch,), generator=g).to(rt.device)
    return dense_train.images[idx], dense_train_labels[idx], dense_train_goals[idx]


images, labels, goals = dense_batch(0)
torch.manual_seed(0)
with torch.no_grad():
    out = DenseDetector(S.width, NUM_CLASSES).to(rt.device).eval()(images)
for kind in ("cross-entropy", "focal"):
    parts = []
    dense_loss("focal" if kind == "focal" else "ce", parts)(out, labels, goals)
    print(f"{kind:14s}: background boxes give {parts[0][0] / parts[0][1]:6.1%} of the classification loss")


# %%
@torch.no_grad()
def detect_dense(model, images, candidates=300):
    """Top-scoring (box, class) pairs per image (no score threshold, so that AP compares
    rankings), decoded and NMS-ed per class."""
    model.eval()
    logits, deltas = model(images)
    out = []
    for lg, d in zip(logits.float(), deltas.float()):
        scores = lg.sigmoid().flatten()
        top = scores.topk(candidates).indices
        box_index, label = top // NUM_CLASSES, top % NUM_CLASSES + 1
        boxes = vboxes.clip_boxes_to_image(vboxes.decode_boxes(d[box_index], default_boxes[box_index]), (DENSE_IMAGE, DENSE_IMAGE))
        keep = vboxes.batched_nms(boxes, scores[top], label, 0.5)[:100]
        out.append({"boxes": boxes[keep].cpu(), "scores": scores[top][keep].cpu(), "labels": label[keep].cpu()})
    return out


dense_results = {"ce": [], "focal": []}  # per seed: (mAP@0.5, COCO AP, training seconds)
runs = [(seed, kind) for seed in range(S.seeds) for kind in dense_results]
for seed, kind in tqdm(runs, desc=f"2 losses × {S.seeds} seeds"):
    torch.manual_seed(seed)  # the seed sets the initial weights and the batches; both losses share them
    model = DenseDetector(S.width, NUM_CLASSES).to(rt.device)
    h = fit(model, functools.partial(dense_batch, seed=seed), dense_loss(kind), S.dense_steps, lr=3e-3,
            progress=False, amp=True)
    dets = detect_dense(model, dense_test.images)
    dense_results[kind].append((mean_average_precision(dets, dense_test_targets)["map"].item(),
                                coco_map(dets, dense_test_targets)["map"].item(), h.seconds))
NAMES = {"ce": "cross-entropy", "focal": "focal loss (γ=2, α=0.25)"}
print(f"{S.seeds} seeds, mean ± std")
print(f"{'1 object : ' + format(negatives / positives, '.0f') + ' background boxes':32s}"
      f"{'mAP@0.5':>15s}{'COCO AP':>15s}{'train':>12s}")
for kind, name in NAMES.items():
    m50, ap, sec = zip(*dense_results[kind])
    print(f"{name:32s}{mean_std(m50, 3):>15s}{mean_std(ap, 3):>15s}{mean_std(sec, 1):>11s}s")
for column, label in ((0, "mAP@0.5"), (1, "COCO AP")):
    print(f"per seed, {label}:", {NAMES[k]: [round(r[column], 3) for r in runs] for k, runs in dense_results.items()})
    print(f"{label}: " + verdict("focal loss", [r[column] for r in dense_results["focal"]],
                                "cross-entropy", [r[column] for r in dense_results["ce"]]))

# %% [markdown]
# The first table is the mechanism: under cross-entropy, most of the classification loss
# comes from background boxes; focal loss turns that into a fraction of a percent, so the rare objects and the confusing background drive
# learning. The second table is what that does to AP in our short runs, over seeds, whichever
# way it goes; read its verdict lines before drawing a conclusion. Where the seeds overlap,
# the honest reading is that our short runs cannot tell the two losses apart (the per-seed
# values show how far one seed can land from another). RetinaNet reported
# 31.1 → 34.0 AP on COCO for this change (Lin et al., 2017), with a far larger network and
# much longer training. SSD's own answer was hard negative mining: keep only the background
# boxes with the highest loss, at most three per positive.

# %% [markdown]
# ## 6. Speed and accuracy: one stage against two
#
# The lecture's numbers (VOC 2007): YOLO about 45 frames per second at 63.4 mAP, Faster R-CNN
# (VGG-16) about 7 fps at 73.2. Our measurement: chapter 04's production detector — torchvision's
# Faster R-CNN with the small backbone, built by `visioncourse.detection.small_faster_rcnn` —
# trained on the same scenes, then both detectors on the same device, on 64×64 images, **one
# image at a time** (batch size 1, as a camera delivers them).


# %%
def two_stage_batch(step):
    if S.fresh:
        batch = generate(S.two_stage_batch, scene, seed=2 * 10**7 + step, device=rt.device)
        images, boxes, labels = batch.images, batch.boxes, batch.labels
    else:
        g = torch.Generator().manual_seed(step)
        idx = torch.randint(0, S.pool, (S.two_stage_batch,), generator=g).to(rt.device)
        images, boxes, labels = pool.images[idx], pool.boxes[idx], pool.labels[idx]
    targets = [{"boxes": b[lab > 0], "labels": lab[lab > 0]} for b, lab in zip(boxes, labels)]
    return ((list(images), targets),)


torch.manual_seed(0)
faster_rcnn = detection.small_faster_rcnn(NUM_CLASSES, IMAGE).to(rt.device)
two_stage_history = fit(faster_rcnn, two_stage_batch, lambda losses: sum(losses.values()),
                        S.two_stage_steps, lr=2e-3, desc="Faster R-CNN")
faster_rcnn.eval()
with torch.no_grad():
    faster_detections = [{k: v.cpu() for k, v in d.items()} for i in range(0, len(test.images), 50)
                         for d in faster_rcnn(list(test.images[i : i + 50]))]


@torch.inference_mode()
def frames_per_second(run, n=50):
    run(0)  # warm-up
    with timer() as t:
        for i in range(n):
            run(i)
    return n / t.seconds


# %% [markdown]
# **A fairer race.** The two detectors differ in more than their number of stages: YOLO's
# trunk has three poolings and its last convolutions run on the 8×8 grid, Faster R-CNN's
# `SmallBackbone` has two and runs its last convolutions on a 16×16 map (the parameter counts
# are printed below). To see what the *second stage* costs, a control puts the YOLO head on a
# backbone built exactly like Faster R-CNN's — a fresh `SmallBackbone` of the same width,
# one 2×2 pooling to reach YOLO's 8-pixel cells, and the same 1×1 output convolution — and
# trains it with YOLO's recipe and steps. A fourth row asks the converse: Faster R-CNN with
# 10 proposals per image instead of 50, faster and perhaps less accurate. All are timed the
# same way: the same 64×64 test images, batch size 1, the best of three timings of 50 frames.
# The "input + backbone" column times the image preparation (torchvision's transform, for
# Faster R-CNN) and the feature extractor; "rest" is the rest of the detector. Each figure is
# the best of three, so treat differences of a tenth of a millisecond as noise.

# %%
torch.manual_seed(0)
same_backbone = YOLO(S.width, NUM_CLASSES)
trunk = detection.SmallBackbone(faster_rcnn.backbone.out_channels // 2)  # the same width too
same_backbone.body = nn.Sequential(trunk, nn.MaxPool2d(2), nn.Conv2d(trunk.out_channels, 5 * BOXES + NUM_CLASSES, 1))
same_backbone = same_backbone.to(rt.device)
fit(same_backbone, scene_batch, total_loss, S.steps, lr=3e-3, desc="YOLO head on SmallBackbone", amp=True)
same_backbone_detections = detect_yolo(same_backbone, test.images)


def best_fps(run, repeats=3):
    return max(frames_per_second(run) for _ in range(repeats))


faster_10 = copy.deepcopy(faster_rcnn)
faster_10.rpn._post_nms_top_n["testing"] = 10  # torchvision's rpn_post_nms_top_n_test
with torch.no_grad():
    faster_10_detections = [{k: v.cpu() for k, v in d.items()} for i in range(0, len(test.images), 50)
                            for d in faster_10(list(test.images[i : i + 50]))]


def faster_input_and_backbone(model, i):
    return model.backbone(model.transform([test.images[i]])[0].tensors)


def yolo_frame(model, i):
    return onestage.yolo_decode(model(test.images[i : i + 1]), BOXES, IMAGE, boxes_fn=cells_fn)


detectors = {  # name: (whole detector, input + backbone, detections, lecture figure)
    "YOLO (this chapter)": (lambda i: yolo_frame(yolo, i), lambda i: yolo.body[:-1](test.images[i : i + 1]),
                            yolo_detections, "45 fps, 63.4 mAP"),
    "YOLO head, SmallBackbone": (lambda i: yolo_frame(same_backbone, i), lambda i: trunk(test.images[i : i + 1]),
                                 same_backbone_detections, ""),
    "Faster R-CNN (chapter 04)": (lambda i: faster_rcnn([test.images[i]]),
                                  lambda i: faster_input_and_backbone(faster_rcnn, i),
                                  faster_detections, "7 fps, 73.2 mAP"),
    "Faster R-CNN, 10 proposals": (lambda i: faster_10([test.images[i]]),
                                   lambda i: faster_input_and_backbone(faster_10, i), faster_10_detections, ""),
}


def count(module):
    return sum(p.numel() for p in module.parameters())


print(f"parameters: YOLO {count(yolo):,}, YOLO head on SmallBackbone {count(same_backbone):,}, "
      f"Faster R-CNN {count(faster_rcnn):,} (its backbone {count(faster_rcnn.backbone):,})\n")
fps = {}
print(f"{'':28s}{'fps':>7s}{'input + backbone ms':>21s}{'rest ms':>9s}{'mAP@0.5':>9s}{'COCO AP':>9s}   lecture (VOC 2007)")
for name, (whole, backbone_only, dets, lecture) in detectors.items():
    fps[name] = best_fps(whole)
    backbone_ms = 1000 / best_fps(backbone_only)
    print(f"{name:28s}{fps[name]:7.0f}{backbone_ms:21.2f}{1000 / fps[name] - backbone_ms:9.2f}"
          f"{mean_average_precision(dets, test_targets)['map'].item():9.3f}"
          f"{coco_map(dets, test_targets)['map'].item():9.3f}   {lecture}")
ratio = fps["YOLO (this chapter)"] / fps["Faster R-CNN (chapter 04)"]
fair = fps["YOLO head, SmallBackbone"] / fps["Faster R-CNN (chapter 04)"]
print(f"\nYOLO runs {ratio:.1f}× as many frames per second as Faster R-CNN (lecture: {45 / 7:.1f}×); "
      f"on the same backbone the one-stage head runs {fair:.1f}× as many, on {rt.device}, "
      "at the AP printed in its row: compare speeds only where the APs are close.")

# %% [markdown]
# YOLO's whole pipeline is a few convolutions and one small NMS; Faster R-CNN adds anchor
# decoding, proposal NMS, RoI align and a fully connected head per proposal, and many small
# operations that a CPU or GPU runs one after the other at batch size 1. The "rest" column
# shows where that cost sits, and the same-backbone row shows how much of the speed gap is
# left once the backbones are equal; the 10-proposal row prices the converse, less work for
# the second stage, in both speed and AP. The accuracy columns reflect a budget of seconds per
# detector; the lecture's VOC numbers come from days of training on hard photos, where the
# two-stage detector was the more accurate. Compare speeds only between detectors whose AP
# is close, and say which AP: mAP@0.5 can be close while COCO AP, which rewards tight boxes,
# is not. A detector can always be made faster by making it worse.

# %% [markdown]
# ## Try it on real photos (optional)
#
# `visioncourse.data.real.load` returns real photos in exactly the format of `generate(...)`
# (images, boxes, labels, masks, `targets()`), so the code of this chapter runs on them by
# changing the line that makes the data. Here: PASCAL VOC 2007, the benchmark of YOLO's and
# SSD's papers: 20 classes. The cell takes the YOLO trained above on shapes, gives its last
# layer outputs for VOC's 20 classes, fine-tunes it for `S.photo_steps` steps with the same
# loss on training photos at our 64×64 size (an 8×8 grid), and scores it on validation
# photos. Compare the printed AP with the paper's 63.4 mAP: a small network, tiny images and
# a few steps, where the paper's YOLO was pretrained on ImageNet and trained for days. It only runs if the data is on your
# machine (`python -m visioncourse.data.real voc2007`, which needs internet once).

# %%
from visioncourse.data import real
from visioncourse.viz import show_detections

if real.is_available("voc2007"):
    photos = real.load("voc2007", split="train", image_size=IMAGE, limit=S.photos)  # instead of generate(...)
    photo_test = real.load("voc2007", split="test", image_size=IMAGE, limit=S.test_scenes)
    torch.manual_seed(0)  # the new last layer's initial weights
    tuned = copy.deepcopy(yolo)
    last = tuned.body[-1]
    tuned.body[-1] = nn.Conv2d(last.in_channels, 5 * BOXES + photos.num_classes, 1).to(rt.device)
    photo_images = photos.images.to(rt.device)
    photo_goals = onestage.yolo_targets(photos.boxes, photos.labels, IMAGE // 8, photos.num_classes, IMAGE).to(rt.device)

    def photo_batches(step):
        idx = torch.randint(0, len(photos), (S.batch,), generator=torch.Generator().manual_seed(step)).to(rt.device)
        return photo_images[idx], photo_goals[idx]

    h = fit(tuned, photo_batches, total_loss, S.photo_steps, lr=1e-3, desc="YOLO on VOC", amp=True)
    photo_dets = detect_yolo(tuned, photo_test.images.to(rt.device))
    photo_truth = [{"boxes": t["boxes"], "labels": t["labels"]} for t in photo_test.targets()]
    print(f"{len(photos)} training photos, {S.photo_steps} steps in {h.seconds:.0f} s; "
          f"{len(photo_test)} validation photos: mAP@0.5 (VOC) "
          f"{mean_average_precision(photo_dets, photo_truth)['map']:.3f}")
    show_detections(photo_test.images, photo_dets, photos.classes, score_threshold=0.3)
    plt.show()
else:
    print(real.missing_message("voc2007"))

# %% [markdown]
# ## Takeaways
#
# - YOLO reads detections off an `S × S` grid in one pass: the cell holding an object's
#   centre is responsible for it; each cell predicts `B` boxes with confidences and one set
#   of class probabilities (7 × 7 × 30 for VOC).
# - Its loss is a weighted sum of squared errors: coordinates (λ = 5, square roots of sizes),
#   confidence of the responsible box (target: its IoU), "no object" for the others (λ = 0.5)
#   and class probabilities.
# - YOLOv2: anchor shapes from k-means with 1 − IoU cover the boxes better than as many
#   hand-picked ones; sigmoid-bounded offsets keep centres in their cells; a fully convolutional network
#   can train and test at several input sizes.
# - Dense one-stage heads (SSD, RetinaNet) score thousands of default boxes per image; when
#   background outnumbers objects a thousand to one, focal loss keeps the easy background
#   from dominating the loss (measured above: from most of it to under one percent). Whether
#   that buys AP in a short run is the verdict line above; RetinaNet measured +2.9 AP on COCO.
# - One-stage detectors trade accuracy for speed. Read the speed table for how much of each
#   on our data, at loose (mAP@0.5) and strict (COCO AP) overlap.
#
# ## Further reading
# - Redmon, Divvala, Girshick & Farhadi (2016), *You Only Look Once: Unified, Real-Time Object
#   Detection*.
# - Redmon & Farhadi (2017), *YOLO9000: Better, Faster, Stronger* (YOLOv2).
# - Liu et al. (2016), *SSD: Single Shot MultiBox Detector*.
# - Lin, Goyal, Girshick, He & Dollár (2017), *Focal Loss for Dense Object Detection*
#   (RetinaNet).
# - Huang et al. (2017), *Speed/accuracy trade-offs for modern convolutional object
#   detectors*.
