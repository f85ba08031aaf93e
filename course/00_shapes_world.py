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
# name: 00_shapes_world
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
# # Chapter 00 — The shapes world and the toolbox
#
# **What you will learn**
# - the *shapes world*, the synthetic data every chapter trains on: images with exact boxes,
#   masks and captions, generated faster than any network can consume them;
# - the course library `visioncourse`, the two run modes, and how your exercises are checked;
# - three warm-up exercises on the labels the generator produces, and a fourth that reads
#   the mistakes of your first trained model.
#
# No lecture yet: this is the toolbox the whole course stands on.
#
# **Run time:** under a minute in fast mode on 2 CPU cores.

# %%
# Setup: works locally (after `make lab`) and on Colab, where its first run fetches and
# installs the course. Safe to run again, and after Colab's "Restart session".
import importlib.util
import os
import subprocess
import sys

COURSE_REPO = "https://github.com/vision-beyond-classification/course"
CHAPTER = "00_shapes_world"
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

# %% [markdown]
# `setup` seeded every random generator and picked a **mode**:
#
# - **fast** (the default without a GPU): every notebook finishes in about a minute on a
#   laptop CPU and still trains real models that clear a stated bar;
# - **full** (the default with a CUDA GPU): bigger images, longer training, higher bars.
#
# Force one with the environment variable `COURSE_MODE=fast` or `COURSE_MODE=full` before
# starting Jupyter. Each notebook takes all its sizes from a single `sizes(...)` call:

# %%
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from visioncourse.data import ShapesConfig, generate
from visioncourse.exercises import feedback, use_or_reference
from visioncourse.train import fit
from visioncourse.viz import overlay_masks, show_batch, show_images

S = sizes(
    fast=dict(image_size=32, steps=150, batch=64, test_images=1000),
    full=dict(image_size=64, steps=600, batch=256, test_images=5000),
    mode=rt.mode,
)
S

# %% [markdown]
# ## 1. A tour of the shapes world
#
# `generate(n, config, seed=...)` draws `n` scenes at once. Every scene has a few coloured
# shapes on a background, and the batch carries their exact annotations:
#
# | field | shape | meaning |
# |---|---|---|
# | `images` | `(n, 3, H, W)` float in [0, 1] | the pictures |
# | `boxes` | `(n, K, 4)` `xyxy` | one box per object slot (K = `max_objects`) |
# | `labels` | `(n, K)` | 1..C for objects, 0 for empty slots (0 is *background*) |
# | `masks` | `(n, K, H, W)` bool | visible pixels of each object |
# | `semantic` | `(n, H, W)` | the class seen at every pixel, 0 for background |
# | `captions` | list of `n` strings | a sentence from a small grammar |
#
# `batch.targets()` gives the same annotations as torchvision's detection models expect: one
# dict with `boxes`, `labels` and `masks` per image.
#
# Objects have a width *and* a height, and each class has its own typical box shape, as
# people are tall and cars are wide: circles are drawn as ellipses lying flat (1.25:1 to 3:1),
# squares as standing rectangles (1:3 to 1:1.25), triangles and diamonds vary around 1:1
# (1:1.55 to 1.55:1), so the shape of a box alone already hints at the class. The boxes are
# computed from the masks, so they are tight to the pixel. `ShapesConfig(elongation=1)` gives
# back the first edition's world of round circles and true squares.

# %%
batch = generate(8, ShapesConfig(max_objects=3), seed=1)
print(
    batch.config.classes, "| images", tuple(batch.images.shape), "| boxes", tuple(batch.boxes.shape)
)
fig = show_batch(batch, with_captions=True)
plt.show()

# %% [markdown]
# Masks come in two flavours: the **semantic** mask says *which class* each pixel shows; the
# **instance** masks say *which object*. With `max_overlap > 0` objects may overlap, and a
# later object hides part of an earlier one. Its instance mask then holds only what is
# visible, while its box still encloses the whole shape.

# %%
crowded = generate(4, ShapesConfig(max_objects=4, max_overlap=0.4), seed=5)
panels = []
for i in range(4):
    panels += [crowded.images[i], overlay_masks(crowded.images[i], crowded.masks[i])]
show_images(torch.stack(panels), titles=["image", "instances"] * 4, ncols=8)
plt.show()
fig, axes = plt.subplots(1, 4, figsize=(7, 1.9))
for ax, sem in zip(axes, crowded.semantic):
    ax.imshow(sem, vmin=0, vmax=crowded.config.num_shapes, cmap="tab10", interpolation="nearest")
    ax.axis("off")
fig.suptitle("semantic masks: 0 = background, 1..3 = circle, square, triangle", fontsize=9)
plt.show()

# %% [markdown]
# ### Play with the world
#
# Every knob is a field of `ShapesConfig`. Harder worlds (more objects, overlap, textured
# backgrounds, clutter) make harder problems. Later chapters turn these up.


# %%
def show_world(max_objects=3, max_overlap=0.0, background="plain", clutter=0, num_shapes=3,
               elongation=3.0, seed=0):
    cfg = ShapesConfig(max_objects=max_objects, max_overlap=max_overlap, background=background,
                       clutter=clutter, num_shapes=num_shapes, elongation=elongation)
    show_batch(generate(8, cfg, seed=seed))
    plt.show()


wide = {"description_width": "initial"}  # the whole parameter name, not "max_obje..."
_ = widgets.interact(
    show_world,
    max_objects=widgets.IntSlider(3, 1, 8, style=wide),
    max_overlap=widgets.FloatSlider(0.0, min=0.0, max=1.0, step=0.1, style=wide),
    background=widgets.Dropdown(options=["plain", "noise", "texture"], style=wide),
    clutter=widgets.IntSlider(0, 0, 20, style=wide),
    num_shapes=widgets.IntSlider(3, 3, 4, style=wide),
    elongation=widgets.FloatSlider(3.0, min=1.0, max=6.0, step=0.5, style=wide),
    seed=widgets.IntSlider(0, 0, 100, style=wide),
)
# %% [markdown]
# **Two promises the generator keeps:**
#
# 1. *Same seed, same batch*: every run of this notebook sees the same data, on the same device.
# 2. *It is never the bottleneck*: it renders whole batches with tensor operations (no loop over
#    images or pixels), tens of thousands of images per second on a GPU and over ten thousand
#    on two CPU cores. `python -m visioncourse.data.bench` measures it on your machine.

# %%
a, b = generate(64, seed=42), generate(64, seed=42)
print(
    "same seed, same images:",
    torch.equal(a.images, b.images),
    "| same boxes:",
    torch.equal(a.boxes, b.boxes),
)
generate(1024, seed=0, device=rt.device)  # warm-up
start = time.perf_counter()
for seed in range(5):
    generate(1024, seed=seed, device=rt.device)
print(f"{5 * 1024 / (time.perf_counter() - start):,.0f} images/s at 64x64 on {rt.device}")

# %% [markdown]
# ## 2. How your exercises are checked
#
# An exercise is a function with `...` where your code goes. Below it, a cell runs
# `grader.check("ex0_1")`: the *public tests* for that exercise. When one fails, the message
# names the exercise, the input, what was expected, what you returned, and a hint. A message
# looks like this:

# %%
print(feedback("Exercise 0.1 (class_pixel_fractions)", "wrong value", inputs="a 2x2 mask [[0, 1], [1, 1]]",
               expected=[0.25, 0.75], got=[1, 3], hint="divide the counts by the number of pixels"))

# %% [markdown]
# Your instructor grades with more *hidden tests* of the same kind, so passing the public ones
# is necessary but not always sufficient: handle the edge cases the exercise mentions.
#
# An unfinished exercise never blocks the notebook. Cells that need your function fall back to
# the library's reference and say so.

# %% [raw]
# # BEGIN QUESTION
# name: ex0_1
# points: 1

# %% [markdown]
# **Exercise 0.1 — how much of the image is each class?** Complete
# `class_pixel_fractions(semantic, num_classes)`: `semantic (Tensor[n, H, W])` of class
# indices in `0..num_classes-1` → `Tensor[num_classes]`, the fraction of all pixels of the
# batch that shows each class (they sum to 1). Classes that never appear get 0.
# `torch.bincount(x, minlength=...)` counts a flat tensor in one call.

# %% [raw]
# # BEGIN SOLUTION


# %%
def class_pixel_fractions(semantic, num_classes):
    # BEGIN SOLUTION
    counts = torch.bincount(semantic.reshape(-1), minlength=num_classes)
    return counts.float() / semantic.numel()
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_class_pixel_fractions_small(class_pixel_fractions):
    import torch

    from visioncourse.exercises import expect_close

    semantic = torch.tensor([[[0, 1], [1, 1]]])
    expect_close(
        "Exercise 0.1 (class_pixel_fractions)",
        class_pixel_fractions(semantic, 4),
        [0.25, 0.75, 0.0, 0.0],
        inputs="one 2x2 mask [[0, 1], [1, 1]], num_classes=4",
        hint="classes 2 and 3 never appear but still get an entry: use minlength",
    )


test_class_pixel_fractions_small(class_pixel_fractions)


# %%
# HIDDEN
def test_class_pixel_fractions_batch(class_pixel_fractions):
    import torch

    from visioncourse.data import generate
    from visioncourse.exercises import expect_close

    semantic = generate(16, seed=9).semantic
    want = torch.stack([(semantic == c).float().mean() for c in range(4)])
    expect_close(
        "Exercise 0.1 (class_pixel_fractions)",
        class_pixel_fractions(semantic, 4),
        want,
        inputs="semantic masks of generate(16, seed=9)",
        hint="count over the whole batch, not per image",
    )


test_class_pixel_fractions_batch(class_pixel_fractions)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
fractions_fn = use_or_reference(
    "Exercise 0.1", "class_pixel_fractions",
    lambda s, c: torch.bincount(s.reshape(-1), minlength=c).float() / s.numel(),
    torch.tensor([[[0, 1], [1, 1]]]), 4,
)
big = generate(512, ShapesConfig(max_objects=3), seed=3)
for name, fraction in zip(big.config.classes, fractions_fn(big.semantic, 4).tolist()):
    print(f"{name:10s} {fraction:6.1%} of pixels")
print("-> background dominates: a segmentation model that always says 'background' is already "
      "right on most pixels (chapter 06 comes back to this).")

# %% [raw]
# # BEGIN QUESTION
# name: ex0_2
# points: 2

# %% [markdown]
# **Exercise 0.2 — from a mask to its box.** Complete `masks_to_boxes(masks)`:
# `masks (Tensor[K, H, W])` bool → `Tensor[K, 4]` float, the tight box of each mask as
# torchvision defines it: `(x_min, y_min, x_max, y_max)` with the *indices* of the first and
# last column and row that contain the mask. Hint: `masks.any(dim=1)` tells which columns are
# used; multiply by `torch.arange(W)` and take a max; for the min, fill unused columns with a
# large value first. Assume every mask has at least one pixel.

# %% [raw]
# # BEGIN SOLUTION


# %%
def masks_to_boxes(masks):
    # BEGIN SOLUTION
    _, H, W = masks.shape
    cols, rows = masks.any(dim=1), masks.any(dim=2)  # (K, W), (K, H)
    xs, ys = torch.arange(W), torch.arange(H)
    x_max = (cols * xs).amax(1)
    y_max = (rows * ys).amax(1)
    x_min = torch.where(cols, xs, W).amin(1)
    y_min = torch.where(rows, ys, H).amin(1)
    return torch.stack((x_min, y_min, x_max, y_max), dim=1).float()
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_masks_to_boxes_small(masks_to_boxes):
    import torch

    from visioncourse.exercises import expect_close

    masks = torch.zeros(2, 5, 6, dtype=torch.bool)
    masks[0, 1:3, 2:5] = True  # rows 1-2, columns 2-4
    masks[1, 4, 0] = True  # a single pixel at row 4, column 0
    expect_close(
        "Exercise 0.2 (masks_to_boxes)",
        masks_to_boxes(masks),
        [[2.0, 1.0, 4.0, 2.0], [0.0, 4.0, 0.0, 4.0]],
        inputs="two 5x6 masks: a 2x3 block at rows 1-2 / columns 2-4, and one pixel at (4, 0)",
        hint="x is the column index, y the row; max is the last used index (inclusive)",
    )


test_masks_to_boxes_small(masks_to_boxes)


# %%
# HIDDEN
def test_masks_to_boxes_matches_torchvision(masks_to_boxes):
    import torchvision

    from visioncourse.data import generate
    from visioncourse.exercises import expect_close

    b = generate(6, seed=21, max_objects=4, max_overlap=0.5)
    masks = b.masks[b.masks.flatten(2).any(-1)]  # every non-empty instance mask
    expect_close(
        "Exercise 0.2 (masks_to_boxes)",
        masks_to_boxes(masks),
        torchvision.ops.masks_to_boxes(masks),
        inputs=f"{len(masks)} instance masks from generate(6, seed=21, ...)",
        hint="compare with torchvision.ops.masks_to_boxes; do not loop over masks",
    )


test_masks_to_boxes_matches_torchvision(masks_to_boxes)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **The production counterpart** is `torchvision.ops.masks_to_boxes`, and it agrees with yours.
# Note one convention: torchvision returns the index of the *last* pixel, so a one-pixel
# mask gets a box of width 0. The shapes world's `boxes` use pixel *edges* (the last pixel's
# far side), so they are exactly `masks_to_boxes + [0, 0, 1, 1]` for unoccluded objects.
# Chapter 01 explains why.

# %%
to_boxes = use_or_reference(
    "Exercise 0.2", "masks_to_boxes", torchvision.ops.masks_to_boxes, batch.masks[0, :1]
)
one = batch.masks[0, :1]
if to_boxes is not torchvision.ops.masks_to_boxes:  # only once exercise 0.2 passes its check
    print("yours      :", to_boxes(one).tolist())
print("torchvision:", torchvision.ops.masks_to_boxes(one).tolist())
print("shapes box :", batch.boxes[0, :1].tolist(), "(pixel edges)")

# %% [raw]
# # BEGIN QUESTION
# name: ex0_3
# points: 1

# %% [markdown]
# **Exercise 0.3 — objects per class.** Complete `objects_per_class(labels, num_classes)`:
# `labels (Tensor[n, K])` padded labels as in a batch (0 = empty slot, 1..num_classes =
# objects) → `Tensor[n, num_classes]` long, how many objects of each class every image has.
# Column 0 is class 1. `F.one_hot` then a sum does it without a loop.

# %% [raw]
# # BEGIN SOLUTION


# %%
def objects_per_class(labels, num_classes):
    # BEGIN SOLUTION
    return F.one_hot(labels, num_classes + 1)[..., 1:].sum(dim=1)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_objects_per_class_small(objects_per_class):
    import torch

    from visioncourse.exercises import expect_equal

    labels = torch.tensor([[1, 1, 3], [2, 0, 0]])
    expect_equal(
        "Exercise 0.3 (objects_per_class)",
        objects_per_class(labels, 3),
        torch.tensor([[2, 0, 1], [0, 1, 0]]),
        inputs="labels [[1, 1, 3], [2, 0, 0]], num_classes=3",
        hint="empty slots (label 0) are not objects; column j counts class j + 1",
    )


test_objects_per_class_small(objects_per_class)


# %%
# HIDDEN
def test_objects_per_class_matches_counts(objects_per_class):
    import torch

    from visioncourse.data import generate
    from visioncourse.exercises import expect_equal

    b = generate(32, seed=4, max_objects=6)
    want = torch.stack([(b.labels == c).sum(1) for c in (1, 2, 3)], dim=1)
    expect_equal(
        "Exercise 0.3 (objects_per_class)",
        objects_per_class(b.labels, 3),
        want,
        inputs="labels of generate(32, seed=4, max_objects=6)",
        hint="the result is (n, num_classes), one row per image",
    )
    expect_equal(
        "Exercise 0.3 (objects_per_class)",
        objects_per_class(b.labels, 3).sum(1),
        b.num_objects,
        inputs="the same batch: row sums",
        hint="each row should add up to the number of objects in that image",
    )


test_objects_per_class_matches_counts(objects_per_class)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 3. A first trained model
#
# `visioncourse.train.fit` is the course's training loop: it draws a fresh batch at every step,
# shows a progress bar, and records the loss and the time. Here it trains a small CNN to name
# the one shape in an image. It is the simplest task of the course, and the next chapter adds
# *where*. To leave room for mistakes worth looking at, the world is made hard: all four
# shapes, small objects (a few pixels across in fast mode), a blotchy background and six
# distractor specks.
#
# **The bar:** at least 85 % accuracy on 1000 held-out images in fast mode (95 % in full mode).

# %%
world = ShapesConfig(image_size=S.image_size, max_objects=1, num_shapes=4, min_size=0.12,
                     max_size=0.35, background="texture", clutter=6)
held_out = generate(S.test_images, world, seed=10**6, device=rt.device)

net = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveMaxPool2d(1),
    nn.Flatten(), nn.Linear(32, world.num_shapes),
).to(rt.device)


def shape_batch(step):
    b = generate(S.batch, world, seed=step, device=rt.device)
    return b.images, b.labels[:, 0] - 1  # classes 0..C-1 for cross-entropy


history = fit(net, shape_batch, F.cross_entropy, S.steps, lr=5e-3, desc="shape classifier")
net.eval()
with torch.no_grad():
    accuracy = (net(held_out.images).argmax(1) == held_out.labels[:, 0] - 1).float().mean().item()
BAR = 0.85 if rt.fast else 0.95
print(f"held-out accuracy {accuracy:.3f} (bar {BAR}) | {history.seconds:.1f} s, "
      f"{history.images_per_second:,.0f} training images/s")
assert accuracy >= BAR, "below the bar"

plt.figure(figsize=(4, 2.2))
plt.plot(history.smoothed())
plt.xlabel("step"), plt.ylabel("training loss (smoothed)")
plt.show()

# %% [markdown]
# Accuracy is one number for all shapes. Which shapes does the network confuse with which? A
# *confusion matrix* counts, for every true class (a row), how often each class was predicted
# (a column): the diagonal holds the hits, everything off it is a mistake with a name.

# %% [raw]
# # BEGIN QUESTION
# name: ex0_4
# points: 1

# %% [markdown]
# **Exercise 0.4 — a confusion matrix in one vectorised step.** Complete
# `confusion_matrix(predictions, targets, num_classes)`: `predictions, targets (Tensor[N])`
# class indices in `0..num_classes-1` → `Tensor[num_classes, num_classes]` long, where entry
# `[t, p]` counts the samples of true class `t` predicted as `p`. No Python loop over the
# samples: think of each (t, p) pair as one number, and count those numbers.

# %% [raw]
# # BEGIN SOLUTION


# %%
def confusion_matrix(predictions, targets, num_classes):
    # BEGIN SOLUTION
    pairs = targets.long() * num_classes + predictions.long()
    return torch.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_confusion_matrix_small(confusion_matrix):
    import torch

    from visioncourse.exercises import expect_equal

    predictions, targets = torch.tensor([0, 2, 1, 1, 2]), torch.tensor([0, 1, 1, 2, 2])
    expect_equal(
        "Exercise 0.4 (confusion_matrix)",
        confusion_matrix(predictions, targets, 3),
        torch.tensor([[1, 0, 0], [0, 1, 1], [0, 1, 1]]),
        inputs="predictions [0, 2, 1, 1, 2], targets [0, 1, 1, 2, 2], 3 classes",
        hint="rows are the true classes, columns the predictions: [t, p], not [p, t]",
    )


test_confusion_matrix_small(confusion_matrix)


# %%
# HIDDEN
def test_confusion_matrix_matches_torchmetrics(confusion_matrix):
    import torch
    from torchmetrics.classification import MulticlassConfusionMatrix

    from visioncourse.exercises import expect_equal

    g = torch.Generator().manual_seed(5)
    targets = torch.randint(0, 5, (300,), generator=g)
    predictions = torch.where(torch.rand(300, generator=g) < 0.7, targets, torch.randint(0, 5, (300,), generator=g))
    expect_equal(
        "Exercise 0.4 (confusion_matrix)",
        confusion_matrix(predictions, targets, 5),
        MulticlassConfusionMatrix(num_classes=5)(predictions, targets).long(),
        inputs="300 random predictions of 5 classes, 70 % right",
        hint="compare with torchmetrics' MulticlassConfusionMatrix",
    )
    expect_equal(
        "Exercise 0.4 (confusion_matrix)",
        confusion_matrix(torch.tensor([1, 1]), torch.tensor([1, 1]), 4),
        torch.tensor([[0, 0, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]),
        inputs="two samples of class 1, both right, 4 classes",
        hint="classes that never occur still get their row and column (a 4x4 result)",
    )


test_confusion_matrix_matches_torchmetrics(confusion_matrix)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
confusion_fn = use_or_reference(
    "Exercise 0.4", "confusion_matrix",
    lambda p, t, c: torch.bincount(t * c + p, minlength=c * c).reshape(c, c),
    torch.tensor([0, 2, 1]), torch.tensor([0, 1, 1]), 3,
)
with torch.no_grad():
    predicted = net(held_out.images).argmax(1).cpu()
truth = held_out.labels[:, 0].cpu() - 1
confusion = confusion_fn(predicted, truth, world.num_shapes)
names = world.shape_names
print("true \\ predicted " + " ".join(f"{n:>9s}" for n in names))
for name, row in zip(names, confusion.tolist()):
    print(f"{name:>17s} " + " ".join(f"{v:9d}" for v in row))
recall = confusion.diag() / confusion.sum(1).clamp(min=1)
worst = int(recall.argmin())
print(f"-> the hardest shape here is the {names[worst]} ({recall[worst]:.1%} recognised); "
      f"accuracy is the diagonal over the total: {confusion.diag().sum() / confusion.sum():.3f}")

# the production counterpart: torchmetrics counts the same matrix
from torchmetrics.classification import MulticlassConfusionMatrix

production = MulticlassConfusionMatrix(num_classes=world.num_shapes)(predicted, truth).long()
print("torchmetrics' MulticlassConfusionMatrix gives the same counts:", torch.equal(production, confusion))

# %% [markdown]
# ## 4. The library at a glance
#
# | module | what it holds |
# |---|---|
# | `visioncourse.runtime` | `setup`, `sizes`, `get_mode`, `get_device`, `seed_everything` |
# | `visioncourse.data` | the shapes world: `ShapesConfig`, `generate`, `sample_scene`, `render` |
# | `visioncourse.boxes` | `box_convert`, `box_area`, `box_iou`: the names and signatures of `torchvision.ops` |
# | `visioncourse.metrics` | evaluation: localization accuracy now, AP and mIoU in later chapters |
# | `visioncourse.train` | `fit` and `timer` |
# | `visioncourse.viz` | `show_batch`, `show_images`, `draw_boxes`, `overlay_masks` |
# | `visioncourse.exercises` | the feedback and fallbacks you saw above |
#
# Where torchvision has an operation, the library uses the same name and arguments, so what
# you learn here carries over to production code.
#
# ## Takeaways
# - The shapes world gives exact boxes, masks and captions for free, as fast as you can use them.
# - Fast mode and full mode run the same code with different sizes, all chosen in one cell.
# - Exercises are functions checked by tests that tell you what went wrong, and the notebook
#   keeps running while you work on them.
# - One accuracy hides which classes fail; a confusion matrix, counted in one `bincount`,
#   names the mistakes.
#
# ## Further reading
# - Johnson et al. (2017), *CLEVR: A Diagnostic Dataset for Compositional Language and
#   Elementary Visual Reasoning* — a synthetic world built to probe what models understand.
# - Tobin et al. (2017), *Domain Randomization for Transferring Deep Neural Networks from
#   Simulation to the Real World* — when training on synthetic images transfers.
