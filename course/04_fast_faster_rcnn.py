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
# name: 04_fast_faster_rcnn
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
# # Chapter 04 — Fast and Faster R-CNN
#
# **What you will learn**
# - why R-CNN wastes most of its time, and how **RoI pooling** fixes it: run the CNN once per
#   image, then cut a fixed-size feature out of the shared map for every region (Fast R-CNN,
#   Girshick 2015);
# - **RoI align** (He et al., 2017): the same without rounding boxes to whole feature cells;
# - the **multitask loss**: softmax over K classes + background, and class-specific box
#   regression with smooth-L1;
# - **anchors** and the **region proposal network** (Faster R-CNN, Ren et al., 2015): the
#   network proposes its own regions, trained with four losses;
# - COCO-style evaluation: AP averaged over IoU thresholds 0.50–0.95, AP50, AP75, and AP by
#   object size;
# - the lecture's speed table, measured on our scenes.
#
# **Lectures:** "Detection, segmentation, captioning" (Fast and Faster R-CNN) and "Vision
# beyond classification" (anchors, proposals).
#
# **Run time:** about 80 seconds in fast mode on 2 CPU cores; a few minutes in full mode on a
# GPU.

# %%
# Setup: works locally (after `make lab`) and on Colab, where its first run fetches and
# installs the course. Safe to run again, and after Colab's "Restart session".
import importlib.util
import os
import subprocess
import sys

COURSE_REPO = "https://github.com/vision-beyond-classification/course"
CHAPTER = "04_fast_faster_rcnn"
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
import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from tqdm.auto import tqdm

from visioncourse import boxes as vboxes
from visioncourse import detection
from visioncourse.data import ShapesConfig, generate
from visioncourse.exercises import use_or_reference
from visioncourse.metrics import coco_map, mean_average_precision
from visioncourse.proposals import selective_search
from visioncourse.train import fit, timer
from visioncourse.viz import draw_boxes, to_numpy_image

# Every size this notebook uses, for both modes, in one place.
S = sizes(
    fast=dict(train_scenes=150, test_scenes=100, width=32, steps=200, batch=8, rois_per_image=32,
              anchors_per_image=64, photos=300, photo_steps=60),
    full=dict(train_scenes=1000, test_scenes=300, width=48, steps=1500, batch=16,
              rois_per_image=64, anchors_per_image=128, photos=2000, photo_steps=1000),
    mode=rt.mode,
)
S

# %% [markdown]
# ## 1. Where R-CNN spends its time
#
# Chapter 03's R-CNN warped every proposal and ran the CNN on each one. The proposals overlap
# heavily, so the same pixels go through the same convolutions again and again. The scenes and
# proposals are chapter 03's: 64×64 images with two to five shapes, some small, some partly
# hidden, on a blotchy background with specks, and about 85 selective-search proposals each.

# %%
scene = ShapesConfig(image_size=64, min_objects=2, max_objects=5, min_size=0.12, max_size=0.45,
                     max_overlap=0.2, background="texture", clutter=6)
NUM_CLASSES, IMAGE = scene.num_shapes, scene.image_size
PROPOSAL_SCALES = (50, 200)  # as in chapter 03
train = generate(S.train_scenes, scene, seed=0)
test = generate(S.test_scenes, scene, seed=10**6)  # held-out seeds
# The detection format of torchvision and torchmetrics: one dict per image.
train_targets = [{"boxes": t["boxes"], "labels": t["labels"]} for t in train.targets()]
test_targets = [{"boxes": t["boxes"], "labels": t["labels"]} for t in test.targets()]

with timer() as t_ss:
    test_proposals = [selective_search(im, scales=PROPOSAL_SCALES) for im in tqdm(test.images, desc="proposals (test)")]
SS_SECONDS = t_ss.seconds / len(test.images)
train_proposals = [selective_search(im, scales=PROPOSAL_SCALES) for im in tqdm(train.images, desc="proposals (train)")]

covered = [float(vboxes.box_area(p).sum()) / IMAGE**2 for p in test_proposals]
print(f"{sum(map(len, test_proposals)) / len(test_proposals):.0f} proposals per image, "
      f"{SS_SECONDS * 1e3:.1f} ms each to find; together they cover every pixel "
      f"{sum(covered) / len(covered):.1f} times on average")

# %% [markdown]
# That last number is how many times R-CNN convolves each pixel: once per proposal that
# contains it (more, in fact, because each crop is enlarged to the warp size). Convolutions
# are translation-equivariant: the feature map of a crop is, away from its border, just the
# corresponding piece of the whole image's feature map. So compute the map **once** and cut
# each region out of it.
#
# ## 2. RoI pooling
#
# A region of interest (RoI) has any size, but the fully connected layers after it need a
# fixed-size input. **RoI pooling** makes one:
#
# 1. **project** the box onto the feature map: multiply by `spatial_scale = 1 / stride` and
#    round to whole cells;
# 2. divide the projected box into an `h × w` grid of bins (bins are as large as the box
#    requires: roughly `box size / h` cells each);
# 3. **max-pool** inside every bin.
#
# Whatever the box's size, the output is `C × h × w`.

# %% [raw]
# # BEGIN QUESTION
# name: ex4_1
# points: 3

# %% [markdown]
# **Exercise 4.1 — RoI pooling, one box.** Complete `roi_pool_single(features, box,
# output_size, spatial_scale)`: `features (Tensor[C, H, W])`, `box` = `(x1, y1, x2, y2)` in
# image pixels (non-negative), `output_size = (h, w)`. Return `Tensor[C, h, w]`, with the
# rules of `torchvision.ops.roi_pool`:
#
# - corners in cells: `x1' = floor(x1 · spatial_scale + 0.5)` (round, halves up), the same for
#   `y1', x2', y2'`; the box spans `roi_w = max(x2' − x1' + 1, 1)` columns (both corner cells
#   included) and `roi_h = max(y2' − y1' + 1, 1)` rows;
# - bin `(i, j)` covers rows `y1' + floor(i · roi_h / h)` up to (not including)
#   `y1' + ceil((i + 1) · roi_h / h)`, and columns likewise; clip both ends to `[0, H]`
#   (`[0, W]`): a box may stick out of the map;
# - each output value is the maximum over its bin, per channel; an **empty** bin gives 0.
#
# Two loops over the `h × w` bins are fine. Compute the floors and ceilings with integers
# (`a // b` and `-(-a // b)`) to avoid round-off.

# %% [raw]
# # BEGIN SOLUTION


# %%
def roi_pool_single(features, box, output_size, spatial_scale=1.0):
    # BEGIN SOLUTION
    _, height, width = features.shape
    h, w = output_size
    x1, y1, x2, y2 = (math.floor(float(v) * spatial_scale + 0.5) for v in box)
    roi_h, roi_w = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)
    out = features.new_zeros(features.shape[0], h, w)
    for i in range(h):
        top = min(max(y1 + i * roi_h // h, 0), height)
        bottom = min(max(y1 - (-(i + 1) * roi_h // h), 0), height)
        for j in range(w):
            left = min(max(x1 + j * roi_w // w, 0), width)
            right = min(max(x1 - (-(j + 1) * roi_w // w), 0), width)
            if bottom > top and right > left:
                out[:, i, j] = features[:, top:bottom, left:right].amax(dim=(1, 2))
    return out
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_roi_pool_single_small(roi_pool_single):
    import torch

    from visioncourse.exercises import expect_close

    features = torch.arange(36.0).view(1, 6, 6)  # value = 6 * row + column
    expect_close(
        "Exercise 4.1 (roi_pool_single)",
        roi_pool_single(features, (0, 0, 5, 5), (2, 2)),
        torch.tensor([[[14.0, 17], [32, 35]]]),
        inputs="a 6x6 map 0..35, box (0, 0, 5, 5), output 2x2: four 3x3 quarters",
        hint="the box spans x2 - x1 + 1 = 6 cells; each output is the max of its quarter",
    )
    expect_close(
        "Exercise 4.1 (roi_pool_single)",
        roi_pool_single(features, (2, 2, 9, 7), (2, 2), spatial_scale=0.5),
        torch.tensor([[[15.0, 17], [27, 29]]]),
        inputs="the same map, box (2, 2, 9, 7), spatial_scale 0.5, output 2x2",
        hint="cells: x 1..5 (4.5 rounds up to 5), y 1..4; column bins 1..3 and 3..5 overlap",
    )


test_roi_pool_single_small(roi_pool_single)


# %%
# HIDDEN
def test_roi_pool_single_matches_torchvision(roi_pool_single):
    import torch
    import torchvision

    from visioncourse.exercises import expect_close

    g = torch.Generator().manual_seed(4)
    features = torch.randn(3, 9, 11, generator=g)
    for k in range(30):
        x1y1 = torch.rand(2, generator=g) * 50
        wh = torch.rand(2, generator=g) * (40.0 if k % 3 else 3.0)  # some smaller than a bin
        box = torch.cat((x1y1, x1y1 + wh))
        for size, scale in (((3, 4), 0.25), ((2, 2), 0.125), ((5, 1), 0.2)):
            expected = torchvision.ops.roi_pool(features[None], [box[None]], size, scale)[0]
            expect_close(
                "Exercise 4.1 (roi_pool_single)",
                roi_pool_single(features, box.tolist(), size, scale),
                expected,
                inputs=f"box {[round(v, 2) for v in box.tolist()]}, output {size}, scale {scale}",
                hint="clip bin edges to the map, and give empty bins 0",
            )


test_roi_pool_single_matches_torchvision(roi_pool_single)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# `visioncourse.detection.roi_pool` does the same for many boxes at once, without loops over
# bins: the maximum over a rectangle is the maximum over its rows of the maximum over its
# columns, and each bin is a row mask times a column mask. It takes torchvision's arguments
# (boxes as a list per image or one `(K, 5)` tensor with the image index first). Below, the
# "feature map" is simply the image averaged over 4×4 cells (stride 4), so that the pooled
# result can be looked at.

# %%
reference_pool = lambda f, b, s, r: detection.roi_pool(f[None], [torch.tensor([b], dtype=f.dtype)], s, r)[0]
pool_fn = use_or_reference("Exercise 4.1", "roi_pool_single", reference_pool,
                           torch.arange(36.0).view(1, 6, 6), (2, 2, 9, 7), (2, 2), 0.5)
image = test.images[0]
feature_map = F.avg_pool2d(image[None], 4)  # (1, 3, 16, 16): stride 4
box = test_targets[0]["boxes"][0]
mine = pool_fn(feature_map[0], box.tolist(), (5, 5), 0.25)
lib = detection.roi_pool(feature_map, [box[None]], 5, 0.25)[0]
theirs = torchvision.ops.roi_pool(feature_map, [box[None]], 5, 0.25)[0]
aligned = detection.roi_align(feature_map, [box[None]], 5, 0.25, sampling_ratio=2, aligned=True)[0]
who = "yours" if pool_fn is not reference_pool else "the reference (until 4.1 passes)"
print(f"largest difference from torchvision.ops.roi_pool: {who} {(mine - theirs).abs().max():.1e}, "
      f"visioncourse {(lib - theirs).abs().max():.1e}")
fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
axes[0].imshow(to_numpy_image(image), interpolation="nearest")
draw_boxes(axes[0], box[None], color="yellow")
axes[0].set_title("image and one box")
axes[1].imshow(to_numpy_image(feature_map[0]), interpolation="nearest", extent=(0, 64, 64, 0))
draw_boxes(axes[1], box[None], color="yellow")
axes[1].set_title("16×16 'feature map'")
axes[2].imshow(to_numpy_image(mine), interpolation="nearest")
axes[2].set_title("RoI pool 5×5 (max)")
axes[3].imshow(to_numpy_image(aligned), interpolation="nearest")
axes[3].set_title("RoI align 5×5 (bilinear)")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 3. RoI align: no rounding
#
# RoI pooling rounds twice — the box to whole cells, and the bins to whole cells — so the
# pooled feature can come from a region a little off the object. With a stride of 16 (VGG's
# last conv layer) a cell is 16 pixels, and the error is large compared with a small object.
# Measured on our objects' boxes: how far does rounding move each box edge?

# %%
from visioncourse import figures

figures.roi_align_grid()
plt.show()


# %%
all_boxes = torch.cat([t["boxes"] for t in test_targets])
for stride in (4, 16):
    cells = torch.floor(all_boxes / stride + 0.5)
    moved = torch.cat((cells[:, :2] * stride - all_boxes[:, :2],  # first cell's left/top edge
                       (cells[:, 2:] + 1) * stride - all_boxes[:, 2:]), 1).abs()  # last cell's far edge
    print(f"stride {stride:2d}: box edges move by {moved.mean():4.1f} px on average, up to "
          f"{moved.max():4.1f} px (objects are {all_boxes[:, 2:].sub(all_boxes[:, :2]).mean():.0f} px wide)")

# %% [markdown]
# **RoI align** (from Mask R-CNN) keeps the box in real-valued coordinates, splits it into
# exactly equal bins, and in every bin **averages a few bilinearly interpolated samples**
# (`sampling_ratio` per axis). Nothing is rounded, and the output is differentiable with
# respect to the feature map everywhere in the box. With `aligned=True` the box is shifted by
# half a cell so that pixel centres line up (torchvision's recommended setting).
#
# Bilinear interpolation is separable, so for one box the whole operation is two small matrix
# products, `A_y · F · A_xᵀ`, where row `i` of `A_y (h × H)` holds the summed interpolation
# weights of bin `i`'s samples. `visioncourse.detection.roi_align` is written that way (read
# it: about 40 lines). Against torchvision's C++ kernel on random boxes — including boxes
# past the border and thinner than a bin — and on speed, forward plus backward:

# %%
g = torch.Generator().manual_seed(0)
features = torch.randn(
    S.batch, 2 * S.width, IMAGE // 4, IMAGE // 4, generator=g, requires_grad=True
)
xy = torch.rand(S.batch * S.rois_per_image, 2, generator=g) * 70 - 5
rois = torch.cat((torch.randint(0, S.batch, (len(xy), 1), generator=g).float(), xy,
                  xy + 0.5 + torch.rand(len(xy), 2, generator=g) * 30), 1)
largest = max(
    (detection.roi_align(features, rois, 5, 0.25, sr, al) - torchvision.ops.roi_align(features, rois, 5, 0.25, sr, al)).abs().max().item()
    for sr in (-1, 2) for al in (False, True)
)
print(
    f"{len(rois)} boxes, 4 settings: largest difference from torchvision.ops.roi_align {largest:.1e}"
)
for name, op in (("visioncourse (separable)", detection.roi_align), ("torchvision (C++ kernel)", torchvision.ops.roi_align)):
    op(features, rois, 5, 0.25, 2, True).sum().backward()  # warm-up
    with timer() as t:
        for _ in range(5):
            op(features, rois, 5, 0.25, 2, True).sum().backward()
    print(f"{name:26s} {t.seconds / 5 * 1e3:6.1f} ms forward + backward")

# %% [markdown]
# On a CPU the separable version is usually the faster of the two (the measurement above
# says by how much on your machine), so our models use it.

# %% [markdown]
# ## 4. Fast R-CNN
#
# The detector has three parts:
#
# - a **backbone**: four conv layers, two of them followed by 2×2 max pooling, so the image's
#   feature map has stride 4 (64×64 → 16×16);
# - **RoI align** of every region to `5 × 5` cells of that map;
# - a **box head**: two fully connected layers, then two outputs per region — scores for the
#   K classes plus background, and **class-specific** box deltas, four per class (the
#   lecture's `K × 4`; torchvision keeps a slot for background too, so `(K + 1) × 4`).
#
# The same class also builds chapter 03's R-CNN with one switch: `per_region=True` warps every
# region to 20×20 pixels and runs the backbone on each crop (20 pixels at stride 4 give the
# same 5×5 cells). Same layers, same head, same training data — only where the features come
# from differs.
#
# Training samples `rois_per_image` regions per image from the proposals plus the true boxes,
# a quarter of them positives (IoU ≥ 0.5 with an object), as in the Fast R-CNN paper.

# %%
figures.fast_and_faster_rcnn()
plt.show()


# %%
STRIDE, POOL = 4, 5
BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)  # torchvision's: box targets of roughly unit spread


# The backbone of section 4 (its 20 lines are in visioncourse.detection, because chapter 05
# reuses it): four conv blocks, stride 4, 2 * width channels.
Backbone = detection.SmallBackbone
print(Backbone(S.width))


class BoxHead(nn.Module):
    """Pooled regions (R, C, 5, 5) -> class scores (R, K + 1) and box deltas (R, (K + 1) * 4)."""

    def __init__(self, channels, num_classes, hidden=128):
        super().__init__()
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels * POOL * POOL, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU())
        self.cls_score = nn.Linear(hidden, num_classes + 1)
        self.bbox_pred = nn.Linear(hidden, (num_classes + 1) * 4)

    def forward(self, x):
        h = self.mlp(x)
        return self.cls_score(h), self.bbox_pred(h)


def rois_of(boxes_per_image):
    """A list of (k_i, 4) boxes -> one (K, 5) tensor with the image index first."""
    return torch.cat([F.pad(b, (1, 0), value=float(i)) for i, b in enumerate(boxes_per_image)])


# %% [markdown]
# **The multitask loss.** For a region with true class $d$ (0 = background), predicted class
# probabilities $\hat p$, and predicted deltas $\hat t_d$ *for its own class*:
#
# $$E = -\log \hat p_d \;+\; \lambda\, [d \ne 0] \sum_{c \in \{x, y, w, h\}} \text{smooth}_{\ell_1}\!\left(\hat t_{d,c} - t_c\right),
# \qquad \text{smooth}_{\ell_1}(z) = \begin{cases} 0.5\, z^2 / \beta & |z| < \beta \\ |z| - 0.5\,\beta & \text{otherwise.}\end{cases}$$
#
# Background regions have no box to regress. Smooth-L1 is quadratic near zero (easy to
# optimise) and linear far away (an outlier does not dominate, unlike $\ell_2^2$).
# torchvision uses $\beta = 1/9$, sums the box term over the positive regions' coordinates,
# and divides it by the number of **all** sampled regions; $\lambda = 1$.

# %% [raw]
# # BEGIN QUESTION
# name: ex4_2
# points: 2

# %% [markdown]
# **Exercise 4.2 — the Fast R-CNN loss.** Complete `fast_rcnn_loss(class_logits,
# box_regression, labels, regression_targets)`: `class_logits (Tensor[R, K+1])`,
# `box_regression (Tensor[R, (K+1)*4])` (the 4 deltas of class `c` at columns `4c … 4c+3`),
# `labels (Tensor[R])` long (0 = background), `regression_targets (Tensor[R, 4])`. Return the
# pair `(classification_loss, box_loss)`: the mean cross-entropy over all R regions, and the
# smooth-L1 (`beta=1/9`, summed) between each **positive** region's deltas for **its own
# class** and its targets, divided by R. Use `F.cross_entropy` and `F.smooth_l1_loss`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def fast_rcnn_loss(class_logits, box_regression, labels, regression_targets):
    # BEGIN SOLUTION
    classification_loss = F.cross_entropy(class_logits, labels)
    positive = (labels > 0).nonzero()[:, 0]
    deltas = box_regression.reshape(len(labels), -1, 4)[positive, labels[positive]]
    box_loss = F.smooth_l1_loss(deltas, regression_targets[positive], beta=1 / 9, reduction="sum")
    return classification_loss, box_loss / len(labels)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_fast_rcnn_loss_small(fast_rcnn_loss):
    import math

    import torch

    from visioncourse.exercises import expect_close

    logits = torch.zeros(2, 2)  # two regions, K = 1: uniform scores
    deltas = torch.tensor([[9.0, 9, 9, 9, 0.5, 0, 0, 0], [5.0, 5, 5, 5, 5, 5, 5, 5]])
    labels = torch.tensor([1, 0])
    targets = torch.zeros(2, 4)
    cls, box = fast_rcnn_loss(logits, deltas, labels, targets)
    expect_close(
        "Exercise 4.2 (fast_rcnn_loss)",
        torch.stack((torch.as_tensor(cls), torch.as_tensor(box))),
        torch.tensor([math.log(2), (0.5 - 0.5 / 9) / 2]),
        inputs="2 regions (one of class 1, one background), uniform scores; class 1's deltas "
        "(0.5, 0, 0, 0), targets 0",
        hint="only class 1's four deltas of the positive region count; smooth-L1 of 0.5 with "
        "beta 1/9 is 0.5 - 0.5/9; divide by all 2 regions",
    )


test_fast_rcnn_loss_small(fast_rcnn_loss)


# %%
# HIDDEN
def test_fast_rcnn_loss_matches_torchvision(fast_rcnn_loss):
    import torch
    from torchvision.models.detection.roi_heads import fastrcnn_loss

    from visioncourse.exercises import expect_close

    g = torch.Generator().manual_seed(5)
    for num_classes, regions in ((4, 64), (2, 7), (6, 1)):
        logits = torch.randn(regions, num_classes, generator=g)
        deltas = torch.randn(regions, num_classes * 4, generator=g)
        labels = torch.randint(0, num_classes, (regions,), generator=g)
        targets = torch.randn(regions, 4, generator=g) * 0.3
        cls, box = fast_rcnn_loss(logits, deltas, labels, targets)
        expected = torch.stack(fastrcnn_loss(logits, deltas, [labels], [targets]))
        expect_close(
            "Exercise 4.2 (fast_rcnn_loss)",
            torch.stack((torch.as_tensor(cls), torch.as_tensor(box))),
            expected,
            inputs=f"{regions} random regions, {num_classes} classes including background",
            hint="pick box_regression.reshape(R, -1, 4)[positive, labels[positive]]",
        )


test_fast_rcnn_loss_matches_torchvision(fast_rcnn_loss)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
from torchvision.models.detection.roi_heads import fastrcnn_loss as torchvision_fastrcnn_loss


def reference_loss(class_logits, box_regression, labels, regression_targets):
    return torchvision_fastrcnn_loss(class_logits, box_regression, [labels], [regression_targets])


def stacked(loss):  # use_or_reference compares tensors: probe both terms as one
    def probe(*args):
        out = loss(*args)
        return None if out is None else torch.stack([torch.as_tensor(v) for v in out])

    return probe


g = torch.Generator().manual_seed(0)
roi_loss = use_or_reference("Exercise 4.2", "fast_rcnn_loss", reference_loss,
                            torch.randn(6, 3, generator=g), torch.randn(6, 12, generator=g),
                            torch.tensor([0, 1, 2, 0, 2, 1]), torch.randn(6, 4, generator=g),
                            adapt=stacked)

# %% [markdown]
# The model. In training mode `model(images, proposals, targets)` returns a dict of losses,
# and in evaluation mode `model(images, proposals)` returns one dict of `boxes`, `scores` and
# `labels` per image — torchvision's detection API, so `visioncourse.train.fit` and
# `visioncourse.metrics` treat it like any torchvision detector. At test time every class
# gets its own box (decoded with that class's deltas), scores below 0.05 are dropped, and NMS
# runs per class.


# %%
def postprocess(class_logits, box_regression, proposals, score_threshold=0.05, nms_threshold=0.5,
                detections_per_image=100):
    """Scores and class-specific deltas of every region -> detections per image."""
    probs = class_logits.softmax(1)
    num_classes = probs.shape[1] - 1
    out = []
    for p, d, props in zip(probs.split([len(b) for b in proposals]),
                           box_regression.split([len(b) for b in proposals]), proposals):
        deltas = d.reshape(len(props), -1, 4)[:, 1:].reshape(-1, 4)  # (R * K, 4): no background
        boxes = vboxes.decode_boxes(deltas, props.repeat_interleave(num_classes, 0), BOX_WEIGHTS)
        boxes = vboxes.clip_boxes_to_image(boxes, (IMAGE, IMAGE))
        scores = p[:, 1:].reshape(-1)
        labels = torch.arange(1, num_classes + 1, device=p.device).repeat(len(props))
        keep = (scores > score_threshold).nonzero()[:, 0]
        keep = keep[vboxes.batched_nms(boxes[keep], scores[keep], labels[keep], nms_threshold)]
        keep = keep[:detections_per_image]
        out.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
    return out


class FastRCNN(nn.Module):
    def __init__(self, width, num_classes, per_region=False, rois_per_image=32, seed=0):
        super().__init__()
        self.backbone = Backbone(width)
        self.box_head = BoxHead(self.backbone.out_channels, num_classes)
        self.per_region, self.rois_per_image = per_region, rois_per_image
        self.generator = torch.Generator().manual_seed(seed)  # for sampling regions

    def region_features(self, images, rois):
        """(K, 5) regions -> (K, C, 5, 5) features."""
        if self.per_region:  # R-CNN: warp every region and run the CNN on each crop
            return self.backbone(detection.warp_regions(images, rois, STRIDE * POOL))
        features = self.backbone(images)  # Fast R-CNN: the CNN runs once per image ...
        return self.pool(features, rois)  # ... and every region is pooled from its map

    @staticmethod
    def pool(features, rois):
        return detection.roi_align(features, rois, POOL, 1 / STRIDE, sampling_ratio=2, aligned=True)

    def sample_regions(self, proposals, targets):
        """Label proposals + true boxes; sample rois_per_image of them, a quarter positive."""
        boxes, labels, goals = [], [], []
        for props, target in zip(proposals, targets):
            props = torch.cat((target["boxes"], props))
            lab, matched, _ = detection.label_proposals(
                props, target["boxes"], target["labels"], 0.5
            )
            positive, negative = detection.sample_balanced(lab, self.rois_per_image, 0.25, self.generator)
            keep = positive | negative
            boxes.append(props[keep])
            labels.append(lab[keep])
            goals.append(vboxes.encode_boxes(matched[keep], props[keep], BOX_WEIGHTS))
        return boxes, torch.cat(labels), torch.cat(goals)

    def forward(self, images, proposals, targets=None):
        if self.training:
            boxes, labels, goals = self.sample_regions(proposals, targets)
            scores, deltas = self.box_head(self.region_features(images, rois_of(boxes)))
            cls, box = roi_loss(scores, deltas, labels, goals)
            return {"classifier": cls, "box_reg": box}
        scores, deltas = self.box_head(self.region_features(images, rois_of(proposals)))
        return postprocess(scores, deltas, proposals)


def on_device(targets):
    return [{k: v.to(rt.device) for k, v in t.items()} for t in targets]


def batch_indices(step):
    g = torch.Generator().manual_seed(step)
    return torch.randint(0, len(train.images), (S.batch,), generator=g).tolist()


def region_batches(step):  # for Fast R-CNN and R-CNN: images, proposals, targets
    idx = batch_indices(step)
    return ((train.images[idx].to(rt.device), [train_proposals[i].to(rt.device) for i in idx],
             on_device([train_targets[i] for i in idx])),)


def train_detector(model, batches, desc):
    """Train; keep every loss term per step (the sum is what is minimised)."""
    terms = []

    def total(losses):
        terms.append({k: v.item() for k, v in losses.items()})
        return sum(losses.values())

    torch.manual_seed(0)
    history = fit(model.to(rt.device), batches, total, S.steps, lr=2e-3, desc=desc)
    history.terms = terms
    return history


@torch.no_grad()
def detect_all(model, proposals=None, chunk=25):
    model.eval()
    out = []
    for i in range(0, len(test.images), chunk):
        images = test.images[i : i + chunk].to(rt.device)
        if proposals is None:
            dets = model(images)
        else:
            dets = model(images, [p.to(rt.device) for p in proposals[i : i + chunk]])
        out += [{k: v.cpu() for k, v in d.items()} for d in dets]
    return out


fast_rcnn = FastRCNN(S.width, NUM_CLASSES, rois_per_image=S.rois_per_image)
fast_history = train_detector(fast_rcnn, region_batches, "Fast R-CNN")
fast_detections = detect_all(fast_rcnn, test_proposals)
rcnn = FastRCNN(S.width, NUM_CLASSES, per_region=True, rois_per_image=S.rois_per_image)
rcnn_history = train_detector(rcnn, region_batches, "R-CNN (same layers, CNN per region)")
rcnn_detections = detect_all(rcnn, test_proposals)
for name, h, dets in (("R-CNN", rcnn_history, rcnn_detections), ("Fast R-CNN", fast_history, fast_detections)):
    print(f"{name:11s} trained in {h.seconds:5.1f} s ({S.steps} steps, "
          f"{S.batch * S.rois_per_image} regions each); held-out mAP@0.5 (VOC) "
          f"{mean_average_precision(dets, test_targets)['map']:.3f}")

# %% [markdown]
# Training on the same regions, Fast R-CNN is quicker per step because the backbone sees
# `batch` images instead of `batch × rois_per_image` crops. (The paper's numbers: 9.5 h
# instead of 84 h on VOC, with VGG-16.)
#
# ## 5. Faster R-CNN: anchors
#
# Fast R-CNN still waits for selective search. Faster R-CNN lets the network propose regions
# itself. At every cell of the feature map it considers a fixed set of boxes, the **anchors**:
# `len(sizes) × len(aspect_ratios)` boxes centred on that cell (the paper used 3 sizes × 3
# ratios = 9). For each anchor a small **region proposal network** (RPN) predicts an
# objectness score and four deltas that move the anchor onto an object. Position, size and
# shape of the box space are discretised; regression refines them.

# %%
figures.anchor_grid()
plt.show()


# %% [raw]
# # BEGIN QUESTION
# name: ex4_3
# points: 2

# %% [markdown]
# **Exercise 4.3 — anchors.** Complete `make_anchors(grid_size, stride, sizes,
# aspect_ratios)` as torchvision's `AnchorGenerator` makes them, for a feature map of
# `grid_size = (rows, cols)` cells with `stride` image pixels per cell:
#
# - an anchor of size `s` and aspect ratio `r = height / width` has area `s²`: width
#   `w = s / √r`, height `h = s · √r`; its **template** is `(−w/2, −h/2, w/2, h/2)` rounded to
#   whole pixels (`torch.round`);
# - the templates are ordered ratio by ratio, all sizes of the first ratio first;
# - cell `(i, j)` places every template at `(j · stride, i · stride)` (the cell's top-left
#   corner, as torchvision); cells row by row, the top row first.
#
# Return `Tensor[rows · cols · A, 4]` (x1, y1, x2, y2), with the A templates of cell (0, 0)
# first, then those of cell (0, 1), …

# %% [raw]
# # BEGIN SOLUTION


# %%
def make_anchors(grid_size, stride, sizes, aspect_ratios):
    # BEGIN SOLUTION
    s = torch.tensor(sizes, dtype=torch.float)
    r = torch.tensor(aspect_ratios, dtype=torch.float)
    ws = (s[None, :] / r.sqrt()[:, None]).reshape(-1)
    hs = (s[None, :] * r.sqrt()[:, None]).reshape(-1)
    templates = (torch.stack((-ws, -hs, ws, hs), 1) / 2).round()
    ys = torch.arange(grid_size[0], dtype=torch.float) * stride
    xs = torch.arange(grid_size[1], dtype=torch.float) * stride
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    shifts = torch.stack((x, y, x, y), -1).reshape(-1, 1, 4)
    return (shifts + templates[None]).reshape(-1, 4)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_make_anchors_small(make_anchors):
    import torch

    from visioncourse.exercises import expect_close

    anchors = make_anchors((1, 2), 10, (4, 8), (1.0, 4.0))
    one_cell = torch.tensor([[-2.0, -2, 2, 2], [-4, -4, 4, 4], [-1, -4, 1, 4], [-2, -8, 2, 8]])
    expect_close(
        "Exercise 4.3 (make_anchors)",
        anchors,
        torch.cat((one_cell, one_cell + torch.tensor([10.0, 0, 10, 0]))),
        inputs="grid (1, 2), stride 10, sizes (4, 8), ratios (1, 4)",
        hint="ratio 4 means tall: width s / 2, height 2 s; the second cell is 10 px to the right",
    )


test_make_anchors_small(make_anchors)


# %%
# HIDDEN
def test_make_anchors_matches_torchvision(make_anchors):
    import torch
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    from visioncourse.exercises import expect_close

    for image, grid, anchor_sizes, ratios in (((64, 64), (16, 16), (12, 20, 32), (0.5, 1.0, 2.0)),
                                       ((48, 48), (3, 3), (16, 33), (0.4, 1.0)),
                                       ((40, 40), (5, 5), (7,), (3.0,))):
        generator = AnchorGenerator(sizes=(anchor_sizes,), aspect_ratios=(ratios,))
        expected = generator(ImageList(torch.zeros(1, 3, *image), [image]), [torch.zeros(1, 1, *grid)])[0]
        expect_close(
            "Exercise 4.3 (make_anchors)",
            make_anchors(grid, image[0] // grid[0], anchor_sizes, ratios),
            expected,
            inputs=f"grid {grid}, stride {image[0] // grid[0]}, sizes {anchor_sizes}, ratios {ratios}",
            hint="order: cells row-major; in each cell ratio-major (all sizes of one ratio)",
        )


test_make_anchors_matches_torchvision(make_anchors)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Anchor sizes must suit the objects: an object can only be proposed well if some anchor
# overlaps it enough to be trained as its positive. Play with the smallest size (the others
# are 1.6× and 2.6× larger) and the IoU needed to count as a positive: the plot shows one
# scene's positive anchors, and the title how many objects of the held-out scenes have at
# least one anchor at that IoU.

# %%
anchors_fn = use_or_reference("Exercise 4.3", "make_anchors", detection.anchor_grid,
                              (2, 3), 8, (12, 20), (0.5, 1.0, 2.0))
ANCHOR_SIZES, ANCHOR_RATIOS = (12, 20, 32), (0.5, 1.0, 2.0)
GRID = IMAGE // STRIDE


def show_anchors(scene_index=0, smallest=12, fg_iou=0.7):
    sizes_ = (smallest, round(1.6 * smallest), round(2.6 * smallest))
    anchors = anchors_fn((GRID, GRID), STRIDE, sizes_, ANCHOR_RATIOS)
    best = torch.cat([vboxes.box_iou(t["boxes"], anchors).max(1).values for t in test_targets])
    gt_boxes = test_targets[scene_index]["boxes"]
    positive = (vboxes.box_iou(gt_boxes, anchors) >= fg_iou).any(0)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(to_numpy_image(test.images[scene_index]), interpolation="nearest")
    draw_boxes(ax, anchors[positive], color="cyan", linewidth=0.6)
    draw_boxes(ax, gt_boxes, color="yellow", linewidth=1.5)
    ax.set_xlim(-8, IMAGE + 8), ax.set_ylim(IMAGE + 8, -8), ax.axis("off")
    ax.set_title(f"sizes {sizes_}: {len(anchors)} anchors, {int(positive.sum())} positive here\n"
                 f"objects with an anchor at IoU ≥ {fg_iou}: {(best >= fg_iou).float().mean():.0%}",
                 fontsize=9)
    plt.show()


_ = widgets.interact(
    show_anchors,
    scene_index=widgets.IntSlider(0, 0, len(test.images) - 1, description="scene"),
    smallest=widgets.IntSlider(12, 4, 40, step=2, description="smallest"),
    fg_iou=widgets.FloatSlider(0.7, min=0.3, max=0.9, step=0.05, description="IoU ≥"),
)

# %% [markdown]
# ## 6. Labelling anchors
#
# The RPN is trained like a tiny detector with two classes, object or not. An anchor is
#
# - **positive** when its best IoU with a ground-truth box is ≥ 0.7,
# - **negative** when its best IoU is < 0.3,
# - **ignored** in between (neither clearly right nor clearly wrong);
#
# and, so that no object goes without an anchor, each object's **best** anchor (all of them,
# if several tie) is positive too, whatever its IoU. A positive anchor regresses towards its
# own best-overlapping box. Each image then contributes a sample of anchors, half positive at
# most (the paper: 256 per image; our small images use fewer).

# %% [raw]
# # BEGIN QUESTION
# name: ex4_4
# points: 3

# %% [markdown]
# **Exercise 4.4 — anchor labels.** Complete `label_anchors(anchors, gt_boxes,
# fg_iou_threshold=0.7, bg_iou_threshold=0.3)`: `anchors (Tensor[A, 4])`, `gt_boxes
# (Tensor[G, 4])` with `G ≥ 1`. Return `(labels, matched)`: `labels (Tensor[A])` long with 1
# (positive), 0 (negative) or −1 (ignored) by the rules above, and `matched (Tensor[A])` long,
# the index of each anchor's best ground-truth box. Start from `iou = vboxes.box_iou(gt_boxes,
# anchors)` (shape `(G, A)`); for the "best anchor of each object" rule, compare each row
# with its maximum (`keepdim=True`) so that ties count.

# %% [raw]
# # BEGIN SOLUTION


# %%
def label_anchors(anchors, gt_boxes, fg_iou_threshold=0.7, bg_iou_threshold=0.3):
    # BEGIN SOLUTION
    iou = vboxes.box_iou(gt_boxes, anchors)
    best_iou, matched = iou.max(0)
    labels = torch.full_like(matched, -1)
    labels[best_iou >= fg_iou_threshold] = 1
    labels[best_iou < bg_iou_threshold] = 0
    labels[(iou == iou.max(1, keepdim=True).values).any(0)] = 1
    return labels, matched
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_label_anchors_small(label_anchors):
    import torch

    from visioncourse.exercises import expect_equal

    anchors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 7], [0, 0, 10, 2], [20, 20, 30, 30],
                            [50, 50, 60, 60]])
    gt_boxes = torch.tensor([[0.0, 0, 10, 10], [21, 21, 31, 31]])
    labels, matched = label_anchors(anchors, gt_boxes)
    expect_equal(
        "Exercise 4.4 (label_anchors)",
        labels,
        torch.tensor([1, 1, 0, 1, 0]),
        inputs="anchors with best IoU 1.0, 0.7, 0.2, 0.68 (the second box's best anchor), 0",
        hint="IoU >= 0.7 is positive, < 0.3 negative; an object's best anchor is positive "
        "even below 0.7",
    )
    expect_equal(
        "Exercise 4.4 (label_anchors)",
        matched[:4],
        torch.tensor([0, 0, 0, 1]),
        inputs="the same anchors: index of each one's best box",
        hint="the argmax of the (G, A) IoU matrix over dim 0",
    )


test_label_anchors_small(label_anchors)


# %%
# HIDDEN
def test_label_anchors_matches_torchvision(label_anchors):
    import torch
    from torchvision.models.detection._utils import Matcher

    from visioncourse import boxes as vboxes
    from visioncourse.detection import anchor_grid
    from visioncourse.exercises import expect_equal

    anchors = anchor_grid((8, 8), 8, (12, 24), (0.5, 1.0, 2.0))
    g = torch.Generator().manual_seed(6)
    for k in range(8):
        centres = torch.rand(1 + k % 4, 2, generator=g) * 64
        half = 4 + torch.rand(len(centres), 2, generator=g) * 14
        gt_boxes = torch.cat((centres - half, centres + half), 1).round()
        if k == 7:  # a duplicated object: both copies share their best anchors
            gt_boxes = torch.cat((gt_boxes, gt_boxes[:1]))
        for fg, bg in ((0.7, 0.3), (0.5, 0.4)):
            matches = Matcher(fg, bg, allow_low_quality_matches=True)(vboxes.box_iou(gt_boxes, anchors))
            labels, matched = label_anchors(anchors, gt_boxes, fg, bg)
            expect_equal(
                "Exercise 4.4 (label_anchors)",
                labels,
                torch.where(matches >= 0, 1, torch.where(matches == -1, 0, -1)),
                inputs=f"{len(anchors)} anchors, {len(gt_boxes)} boxes, thresholds {fg}/{bg}",
                hint="use the threshold arguments; ties for an object's best anchor all count",
            )
            expect_equal(
                "Exercise 4.4 (label_anchors)",
                matched[labels == 1],
                matches[labels == 1],
                inputs=f"positive anchors of the same case (thresholds {fg}/{bg})",
                hint="matched is each anchor's own best box, also for 'best anchor' positives",
            )


test_label_anchors_matches_torchvision(label_anchors)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION


# %%
def labels_of(fn):  # use_or_reference compares tensors: probe the labels
    return lambda *args: fn(*args)[0]


label_anchors_fn = use_or_reference("Exercise 4.4", "label_anchors", detection.label_anchors,
                                    detection.anchor_grid((4, 4), 8, (12,), (1.0,)),
                                    torch.tensor([[2.0, 3, 15, 17], [20, 20, 30, 28]]),
                                    adapt=labels_of)

anchors = anchors_fn((GRID, GRID), STRIDE, ANCHOR_SIZES, ANCHOR_RATIOS)
labels, _ = label_anchors_fn(anchors, test_targets[0]["boxes"])
counts = {name: int((labels == v).sum()) for name, v in (("positive", 1), ("negative", 0), ("ignored", -1))}
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
for ax, v, title in zip(axes, (1, -1), ("positive anchors", "ignored anchors")):
    ax.imshow(to_numpy_image(test.images[0]), interpolation="nearest")
    draw_boxes(ax, anchors[labels == v], color="cyan" if v == 1 else "orange", linewidth=0.5)
    draw_boxes(ax, test_targets[0]["boxes"], color="yellow", linewidth=1.5)
    ax.set_xlim(-8, IMAGE + 8), ax.set_ylim(IMAGE + 8, -8), ax.axis("off")
    ax.set_title(title)
plt.show()
print(f"{len(anchors)} anchors ({GRID}×{GRID} cells × {len(ANCHOR_SIZES) * len(ANCHOR_RATIOS)}): {counts}")

# %% [markdown]
# ## 7. The region proposal network and the four losses
#
# The RPN is a 3×3 convolution on the shared feature map (the lecture's small sliding
# window), then two 1×1 convolutions: one objectness logit and four deltas per anchor. To
# turn its output into proposals: decode the deltas on the anchors, keep the `pre_nms` best
# by objectness, clip them to the image, drop tiny ones, run NMS at IoU 0.7, keep the best
# `post_nms`. The proposals are detached — no gradient flows through the box coordinates
# into the RPN — and from there on it is Fast R-CNN.
#
# Everything trains at once ("approximate joint training"), with four losses:
#
# | loss | what | on which |
# |---|---|---|
# | `rpn_objectness` | binary cross-entropy, object or not | sampled anchors |
# | `rpn_box_reg` | smooth-L1 on anchor → box deltas | positive anchors |
# | `classifier` | cross-entropy over K + 1 classes | sampled proposals |
# | `box_reg` | smooth-L1 on proposal → box deltas, class-specific | positive proposals |


# %%
class RPN(nn.Module):
    def __init__(self, channels, anchors_per_cell):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.objectness = nn.Conv2d(channels, anchors_per_cell, 1)
        self.deltas = nn.Conv2d(channels, 4 * anchors_per_cell, 1)

    def forward(self, features):
        h = self.conv(features)
        n, _, rows, cols = h.shape
        # (N, A, H, W) -> (N, H * W * A): cells row by row, the A anchors inside, as anchors_fn
        objectness = self.objectness(h).permute(0, 2, 3, 1).reshape(n, -1)
        deltas = self.deltas(h).view(n, -1, 4, rows, cols).permute(0, 3, 4, 1, 2).reshape(n, -1, 4)
        return objectness, deltas


class FasterRCNN(FastRCNN):
    """Fast R-CNN whose proposals come from its own RPN, on the shared feature map."""

    def __init__(self, width, num_classes, rois_per_image=32, anchors_per_image=64, pre_nms=300,
                 post_nms=(100, 50), seed=0):
        super().__init__(width, num_classes, rois_per_image=rois_per_image, seed=seed)
        self.rpn = RPN(self.backbone.out_channels, len(ANCHOR_SIZES) * len(ANCHOR_RATIOS))
        self.register_buffer("anchors", anchors_fn((GRID, GRID), STRIDE, ANCHOR_SIZES, ANCHOR_RATIOS))
        self.anchors_per_image, self.pre_nms, self.post_nms = anchors_per_image, pre_nms, post_nms

    def propose(self, objectness, deltas):
        keep_after = self.post_nms[0] if self.training else self.post_nms[1]
        proposals = []
        for scores, d in zip(objectness.detach(), deltas.detach()):
            top = scores.topk(min(self.pre_nms, len(scores))).indices
            boxes = vboxes.decode_boxes(d[top], self.anchors[top])
            boxes = vboxes.clip_boxes_to_image(boxes, (IMAGE, IMAGE))
            big = ((boxes[:, 2:] - boxes[:, :2]) >= 1).all(1).nonzero()[:, 0]
            keep = big[vboxes.nms(boxes[big], scores[top][big], 0.7)][:keep_after]
            proposals.append(boxes[keep])
        return proposals

    def rpn_losses(self, objectness, deltas, targets):
        logits, is_object, predicted, goals = [], [], [], []
        for scores, d, target in zip(objectness, deltas, targets):
            labels, matched = label_anchors_fn(self.anchors, target["boxes"])
            positive, negative = detection.sample_balanced(labels, self.anchors_per_image, 0.5, self.generator)
            logits.append(scores[positive | negative])
            is_object.append(positive[positive | negative].float())
            predicted.append(d[positive])
            goals.append(vboxes.encode_boxes(target["boxes"][matched[positive]], self.anchors[positive]))
        sampled = sum(len(x) for x in logits)
        box = F.smooth_l1_loss(torch.cat(predicted), torch.cat(goals), beta=1 / 9, reduction="sum")
        return {"rpn_objectness": F.binary_cross_entropy_with_logits(torch.cat(logits), torch.cat(is_object)),
                "rpn_box_reg": box / sampled}

    def forward(self, images, targets=None):
        features = self.backbone(images)  # computed once, used by the RPN and the box head
        objectness, deltas = self.rpn(features)
        proposals = self.propose(objectness, deltas)
        if not self.training:
            scores, box_deltas = self.box_head(self.pool(features, rois_of(proposals)))
            return postprocess(scores, box_deltas, proposals)
        losses = self.rpn_losses(objectness, deltas, targets)
        boxes, labels, goals = self.sample_regions(proposals, targets)
        scores, box_deltas = self.box_head(self.pool(features, rois_of(boxes)))
        cls, box = roi_loss(scores, box_deltas, labels, goals)
        return {**losses, "classifier": cls, "box_reg": box}


def image_batches(step):  # for Faster R-CNN: images and targets only
    idx = batch_indices(step)
    return ((train.images[idx].to(rt.device), on_device([train_targets[i] for i in idx])),)


faster_rcnn = FasterRCNN(S.width, NUM_CLASSES, S.rois_per_image, S.anchors_per_image)
faster_history = train_detector(faster_rcnn, image_batches, "Faster R-CNN")
faster_detections = detect_all(faster_rcnn)
print(f"Faster R-CNN trained in {faster_history.seconds:.1f} s; held-out mAP@0.5 (VOC) "
      f"{mean_average_precision(faster_detections, test_targets)['map']:.3f}")

fig, axes = plt.subplots(1, 4, figsize=(12, 2.6), sharex=True)
window = 10
for ax, name in zip(axes, faster_history.terms[0]):
    values = torch.tensor([t[name] for t in faster_history.terms])
    smooth = values.unfold(0, window, 1).mean(1)
    ax.plot(range(window - 1, len(values)), smooth)
    ax.set_title(name, fontsize=9), ax.set_xlabel("step"), ax.grid(alpha=0.3)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Are learned proposals as good as selective search?** Recall at IoU ≥ 0.5 (the fraction of
# objects with at least one proposal that overlaps them that much) and at IoU ≥ 0.7, against
# the number of proposals kept per image. The RPN's are ranked by objectness; selective
# search's in its own order.

# %%
with torch.no_grad():
    faster_rcnn.eval()
    features = faster_rcnn.backbone(test.images.to(rt.device))
    rpn_proposals = [p.cpu() for p in faster_rcnn.propose(*faster_rcnn.rpn(features))]


def recall(proposals, k, iou=0.5):
    found = [(vboxes.box_iou(t["boxes"], p[:k]).max(1).values >= iou) if len(p) else torch.zeros(len(t["boxes"]), dtype=torch.bool)
             for t, p in zip(test_targets, proposals)]
    return torch.cat(found).float().mean().item()


budgets = [1, 2, 5, 10, 20, 50]
fig, ax = plt.subplots(figsize=(4.5, 3))
for name, props, style in (
    ("RPN", rpn_proposals, "o-"),
    ("selective search", test_proposals, "s--"),
):
    for iou, alpha in ((0.5, 1.0), (0.7, 0.5)):
        ax.plot(budgets, [recall(props, k, iou) for k in budgets], style, alpha=alpha,
                label=f"{name}, IoU ≥ {iou}")
ax.set_xscale("log"), ax.set_xlabel("proposals per image"), ax.set_ylabel("recall")
ax.legend(fontsize=7), ax.grid(alpha=0.3)
plt.show()
print(f"with 10 proposals per image: RPN recall {recall(rpn_proposals, 10):.3f}, selective search "
      f"{recall(test_proposals, 10):.3f} (IoU ≥ 0.5)")

# %% [markdown]
# ## 8. The production counterpart: torchvision's Faster R-CNN
#
# `torchvision.models.detection.FasterRCNN` is the same design with more engineering
# (multiple feature maps, image batching of any size, careful defaults). We give it **our**
# backbone, anchors, pooling size and sampling sizes, no pretrained weights, and the same
# training budget; it then differs only in implementation details (e.g. its RPN and box head
# sampling, its proposal filtering). `visioncourse.detection.small_faster_rcnn` builds it
# (read it: one `FasterRCNN(...)` call whose arguments are exactly these choices; chapter 05
# reuses it).

# %%
torch.manual_seed(0)
tv_rcnn = detection.small_faster_rcnn(NUM_CLASSES, IMAGE, S.width, ANCHOR_SIZES, ANCHOR_RATIOS, POOL,
                                      S.rois_per_image, S.anchors_per_image)
print(tv_rcnn.rpn.anchor_generator.sizes, tv_rcnn.rpn.anchor_generator.aspect_ratios,
      tv_rcnn.roi_heads.box_roi_pool)
tv_history = train_detector(tv_rcnn, image_batches, "torchvision Faster R-CNN")
tv_detections = detect_all(tv_rcnn)
print(f"torchvision Faster R-CNN trained in {tv_history.seconds:.1f} s; held-out mAP@0.5 (VOC) "
      f"{mean_average_precision(tv_detections, test_targets)['map']:.3f}")

# %% [markdown]
# **Starting from pretrained weights.** On real photos nobody trains a detector from scratch:
# torchvision ships COCO-trained detectors, and you replace the class predictor for your own
# classes and fine-tune. The weights are a download (about 75 MB for the MobileNet-v3
# version), so this cell only uses them when they are already on this machine, or when you
# allow the download by setting the environment variable `COURSE_DOWNLOAD=1`. Nothing else in
# this chapter needs them.

# %%
from torchvision.models.detection import (
    FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
    fasterrcnn_mobilenet_v3_large_320_fpn,
)
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor

from visioncourse.runtime import pretrained_weights

weights = FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.DEFAULT
usable, cached = pretrained_weights(weights)  # cached already, or COURSE_DOWNLOAD=1
if usable:
    try:
        pretrained = fasterrcnn_mobilenet_v3_large_320_fpn(weights=weights).eval()
    except Exception as err:  # no network, a proxy, a truncated file ...
        pretrained = None
        print(f"Could not load the pretrained weights ({type(err).__name__}: {err}).\n"
              f"Download {weights.url} by hand and put it at {cached}.")
else:
    pretrained = None
    print(f"Pretrained COCO weights are not on this machine ({cached}).\n"
          f"To try them: set COURSE_DOWNLOAD=1 and rerun this cell (needs internet), or download "
          f"{weights.url} and put it there.")
if pretrained is not None:
    from skimage import data as skdata

    photo = torch.from_numpy(skdata.astronaut()).permute(2, 0, 1).float() / 255
    with torch.no_grad():
        found = pretrained([photo])[0]
    confident = found["scores"] > 0.5
    categories = weights.meta["categories"]
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(to_numpy_image(photo))
    draw_boxes(ax, found["boxes"][confident], found["labels"][confident], categories,
               found["scores"][confident])
    ax.axis("off"), ax.set_title("COCO-pretrained Faster R-CNN (MobileNet-v3)")
    plt.show()
    # Fine-tuning for our classes: keep everything, give the box head a new predictor.
    in_features = pretrained.roi_heads.box_predictor.cls_score.in_features
    pretrained.roi_heads.box_predictor = FastRCNNPredictor(in_features, NUM_CLASSES + 1)
    print("new predictor for", NUM_CLASSES + 1, "classes; train it with fit() as above")

# %% [markdown]
# ## 9. COCO-style evaluation
#
# All our detectors find nearly every object at IoU ≥ 0.5, so mAP@0.5 hardly tells them
# apart. COCO's main number asks for **precise** boxes as well: the 101-point AP (chapter 03)
# is computed at ten IoU thresholds, 0.50, 0.55, …, 0.95, and averaged over thresholds and
# classes — "AP" or mAP@[.5:.95]. COCO also reports AP50, AP75, AP for small (area < 32²
# pixels), medium and large objects, and the average **recall** with at most 1, 10 or 100
# detections per image.
#
# `visioncourse.metrics.coco_map` computes all of them from the same inputs as
# `torchmetrics.detection.MeanAveragePrecision`, under the same keys; its tests compare it
# with pycocotools on random detections with crowded boxes, ties, empty images and classes
# without ground truth. First the check on our detections:

# %%
results = {name: dets for name, dets in (("R-CNN", rcnn_detections), ("Fast R-CNN", fast_detections),
                                          ("Faster R-CNN", faster_detections),
                                          ("torchvision Faster R-CNN", tv_detections))}
coco = {name: coco_map(dets, test_targets) for name, dets in results.items()}
try:
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(backend="pycocotools")
    metric.update(faster_detections, test_targets)
    theirs = metric.compute()
    keys = ("map", "map_50", "map_75", "map_small", "mar_1", "mar_100")
    print("Faster R-CNN   " + "".join(f"{k:>10s}" for k in keys))
    print("visioncourse   " + "".join(f"{coco['Faster R-CNN'][k].item():10.4f}" for k in keys))
    print("torchmetrics   " + "".join(f"{theirs[k].item():10.4f}" for k in keys))
except ImportError:
    print("torchmetrics is not installed (pip install torchmetrics pycocotools) — skipping the comparison")

# %% [markdown]
# Then every detector, and AP as the IoU threshold rises:

# %%
print(f"{'':26s}{'mAP@0.5 (VOC)':>14s}{'AP':>8s}{'AP50':>8s}{'AP75':>8s}{'AR@1':>8s}{'AR@100':>8s}")
for name, dets in results.items():
    c = coco[name]
    print(f"{name:26s}{mean_average_precision(dets, test_targets)['map'].item():14.3f}"
          + "".join(f"{c[k].item():8.3f}" for k in ("map", "map_50", "map_75", "mar_1", "mar_100")))
print(f"(all our objects are 'small' by COCO's pixel areas: map_small = map, medium and large are "
      f"{coco['Fast R-CNN']['map_medium'].item():.0f})")

thresholds = [0.5 + 0.05 * i for i in range(10)]
fig, ax = plt.subplots(figsize=(5, 3))
for name, dets in results.items():
    aps = [coco_map(dets, test_targets, iou_thresholds=[t])["map"].item() for t in thresholds]
    ax.plot(thresholds, aps, "o-", ms=3, label=name)
ax.set_xlabel("IoU threshold"), ax.set_ylabel("AP (101-point)"), ax.legend(fontsize=7)
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# **The bar.** In fast mode Fast R-CNN and our Faster R-CNN must both reach mAP@0.5 (VOC) ≥
# 0.75 and COCO AP ≥ 0.50 on the held-out scenes (full mode: 0.85 and 0.60).

# %%
BAR_50, BAR_COCO = (0.75, 0.50) if rt.fast else (0.85, 0.60)
for name in ("Fast R-CNN", "Faster R-CNN"):
    ap50 = mean_average_precision(results[name], test_targets)["map"].item()
    ap = coco[name]["map"].item()
    print(f"{name:13s} mAP@0.5 {ap50:.3f} (bar {BAR_50}), AP@[.5:.95] {ap:.3f} (bar {BAR_COCO})")
    assert ap50 >= BAR_50 and ap >= BAR_COCO, f"{name} is below the bar: check the exercises or train longer"

# %% [markdown]
# ## 10. The lecture's table, measured
#
# Test time per image, one image at a time as a deployed detector sees them, on this notebook's
# device. Selective search runs on the CPU whatever the device (its time per image was measured
# in section 1); R-CNN and Fast R-CNN need it, Faster R-CNN does not.


# %%
@torch.inference_mode()
def milliseconds_per_image(run, n=50):
    run(0)  # warm-up
    with timer() as t:
        for i in range(n):
            run(i)
    return t.seconds / n * 1e3


one = lambda i: test.images[i : i + 1].to(rt.device)
network_ms = {
    "R-CNN": milliseconds_per_image(lambda i: rcnn(one(i), [test_proposals[i].to(rt.device)])),
    "Fast R-CNN": milliseconds_per_image(lambda i: fast_rcnn(one(i), [test_proposals[i].to(rt.device)])),
    "Faster R-CNN": milliseconds_per_image(lambda i: faster_rcnn(one(i))),
}
proposal_ms = {"R-CNN": SS_SECONDS * 1e3, "Fast R-CNN": SS_SECONDS * 1e3, "Faster R-CNN": 0.0}
seed = {
    "R-CNN": (47, 50),
    "Fast R-CNN": (0.32, 2),
    "Faster R-CNN": (None, 0.2),
}  # seconds, VOC07, VGG-16
print(f"{'':14s}{'network':>9s}{'+ proposals':>13s}{'AP':>7s}   | lecture (VGG-16, VOC 2007): without / with proposals")
for name in network_ms:
    without, with_ = seed[name]
    print(f"{name:14s}{network_ms[name]:7.1f} ms{network_ms[name] + proposal_ms[name]:10.1f} ms"
          f"{coco[name]['map'].item():7.3f}   | {'—' if without is None else f'{without} s':>8s} / {with_} s")
total = {k: network_ms[k] + proposal_ms[k] for k in network_ms}
print(f"\nR-CNN / Fast R-CNN without proposals: {network_ms['R-CNN'] / network_ms['Fast R-CNN']:5.1f}×  (lecture 146×)")
print(f"R-CNN / Fast R-CNN with proposals:    {total['R-CNN'] / total['Fast R-CNN']:5.1f}×  (lecture 25×)")
print(f"Fast / Faster R-CNN with proposals:   {total['Fast R-CNN'] / total['Faster R-CNN']:5.1f}×  (lecture 10×)")

# %% [markdown]
# The ordering is the lecture's, the ratios are much smaller — why? R-CNN's cost grows with the
# number of proposals times the crop size. The paper ran about 2000 proposals per image, each
# warped to 227×227 for AlexNet/VGG, on 500×375 photos; we run about 85 proposals at 20×20 on
# 64×64 scenes, so R-CNN's crops add up to only a few times the image's pixels. Give both
# models more proposals (random boxes here; only the count matters for speed) and the gap
# opens:

# %%
g = torch.Generator().manual_seed(0)


def random_boxes(n):
    xy = torch.rand(n, 2, generator=g) * (IMAGE - 12)
    return torch.cat((xy, xy + 8 + torch.rand(n, 2, generator=g) * 24), 1).clamp(max=IMAGE)


print(f"{'proposals':>10s}{'R-CNN':>10s}{'Fast R-CNN':>12s}{'ratio':>8s}")
for n in (70, 300, 1000, 2000):
    boxes = [random_boxes(n).to(rt.device) for _ in range(5)]
    r = milliseconds_per_image(lambda i, b=boxes: rcnn(one(i), [b[i]]), n=5)
    f = milliseconds_per_image(lambda i, b=boxes: fast_rcnn(one(i), [b[i]]), n=5)
    print(f"{n:10d}{r:8.1f} ms{f:9.1f} ms{r / f:7.0f}×")

# %% [markdown]
# Finally, a look at the detections (yellow: ground truth). Move the score threshold to see
# what each model is unsure about.


# %%
def show_detections(scene_index=0, score_threshold=0.5):
    fig, axes = plt.subplots(1, len(results), figsize=(3 * len(results), 3.2))
    for ax, (name, dets) in zip(axes, results.items()):
        d = dets[scene_index]
        keep = d["scores"] >= score_threshold
        ax.imshow(to_numpy_image(test.images[scene_index]), interpolation="nearest")
        draw_boxes(ax, test_targets[scene_index]["boxes"], color="yellow", linewidth=2)
        draw_boxes(ax, d["boxes"][keep], d["labels"][keep], scene.classes, d["scores"][keep],
                   linewidth=1)
        ax.set_title(name, fontsize=9), ax.axis("off")
    plt.show()


_ = widgets.interact(
    show_detections,
    scene_index=widgets.IntSlider(0, 0, len(test.images) - 1, description="scene"),
    score_threshold=widgets.FloatSlider(0.5, min=0.05, max=0.95, step=0.05, description="score ≥"),
)

# %% [markdown]
# ## Try it on real photos (optional)
#
# `visioncourse.data.real.load` returns real photos in exactly the format of `generate(...)`
# (images, boxes, labels, masks, `targets()`), so the code of this chapter runs on them by
# changing the line that makes the data. Here: PASCAL VOC 2007, the benchmark of the
# lecture's speed table: 20 classes. The cell takes the torchvision Faster R-CNN trained
# above on shapes, gives it a class predictor for VOC's 20 classes, fine-tunes it for
# `S.photo_steps` steps on training photos at our 64×64 size, and scores it on validation
# photos. Compare the printed AP with the 73.2 mAP of the lecture's table (Faster R-CNN with
# a VGG-16 pretrained on ImageNet, trained on VOC 2007 + 2012 at full size). It only runs if the
# data is on your machine (`python -m visioncourse.data.real voc2007`, which needs internet once).

# %%
import copy

from visioncourse.data import real
from visioncourse.viz import show_detections

if real.is_available("voc2007"):
    photos = real.load("voc2007", split="train", image_size=IMAGE, limit=S.photos)  # instead of generate(...)
    photo_test = real.load("voc2007", split="test", image_size=IMAGE, limit=S.test_scenes)
    torch.manual_seed(0)  # the new predictor's weights and the detector's region sampling
    tuned = copy.deepcopy(tv_rcnn)
    in_features = tuned.roi_heads.box_predictor.cls_score.in_features
    tuned.roi_heads.box_predictor = FastRCNNPredictor(in_features, photos.num_classes + 1)
    photo_images = photos.images.to(rt.device)
    photo_targets = on_device([{"boxes": t["boxes"], "labels": t["labels"]} for t in photos.targets()])

    def photo_batches(step):
        idx = torch.randint(0, len(photos), (S.batch,), generator=torch.Generator().manual_seed(step)).tolist()
        return ((photo_images[idx], [photo_targets[k] for k in idx]),)

    h = fit(tuned.to(rt.device), photo_batches, lambda losses: sum(losses.values()), S.photo_steps, lr=1e-3,
            desc="Faster R-CNN on VOC")
    tuned.eval()
    with torch.no_grad():
        photo_dets = [{k: v.cpu() for k, v in o.items()}
                      for b in photo_test.images.to(rt.device).split(25) for o in tuned(b)]
    photo_truth = [{"boxes": t["boxes"], "labels": t["labels"]} for t in photo_test.targets()]
    print(f"{len(photos)} training photos, {S.photo_steps} steps in {h.seconds:.0f} s; "
          f"{len(photo_test)} validation photos: mAP@0.5 (VOC) "
          f"{mean_average_precision(photo_dets, photo_truth)['map']:.3f}")
    show_detections(photo_test.images, photo_dets, photos.classes, score_threshold=0.5)
    plt.show()
else:
    print(real.missing_message("voc2007"))

# %% [markdown]
# ## Takeaways
#
# - Proposals overlap, so R-CNN convolves every pixel many times. Fast R-CNN runs the CNN
#   once per image and cuts each region's feature out of the shared map with **RoI pooling**:
#   a fixed `h × w` grid of max-pooled bins, whatever the box size.
# - RoI pooling rounds the box and its bins to feature cells; **RoI align** samples
#   bilinearly at real-valued positions instead, which matters when cells are large
#   compared with objects.
# - One network, one **multitask loss**: cross-entropy over K + 1 classes plus smooth-L1 on
#   the class-specific box deltas of positive regions.
# - Faster R-CNN replaces selective search by an **RPN**: anchors of several sizes and shapes
#   at every cell, labelled by IoU (≥ 0.7 / < 0.3 / best anchor), an objectness score and
#   deltas for each; four losses trained together.
# - mAP@0.5 saturates on easy data; COCO's AP over IoU 0.50–0.95 rewards precise boxes.
# - Speed: measured above — the order R-CNN ≫ Fast ≫ Faster holds, and the ratios depend on
#   how many proposals there are and how they are computed.
#
# ## Further reading
# - Girshick (2015), *Fast R-CNN*.
# - Ren, He, Girshick & Sun (2015), *Faster R-CNN: Towards Real-Time Object Detection with
#   Region Proposal Networks*.
# - He, Gkioxari, Dollár & Girshick (2017), *Mask R-CNN* — RoI align.
# - Lin et al. (2014), *Microsoft COCO: Common Objects in Context* — the COCO metrics.
# - Lin, Dollár, Girshick, He, Hariharan & Belongie (2017), *Feature Pyramid Networks for
#   Object Detection* — the multi-scale maps torchvision's detectors use.
