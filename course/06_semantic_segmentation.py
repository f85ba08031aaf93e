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
# name: 06_semantic_segmentation
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
# # Chapter 06 — Semantic segmentation
#
# **What you will learn**
# - semantic segmentation: one class label for **every pixel** (objects and background);
# - the first idea, classifying a window around every pixel (Farabet et al., 2013; Pinheiro &
#   Collobert, 2014), and how much work it repeats;
# - the fully convolutional answer (Long et al., 2015): **downsample, then upsample inside
#   the network**, and every way of upsampling — nearest, bilinear, **max-unpooling** with the
#   pooling indices (SegNet), **transposed convolution** and its checkerboard artefact;
# - **U-Net** (Ronneberger et al., 2015): skip connections from encoder to decoder, and what
#   they buy at object boundaries, measured;
# - the metrics — pixel accuracy, per-class IoU, **mIoU**, Dice — and cross-entropy against
#   the Dice loss.
#
# **Lectures:** "Detection, segmentation, captioning" (sliding window, fully convolutional
# networks, unpooling, transposed convolution), "Vision beyond classification" (dense
# prediction, upsampling, deconvolution, U-Net, metrics) and "Deep Learning, Episode 7:
# Advanced computer vision" (U-Net).
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
CHAPTER = "06_semantic_segmentation"
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
import torchvision
from tqdm.auto import tqdm

from visioncourse import segmentation
from visioncourse.data import ShapesConfig, generate
from visioncourse.exercises import use_or_reference
from visioncourse.metrics import confusion_matrix, mean_std, segmentation_scores, verdict
from visioncourse.train import fit, timer
from visioncourse.viz import to_numpy_image

# Every size this notebook uses, for both modes, in one place.
S = sizes(
    fast=dict(train_scenes=2000, test_scenes=200, width=16, steps=150, batch=16, seeds=3,
              window_steps=300, window_batch=256, photos=300, photo_steps=40),
    full=dict(train_scenes=10000, test_scenes=500, width=32, steps=2000, batch=32, seeds=5,
              window_steps=2000, window_batch=1024, photos=2000, photo_steps=1000),
    mode=rt.mode,
)
S

# %% [markdown]
# ## 1. The task: a label for every pixel
#
# The scenes are 48×48 images with two to five shapes, some of them small, on a blotchy
# background with small specks of clutter; shapes may overlap a little. The target is the `semantic` map of the
# shapes world: the class of the object seen at each pixel, 0 for the background. Colour says
# nothing about the class — a network has to recognise the shape.

# %%
scene = ShapesConfig(image_size=48, min_objects=2, max_objects=5, min_size=0.12, max_size=0.45,
                     max_overlap=0.3, background="texture", clutter=6)
CLASSES, IMAGE = scene.classes, scene.image_size
NUM_CLASSES = len(CLASSES)  # background + 3 shapes
train = generate(S.train_scenes, scene, seed=0).to(rt.device)
test = generate(S.test_scenes, scene, seed=10**6).to(rt.device)  # held-out seeds
# One colour per class (background black) for label maps.
PALETTE = torch.tensor([[0, 0, 0], [0.9, 0.6, 0.1], [0.2, 0.7, 0.9], [0.8, 0.3, 0.7]])


def colour_labels(labels):
    """(H, W) class indices -> (H, W, 3) colours, for imshow."""
    return PALETTE[labels.cpu()].numpy()


fig, axes = plt.subplots(2, 6, figsize=(11, 4))
for i in range(6):
    axes[0, i].imshow(to_numpy_image(test.images[i]), interpolation="nearest")
    axes[1, i].imshow(colour_labels(test.semantic[i]), interpolation="nearest")
for ax in axes.flat:
    ax.axis("off")
axes[0, 0].set_title("image", loc="left"), axes[1, 0].set_title("target", loc="left")
print("classes:", ", ".join(f"{k} {name}" for k, name in enumerate(CLASSES)))
pixel_share = torch.bincount(train.semantic.flatten(), minlength=NUM_CLASSES) / train.semantic.numel()
print("share of training pixels per class:", [round(v, 3) for v in pixel_share.tolist()])
plt.show()

# %% [markdown]
# ## 2. First idea: classify a window around every pixel
#
# Cut a `17 × 17` patch centred on a pixel, classify the patch, give its class to the centre
# pixel; repeat for every pixel. Any patch classifier does; ours is four 5×5 convolutions
# without padding (each shrinks the patch by 4: 17 → 13 → 9 → 5 → 1) and a 1×1 convolution
# to the class scores. Training samples random pixels of the training scenes.

# %%
WINDOW = 17
HALF = WINDOW // 2


def window_classifier(width=16):
    return nn.Sequential(
        nn.Conv2d(3, width, 5), nn.ReLU(), nn.Conv2d(width, 2 * width, 5), nn.ReLU(),
        nn.Conv2d(2 * width, 2 * width, 5), nn.ReLU(), nn.Conv2d(2 * width, 2 * width, 5), nn.ReLU(),
        nn.Conv2d(2 * width, NUM_CLASSES, 1),
    ).to(rt.device)


def pad_for_windows(images):
    # Replicate the border so that windows centred on edge pixels exist.
    return F.pad(images, (HALF, HALF, HALF, HALF), mode="replicate")


train_padded = pad_for_windows(train.images)
offsets = torch.arange(WINDOW, device=rt.device)


def window_batches(step):
    g = torch.Generator(device=rt.device).manual_seed(step)
    n = S.window_batch
    i, y, x = (torch.randint(0, hi, (n,), generator=g, device=rt.device) for hi in (len(train), IMAGE, IMAGE))
    rows = (y[:, None] + offsets)[:, :, None]  # pixel (y, x) is the centre of padded rows y..y+16
    cols = (x[:, None] + offsets)[:, None, :]
    patches = train_padded[i[:, None, None], :, rows, cols].permute(0, 3, 1, 2)  # (n, 3, 17, 17)
    return patches, train.semantic[i, y, x]


windows = window_classifier()
history = fit(windows, window_batches, lambda out, t: F.cross_entropy(out[:, :, 0, 0], t),
              S.window_steps, lr=3e-3, desc="window classifier")
print(f"trained on {history.images:,} windows in {history.seconds:.1f} s")

# %% [markdown]
# Segmenting a test image the lecture's way means one forward pass per pixel: 48 × 48 = 2304
# windows per image. `F.unfold` cuts them all at once.

# %%
N_TIMED = 10
images = test.images[:N_TIMED]


@torch.inference_mode()
def segment_by_windows(images):
    n = len(images)
    patches = F.unfold(pad_for_windows(images), WINDOW)  # (n, 3*17*17, H*W)
    patches = patches.transpose(1, 2).reshape(-1, 3, WINDOW, WINDOW)
    scores = torch.cat([windows(p)[:, :, 0, 0] for p in patches.split(8192)])
    return scores.view(n, IMAGE, IMAGE, NUM_CLASSES).permute(0, 3, 1, 2)


@torch.inference_mode()
def segment_in_one_pass(images):
    # The same layers applied to the whole (padded) image: a fully convolutional network.
    return windows(pad_for_windows(images))


with timer() as t_windows:
    by_windows = segment_by_windows(images)
with timer() as t_once:
    in_one_pass = segment_in_one_pass(images)


def conv_multiply_adds(model, x):
    """Multiply-adds of every Conv2d in ``model`` on input ``x`` (counted with hooks)."""
    total = []
    hook = lambda m, inp, out: total.append(out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1])
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.inference_mode():
        model(x)
    for h in handles:
        h.remove()
    return sum(total)


per_window = conv_multiply_adds(windows, torch.zeros(1, 3, WINDOW, WINDOW, device=rt.device))
per_image = conv_multiply_adds(windows, pad_for_windows(torch.zeros(1, 3, IMAGE, IMAGE, device=rt.device)))
print(f"largest difference between the two: {(by_windows - in_one_pass).abs().max():.1e}")
print(f"multiply-adds per image: windows {IMAGE * IMAGE * per_window / 1e6:,.0f} M, one pass {per_image / 1e6:,.0f} M "
      f"({IMAGE * IMAGE * per_window / per_image:.0f}× repeated work)")
print(f"time for {N_TIMED} images: windows {t_windows.seconds * 1e3:,.0f} ms, one pass {t_once.seconds * 1e3:,.1f} ms "
      f"({t_windows.seconds / t_once.seconds:.0f}× faster)")
with torch.inference_mode():
    window_pred = torch.cat([segment_in_one_pass(b).argmax(1) for b in test.images.split(100)])
window_scores = segmentation_scores(confusion_matrix(window_pred, test.semantic, NUM_CLASSES))
print(f"held-out mIoU of the window classifier: {window_scores['miou']:.3f}")

# %% [markdown]
# Neighbouring windows share all but one row or column, so the window approach computes each
# first-layer feature up to 13 × 13 = 169 times (once for every window that contains it).
# Running the same convolutions **once over the whole image** gives exactly the same scores —
# chapter 02's trick again — at a fraction of the cost.
#
# But look at the mIoU: a 17-pixel window does not see enough of a large shape to tell what
# it is, and widening it at full resolution makes every layer costlier. The lecture's
# answer: **downsample** inside the network (pooling, strided convolution) to see a wide
# context cheaply, then **upsample** back to the input's resolution for the per-pixel
# prediction. Downsampling is familiar; upsampling needs new layers.
#
# ## 3. Upsampling without learning: nearest and bilinear
#
# *Nearest* copies each value into an `s × s` block. *Bilinear* interpolates between the four
# nearest input values; with `align_corners=False` (PyTorch's default) output pixel `o` sits
# at input coordinate `(o + 0.5) / s − 0.5` (pixel centres line up). Like chapter 04's RoI
# align, it is separable: a weight matrix `A` along rows and along columns, `out = A_y · x ·
# A_xᵀ`.


# %%
def interpolation_matrix(n_in, n_out):
    """(n_out, n_in) weights of 1-D linear interpolation, align_corners=False."""
    pos = ((torch.arange(n_out) + 0.5) * n_in / n_out - 0.5).clamp(0, n_in - 1)
    left = pos.floor().long().clamp(max=n_in - 2) if n_in > 1 else pos.long()
    frac = pos - left
    A = torch.zeros(n_out, n_in)
    A[torch.arange(n_out), left] += 1 - frac
    A[torch.arange(n_out), (left + 1).clamp(max=n_in - 1)] += frac
    return A


def upsample_nearest(x, s):
    return x.repeat_interleave(s, dim=-2).repeat_interleave(s, dim=-1)


def upsample_bilinear(x, s):
    h, w = x.shape[-2:]
    return interpolation_matrix(h, h * s) @ x @ interpolation_matrix(w, w * s).T


x = torch.randn(2, 3, 5, 7)
for name, mine, mode in (("nearest", upsample_nearest(x, 3), "nearest"),
                         ("bilinear", upsample_bilinear(x, 3), "bilinear")):
    theirs = F.interpolate(x, scale_factor=3, mode=mode)
    print(f"{name:8s} largest difference from F.interpolate: {(mine - theirs).abs().max():.1e}")

# %% [markdown]
# ## 4. Max-unpooling: remember where the maximum was
#
# SegNet (Badrinarayanan et al., 2016) pairs every max-pooling layer of the encoder with an
# unpooling layer in the decoder. Pooling records **which** position held each window's
# maximum (`return_indices=True`); unpooling writes each value back at that position and
# zeros elsewhere. Small details of where edges were survive the round trip.

# %% [raw]
# # BEGIN QUESTION
# name: ex6_1
# points: 2

# %% [markdown]
# **Exercise 6.1 — max-unpooling.** Complete `max_unpool2d(input, indices, output_size)`:
# `input` and `indices` are `Tensor[N, C, h, w]` as returned by
# `F.max_pool2d(x, k, return_indices=True)`; each index is the position of the maximum in
# its `H × W` channel of `x`, flattened (`row · W + column`); `output_size = (H, W)`. Return
# `Tensor[N, C, H, W]`: zeros, with every input value written at its index. No loops:
# flatten the last two dimensions and use `Tensor.scatter`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def max_unpool2d(input, indices, output_size):
    # BEGIN SOLUTION
    n, c = input.shape[:2]
    out = input.new_zeros(n, c, output_size[0] * output_size[1])
    out.scatter_(2, indices.flatten(2), input.flatten(2))
    return out.view(n, c, *output_size)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_max_unpool_small(max_unpool2d):
    import torch

    from visioncourse.exercises import expect_close

    values = torch.tensor([[[[5.0, 7.0]]]])  # (1, 1, 1, 2)
    indices = torch.tensor([[[[4, 3]]]])  # positions in a 2x4 map: (1, 0) and (0, 3)
    expect_close(
        "Exercise 6.1 (max_unpool2d)",
        max_unpool2d(values, indices, (2, 4)),
        torch.tensor([[[[0.0, 0, 0, 7], [5, 0, 0, 0]]]]),
        inputs="values [5, 7] at flat indices [4, 3] of a 2x4 map",
        hint="index 4 in a map 4 wide is row 1, column 0",
    )


test_max_unpool_small(max_unpool2d)


# %%
# HIDDEN
def test_max_unpool_matches_torch(max_unpool2d):
    import torch
    import torch.nn.functional as F

    from visioncourse.exercises import expect_close

    g = torch.Generator().manual_seed(6)
    for shape, k in (((2, 3, 8, 6), 2), ((1, 4, 9, 9), 3), ((3, 1, 7, 5), 2)):
        x = torch.randn(shape, generator=g)
        pooled, idx = F.max_pool2d(x, k, return_indices=True)
        expect_close(
            "Exercise 6.1 (max_unpool2d)",
            max_unpool2d(pooled, idx, shape[-2:]),
            F.max_unpool2d(pooled, idx, k, output_size=shape[-2:]),
            inputs=f"x of shape {shape}, {k}x{k} max-pooling",
            hint="scatter along the flattened H*W dimension of each channel",
        )


test_max_unpool_matches_torch(max_unpool2d)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Pool and unpool a scene: the unpooled image keeps one bright pixel per 2×2 block, in the
# right place; nearest and bilinear upsampling of the pooled image smear it instead.

# %%
unpool_fn = use_or_reference("Exercise 6.1", "max_unpool2d",
                             lambda v, i, s: F.max_unpool2d(v, i, 2, output_size=s),
                             torch.tensor([[[[5.0, 7.0]]]]), torch.tensor([[[[4, 3]]]]), (2, 4))
image = test.images[:1].cpu().mean(1, keepdim=True)  # grey: one channel is easier to read
pooled, where = F.max_pool2d(image, 2, return_indices=True)
views = {
    "image 48×48": image,
    "max-pooled 24×24": pooled,
    "nearest": upsample_nearest(pooled, 2),
    "bilinear": upsample_bilinear(pooled, 2),
    "max-unpooled": unpool_fn(pooled, where, (IMAGE, IMAGE)),
}
fig, axes = plt.subplots(1, len(views), figsize=(12, 2.6))
for ax, (name, im) in zip(axes, views.items()):
    ax.imshow(im[0, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(name), ax.axis("off")
plt.show()

# %% [markdown]
# ## 5. Transposed convolution: learnable upsampling
#
# A 3×3 convolution with stride 2 and padding 1 takes a 4×4 input to a 2×2 output: every
# output is a dot product of the filter with an input window. Written as a matrix, it is a
# `4 × 16` matrix `C` acting on the flattened input. The **transposed convolution** multiplies
# by `Cᵀ` (`16 × 4`) instead: it takes 2×2 back to 4×4. Each input value **scatters** a copy
# of the filter, scaled by that value, into the output, moving 2 output pixels for every
# input pixel; where copies overlap they add up. (Other names: upconvolution, fractionally
# strided convolution, backward strided convolution — and "deconvolution", a misleading name,
# since it does not invert the convolution.)
#
# Check both statements numerically: build `C` column by column from the convolution of unit
# images, and compare `Cᵀ y` with PyTorch's `conv_transpose2d`.

# %%
w3 = torch.randn(1, 1, 3, 3)
unit_images = torch.eye(16).view(16, 1, 4, 4)
C = F.conv2d(unit_images, w3, stride=2, padding=1).view(16, 4).T  # column j = conv of unit image j
y = torch.randn(1, 1, 2, 2)
by_matrix = (C.T @ y.flatten()).view(1, 1, 4, 4)
by_torch = F.conv_transpose2d(y, w3, stride=2, padding=1, output_padding=1)
print("C is", tuple(C.shape), "; Cᵀ y is", tuple(by_matrix.shape))
print(f"largest difference between Cᵀ y and conv_transpose2d: {(by_matrix - by_torch).abs().max():.1e}")

# %% [markdown]
# `output_padding=1` above settles an ambiguity: a stride-2 convolution maps both 3×3 and 4×4
# inputs to 2×2, so going back, the transposed convolution must be told which size to
# produce. In general the output side is `(H − 1)·stride − 2·padding + k + output_padding`:
# scatter into the full `(H − 1)·stride + k` canvas, extend it by `output_padding` at the
# bottom and right, then crop `padding` from every side.

# %% [raw]
# # BEGIN QUESTION
# name: ex6_2
# points: 3

# %% [markdown]
# **Exercise 6.2 — transposed convolution as a scatter.** Complete
# `conv_transpose2d(input, weight, stride=1, padding=0, output_padding=0)` for
# `input (Tensor[N, C_in, H, W])` and `weight (Tensor[C_in, C_out, k, k])` (PyTorch's layout
# for transposed convolutions); no bias. Return what `F.conv_transpose2d` returns.
#
# The picture to implement: every input pixel at `(y, x)` stamps a copy of the kernel, scaled
# by its value, on the output with its top-left corner at `(stride·y, stride·x)`; the stamps
# add up where they overlap. Work out how large the uncropped output is, and how `padding`
# and `output_padding` change it (the formula above). Vectorise over the batch, the channels
# and the input pixels; a Python loop over the `k × k` kernel offsets is fine.

# %% [raw]
# # BEGIN SOLUTION


# %%
def conv_transpose2d(input, weight, stride=1, padding=0, output_padding=0):
    # BEGIN SOLUTION
    n, _, h, w = input.shape
    k = weight.shape[-1]
    canvas = input.new_zeros(n, weight.shape[1], (h - 1) * stride + k + output_padding,
                             (w - 1) * stride + k + output_padding)
    for i in range(k):
        for j in range(k):
            contribution = torch.einsum("nchw,cd->ndhw", input, weight[:, :, i, j])
            canvas[:, :, i : i + stride * h : stride, j : j + stride * w : stride] += contribution
    out_h = (h - 1) * stride - 2 * padding + k + output_padding
    out_w = (w - 1) * stride - 2 * padding + k + output_padding
    return canvas[:, :, padding : padding + out_h, padding : padding + out_w]
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_conv_transpose_small(conv_transpose2d):
    import torch

    from visioncourse.exercises import expect_close

    x = torch.tensor([[[[1.0, 2.0]]]])  # (1, 1, 1, 2)
    w = torch.ones(1, 1, 2, 2)
    expect_close(
        "Exercise 6.2 (conv_transpose2d)",
        conv_transpose2d(x, w, stride=1),
        torch.tensor([[[[1.0, 3, 2], [1, 3, 2]]]]),
        inputs="x = [[1, 2]], a 2x2 kernel of ones, stride 1",
        hint="each input value stamps a 2x2 block of itself; the blocks overlap in the middle column",
    )
    expect_close(
        "Exercise 6.2 (conv_transpose2d)",
        conv_transpose2d(x, w, stride=2),
        torch.tensor([[[[1.0, 1, 2, 2], [1, 1, 2, 2]]]]),
        inputs="the same, stride 2",
        hint="with stride 2 the stamps move 2 pixels per input pixel and no longer overlap",
    )
    expect_close(
        "Exercise 6.2 (conv_transpose2d)",
        conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
        torch.tensor([[[[1.0, 2, 2]]]]),
        inputs="the same, stride 2, padding 1, output_padding 1",
        hint="output side (H-1)*stride - 2*padding + k + output_padding; crop padding from the top/left",
    )
    weight = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 10.0]]).view(2, 3, 1, 1)  # (C_in, C_out, 1, 1)
    expect_close(
        "Exercise 6.2 (conv_transpose2d)",
        conv_transpose2d(torch.tensor([1.0, 2.0]).view(1, 2, 1, 1), weight),
        torch.tensor([1.0, 2.0, 20.0]).view(1, 3, 1, 1),
        inputs="one pixel with 2 channels [1, 2]; weight (2, 3, 1, 1) = [[1, 0, 0], [0, 1, 10]]",
        hint="weight is (C_in, C_out, k, k): output channel d sums in[c] * weight[c, d] over c",
    )


test_conv_transpose_small(conv_transpose2d)


# %%
# HIDDEN
def test_conv_transpose_matches_torch(conv_transpose2d):
    import torch
    import torch.nn.functional as F

    from visioncourse.exercises import expect_close

    g = torch.Generator().manual_seed(62)
    for stride, padding, output_padding, k in ((1, 0, 0, 3), (2, 1, 1, 3), (2, 0, 1, 4), (3, 2, 2, 5), (2, 1, 0, 4)):
        x = torch.randn(2, 3, 5, 4, generator=g)
        w = torch.randn(3, 2, k, k, generator=g)
        expect_close(
            "Exercise 6.2 (conv_transpose2d)",
            conv_transpose2d(x, w, stride=stride, padding=padding, output_padding=output_padding),
            F.conv_transpose2d(x, w, stride=stride, padding=padding, output_padding=output_padding),
            inputs=f"x (2, 3, 5, 4), weight (3, 2, {k}, {k}), stride {stride}, padding {padding}, "
            f"output_padding {output_padding}",
            hint="sum over input channels: out[d] += in[c] * weight[c, d]; output channels come from weight's 2nd dimension",
            atol=1e-4,
        )


test_conv_transpose_matches_torch(conv_transpose2d)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### The checkerboard artefact
#
# When the kernel size is not a multiple of the stride, the stamped copies overlap unevenly:
# with `k = 3, stride 2` some output pixels receive two contributions, some one, some four.
# Even a constant input and a constant kernel then give a **checkerboard** (Odena, Dumoulin &
# Olah, 2016), and a trained network has to work against it. The fix they propose: resize
# (nearest or bilinear), **then** convolve — every output pixel sees the same number of
# inputs. Try kernel sizes and strides; `k` a multiple of the stride has no checkerboard.

# %%
transpose_fn = use_or_reference("Exercise 6.2", "conv_transpose2d",
                                lambda x, w, s, p, op: F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=op),
                                torch.ones(1, 1, 1, 2), torch.ones(1, 1, 2, 2), 2, 1, 1)


def show_checkerboard(kernel_size=3, stride=2):
    ones = torch.ones(1, 1, 8, 8)
    stamped = transpose_fn(ones, torch.ones(1, 1, kernel_size, kernel_size), stride, 0, 0)
    resized = F.conv2d(upsample_nearest(ones, stride), torch.ones(1, 1, 3, 3) / 9, padding=1)
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.2))
    for ax, im, title in ((axes[0], stamped, f"transposed conv, k={kernel_size}, stride {stride}"),
                          (axes[1], resized, f"nearest ×{stride}, then 3×3 conv")):
        inner = im[0, 0, kernel_size:-kernel_size, kernel_size:-kernel_size]  # away from borders
        ax.imshow(im[0, 0], cmap="gray", interpolation="nearest")
        ax.set_title(f"{title}\ninterior std {inner.std():.2f}", fontsize=9), ax.axis("off")
    plt.show()


_ = widgets.interact(
    show_checkerboard,
    kernel_size=widgets.IntSlider(3, 1, 6, description="kernel"),
    stride=widgets.IntSlider(2, 1, 4, description="stride"),
)

# %% [markdown]
# The same happens inside a network at initialisation. Below, three upsampling stages of
# each kind, randomly initialised (PyTorch's default), are fed a constant image: the
# transposed convolutions print a grid pattern, resize-then-convolve stays flat away from
# the borders. (Interior standard deviation relative to the mean size of the values: 0 for a
# flat output.)

# %%
torch.manual_seed(0)
stages = lambda up: nn.Sequential(*[up() for _ in range(3)])
transposed_net = stages(lambda: nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1))
resize_net = stages(lambda: nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(4, 4, 3, padding=1)))
flat = torch.ones(1, 4, 6, 6)
fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
with torch.no_grad():
    for ax, net, title in ((axes[0], transposed_net, "3 transposed convs (k3, s2)"),
                           (axes[1], resize_net, "3 × (nearest ×2, 3×3 conv)")):
        out = net(flat)[0, 0]
        inner = out[8:-8, 8:-8]
        ax.imshow(inner, cmap="gray", interpolation="nearest")
        ax.set_title(f"{title}\nrelative interior std {inner.std() / inner.abs().mean():.3f}", fontsize=9)
        ax.axis("off")
plt.show()

# %% [markdown]
# ## 6. An encoder–decoder, with and without skip connections
#
# The fully convolutional network for segmentation: an **encoder** of convolution blocks and
# 2×2 max-pooling (48 → 24 → 12 pixels, channels doubling), then a **decoder** that upsamples
# back (nearest ×2 then a 3×3 convolution, the checkerboard-free choice) to a score per class
# and pixel.
#
# The pooled features say *what* is there but have lost *exactly where*. U-Net (Ronneberger et
# al., 2015) concatenates each decoder stage with the encoder features of the same resolution
# — a **skip connection** — so fine detail is at hand when the decoder draws the boundary.
# `skips=False` gives the same network without them (the decoder convolutions then have fewer
# input channels, nothing else changes).


# %%
from visioncourse import figures

figures.fcn_and_unet()
plt.show()


# %%
def conv_block(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
        nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
    )


# %% [raw]
# # BEGIN QUESTION
# name: ex6_3
# points: 3

# %% [markdown]
# **Exercise 6.3 — a U-Net decoder stage.** Complete `decoder_stage(x, skip, up, block)`, one
# step up the decoder, the heart of U-Net: `x (Tensor[N, C, h, w])` the coarser decoder
# features, `skip (Tensor[N, C_s, H, W])` the encoder features saved at the finer
# resolution, `up` a module that doubles the resolution of `x` (and may change its
# channels), and `block` this stage's convolutions. Return `block` applied to the upsampled
# features joined with the skip, **upsampled features first** (the order `block`'s weights
# expect). The skip may be larger than the upsampled map: the original U-Net pads nothing,
# so its encoder maps are larger than the decoder's, and it keeps their **centre** (when the
# margin is odd, the extra row or column is dropped at the bottom or right). Our U-Net pads
# its convolutions and works on 48 → 24 → 12 pixels, so its maps already match and your
# crop will cut nothing in training; the tests check it on odd sizes. The U-Net below calls
# your function at every stage, in training too.

# %% [raw]
# # BEGIN SOLUTION


# %%
def decoder_stage(x, skip, up, block):
    # BEGIN SOLUTION
    x = up(x)
    h, w = x.shape[-2:]
    top, left = (skip.shape[-2] - h) // 2, (skip.shape[-1] - w) // 2
    return block(torch.cat((x, skip[..., top : top + h, left : left + w]), dim=1))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_decoder_stage_small(decoder_stage):
    import torch
    import torch.nn as nn

    from visioncourse.exercises import expect_close

    x = torch.arange(8.0).view(1, 2, 2, 2)  # two channels: [[0, 1], [2, 3]] and [[4, 5], [6, 7]]
    skip = torch.arange(49.0).view(1, 1, 7, 7)  # 0..48, row by row
    up = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(2, 1, 1, bias=False))
    block = nn.Conv2d(2, 1, 1, bias=False)
    with torch.no_grad():
        up[1].weight.fill_(1.0)  # upsampled channel = sum of x's two channels
        block.weight.copy_(torch.tensor([1.0, 100.0]).view(1, 2, 1, 1))  # up + 100 * skip
        expect_close(
            "Exercise 6.3 (decoder_stage)",
            decoder_stage(x, skip, up, block),
            (torch.tensor([[4.0, 4, 6, 6], [4, 4, 6, 6], [8, 8, 10, 10], [8, 8, 10, 10]])
            + 100 * torch.tensor([[8.0, 9, 10, 11], [15, 16, 17, 18], [22, 23, 24, 25], [29, 30, 31, 32]])
            ).view(1, 1, 4, 4),
            inputs="x (1, 2, 2, 2) = 0..7, skip 7x7 = 0..48, up = nearest x2 then sum of channels, "
            "block = 1 * upsampled + 100 * skip",
            hint="use the modules you are given (up, then block); keep the skip's rows and columns "
            "1..4 (margin 3: one before, two after); upsampled features first",
        )


test_decoder_stage_small(decoder_stage)


# %%
# HIDDEN
def test_decoder_stage_with_convolutions(decoder_stage):
    import torch
    import torch.nn as nn

    from visioncourse.exercises import expect_close
    from visioncourse.segmentation import unet_decoder_stage

    torch.manual_seed(63)
    up = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(8, 4, 3, padding=1))
    block = nn.Sequential(nn.Conv2d(4 + 3, 5, 3, padding=1), nn.ReLU())
    x = torch.randn(2, 8, 6, 5)
    for side in ((12, 10), (15, 13)):
        skip = torch.randn(2, 3, *side)
        with torch.no_grad():
            expect_close(
                "Exercise 6.3 (decoder_stage)",
                decoder_stage(x, skip, up, block),
                unet_decoder_stage(x, skip, up, block),
                inputs=f"x (2, 8, 6, 5), skip (2, 3, {side[0]}, {side[1]}), conv up and block",
                hint="crop the skip's centre to the upsampled size; upsampled features first",
                atol=1e-5,
            )


test_decoder_stage_with_convolutions(decoder_stage)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
torch.manual_seed(0)  # a probe shaped like the real stages: up changes the channels, block is a convolution
decoder_stage_fn = use_or_reference(
    "Exercise 6.3", "decoder_stage", segmentation.unet_decoder_stage,
    torch.randn(1, 4, 3, 3), torch.randn(1, 2, 7, 7),
    nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(4, 2, 3, padding=1)), nn.Conv2d(4, 3, 3, padding=1),
)


# %%
class UNet(nn.Module):
    """(N, 3, H, W) -> class scores (N, num_classes, H, W); H and W divisible by 2**depth."""

    def __init__(self, num_classes, width=16, depth=2, skips=True):
        super().__init__()
        self.skips = skips
        ch = [width * 2**i for i in range(depth + 1)]
        self.encoder = nn.ModuleList([conv_block(3, ch[0])] + [conv_block(ch[i], ch[i + 1]) for i in range(depth)])
        self.up = nn.ModuleList([nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(ch[i + 1], ch[i], 3, padding=1))
                                 for i in range(depth)])
        self.decoder = nn.ModuleList([conv_block(2 * ch[i] if skips else ch[i], ch[i]) for i in range(depth)])
        self.head = nn.Conv2d(ch[0], num_classes, 1)

    def forward(self, x):
        features = []
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            features.append(x)
        x = features.pop()  # the coarsest map
        for i in reversed(range(len(self.up))):
            skip = features.pop()  # encoder features at the next finer resolution
            if self.skips:
                x = decoder_stage_fn(x, skip, self.up[i], self.decoder[i])  # Exercise 6.3
            else:
                x = self.decoder[i](self.up[i](x))
        return self.head(x)


def segmentation_batches(step, seed=0):
    g = torch.Generator().manual_seed(seed * 10**6 + step)
    idx = torch.randint(0, len(train), (S.batch,), generator=g).to(rt.device)
    # channels_last (pixels, then channels, in memory): about 20 % faster convolutions here
    return train.images[idx].contiguous(memory_format=torch.channels_last), train.semantic[idx]


def train_unet(seed, skips=True, loss_fn=F.cross_entropy, progress=True, desc="U-Net"):
    """A U-Net trained from seed ``seed``: the seed sets the initial weights and the batches."""
    torch.manual_seed(seed)  # with and without skips, the encoder starts from the same weights
    model = UNet(NUM_CLASSES, S.width, skips=skips).to(rt.device, memory_format=torch.channels_last)
    h = fit(model, lambda step: segmentation_batches(step, seed), loss_fn, S.steps, lr=3e-3,
            desc=desc, progress=progress, amp=True)
    return model, h


@torch.inference_mode()
def predict(model, images):
    return torch.cat([model(b).argmax(1) for b in images.split(100)])


models, predictions = {}, {}
for name, skips in (("U-Net", True), ("no skips", False)):
    models[name], h = train_unet(0, skips=skips, desc=name)
    predictions[name] = predict(models[name], test.images)
    print(f"{name:9s} {sum(p.numel() for p in models[name].parameters()):,} parameters, "
          f"trained in {h.seconds:.1f} s ({h.images_per_second:.0f} images/s)")

# %% [markdown]
# ## 7. Measuring a segmentation: pixel accuracy, IoU, mIoU, Dice
#
# Everything follows from the **confusion matrix** `M[t, p]`: the number of pixels of true
# class `t` predicted as `p`, summed over the whole test set. For class `c`, `TP = M[c, c]`,
# `FP` = the rest of column `c`, `FN` = the rest of row `c`:
#
# - **pixel accuracy** = `trace(M) / sum(M)` — dominated by the background, which covers most
#   pixels;
# - **IoU** of class `c` = `TP / (TP + FP + FN)`, the intersection over union of the predicted
#   and true regions of that class; **mIoU** averages it over classes, so a rare class counts
#   as much as the background;
# - **Dice** = `2 TP / (2 TP + FP + FN)` (the F1 score of the class's pixels).
#
# A class absent from both the prediction and the target of the whole set has `0 / 0`: it is
# left out of the mean (NaN), not counted as 0 or 1.

# %% [raw]
# # BEGIN QUESTION
# name: ex6_4
# points: 2

# %% [markdown]
# **Exercise 6.4 — per-class IoU from a confusion matrix.** Complete `class_iou(confmat)`:
# `confmat (Tensor[C, C])` with `confmat[t, p]` = pixels of true class `t` predicted as `p`.
# Return `Tensor[C]` float64: the IoU of every class, `NaN` where `TP + FP + FN = 0`. No loops
# (`diag`, `sum(0)`, `sum(1)`, `torch.where`). The mIoU is then `class_iou(M).nanmean()`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def class_iou(confmat):
    # BEGIN SOLUTION
    c = confmat.double()
    tp = c.diag()
    union = c.sum(0) + c.sum(1) - tp
    return torch.where(union > 0, tp / union, torch.full_like(tp, float("nan")))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_class_iou_small(class_iou):
    import torch

    from visioncourse.exercises import expect_close

    confmat = torch.tensor([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
    expect_close(
        "Exercise 6.4 (class_iou)",
        class_iou(confmat),
        torch.tensor([5 / 8, 3 / 6, float("nan")], dtype=torch.float64),
        inputs="confmat [[5, 1, 0], [2, 3, 0], [0, 0, 0]] (rows: true class, columns: predicted)",
        hint="class 0: TP 5, FP 2 (column), FN 1 (row); class 2 never occurs: NaN",
    )


test_class_iou_small(class_iou)


# %%
# HIDDEN
def test_class_iou_matches_torchmetrics(class_iou):
    import torch
    from torchmetrics.functional.classification import multiclass_jaccard_index

    from visioncourse.exercises import expect_close
    from visioncourse.metrics import confusion_matrix

    g = torch.Generator().manual_seed(63)
    for num_classes, absent in ((4, None), (6, 5), (3, 1)):
        target = torch.randint(0, num_classes, (3, 10, 12), generator=g)
        pred = torch.where(torch.rand(target.shape, generator=g) < 0.6, target,
                           torch.randint(0, num_classes, target.shape, generator=g))
        if absent is not None:  # one class in neither prediction nor target
            target[target == absent] = 0
            pred[pred == absent] = 0
        iou = class_iou(confusion_matrix(pred, target, num_classes))
        reference = multiclass_jaccard_index(pred, target, num_classes, average="none").double()
        if absent is not None:
            reference[absent] = float("nan")
        expect_close(
            "Exercise 6.4 (class_iou)",
            iou,
            reference,
            inputs=f"random label maps with {num_classes} classes, class {absent} absent",
            hint="IoU = TP / (TP + FP + FN); NaN only where that denominator is 0",
        )


test_class_iou_matches_torchmetrics(class_iou)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# `visioncourse.metrics` has the same as `confusion_matrix(pred, target, num_classes,
# ignore_index)` and `segmentation_scores(confmat)`; its tests compare them with per-class
# counting and with torchmetrics. Here is your mIoU next to torchmetrics' on the U-Net's
# held-out predictions:

# %%
from torchmetrics.functional.classification import multiclass_jaccard_index

reference_iou = lambda m: segmentation_scores(m)["iou"]
iou_fn = use_or_reference("Exercise 6.4", "class_iou", reference_iou,
                          torch.tensor([[5, 1, 0], [2, 3, 0], [0, 0, 0]]))
confmat = confusion_matrix(predictions["U-Net"], test.semantic, NUM_CLASSES)
theirs = multiclass_jaccard_index(predictions["U-Net"].cpu(), test.semantic.cpu(), NUM_CLASSES, average="macro")
who = "yours" if iou_fn is not reference_iou else "the reference's (until 6.3 passes)"
print(f"mIoU: {who} {iou_fn(confmat).nanmean():.4f}, torchmetrics {theirs:.4f}")

# %% [markdown]
# ## 8. Do skip connections help? The boundaries
#
# mIoU over whole regions is dominated by their interiors, which a coarse map gets right. To
# look at boundaries, score only the pixels **within 1 pixel of a class change** in the
# target (the "trimap" evaluation of Kohli et al., 2009, used by DeepLab): mIoU and pixel
# accuracy restricted to that band.


# %%
def boundary_band(labels, radius=1):
    """(N, H, W) label maps -> bool mask of the pixels within ``radius`` of a label change."""
    x = labels[:, None].float()
    edge = F.max_pool2d(x, 3, 1, 1) != -F.max_pool2d(-x, 3, 1, 1)  # a 3x3 neighbour differs
    return F.max_pool2d(edge.float(), 2 * radius + 1, 1, radius)[:, 0] > 0


band = boundary_band(test.semantic)
print(f"the boundary band holds {band.float().mean():.0%} of the test pixels\n")
print(
    f"{'':10s}{'pixel acc':>10s}{'mIoU':>8s}{'boundary mIoU':>15s}{'boundary acc':>14s}  per-class IoU"
)


def whole_and_boundary_scores(pred):
    whole = segmentation_scores(confusion_matrix(pred, test.semantic, NUM_CLASSES))
    edge = segmentation_scores(confusion_matrix(pred[band], test.semantic[band], NUM_CLASSES))
    return whole, edge


results = {}
for name, pred in predictions.items():
    results[name] = whole, edge = whole_and_boundary_scores(pred)
    print(f"{name:10s}{whole['pixel_accuracy']:10.3f}{whole['miou']:8.3f}{edge['miou']:15.3f}"
          f"{edge['pixel_accuracy']:14.3f}  {[round(v, 3) for v in whole['iou'].tolist()]}")

# %% [markdown]
# That is one seed of each. A network this small, trained for `S.steps` steps, can land in a
# poor solution by chance (a class it has not yet learned to separate), so one run is no
# evidence. Train both again from `S.seeds − 1` more seeds (each seed sets the initial
# weights and the order of the batches) and compare the spreads: a verdict is printed only
# when every seed of one network beats every seed of the other.

# %%
scores = {"U-Net": [results["U-Net"]], "no skips": [results["no skips"]]}  # seed 0, from above
runs = [(seed, name) for seed in range(1, S.seeds) for name in scores]
for seed, name in tqdm(runs, desc=f"2 networks × {S.seeds - 1} more seeds"):
    model, _ = train_unet(seed, skips=name == "U-Net", progress=False)
    scores[name].append(whole_and_boundary_scores(predict(model, test.images)))


def per_seed(name, part, key):
    """One score of every seed of a network: part 0 the whole image, 1 the boundary band."""
    return [s[part][key].item() for s in scores[name]]


print(f"{S.seeds} seeds, mean ± std\n{'':10s}{'mIoU':>16s}{'boundary mIoU':>16s}{'boundary acc':>16s}"
      "  seeds with a class IoU < 0.5")
for name in scores:
    failed = sum((s[0]["iou"] < 0.5).any().item() for s in scores[name])
    print(f"{name:10s}" + "".join(f"{mean_std(per_seed(name, part, key), 3):>16s}"
                                  for part, key in ((0, "miou"), (1, "miou"), (1, "pixel_accuracy")))
          + f"  {failed} of {S.seeds}")
for label, part in (("mIoU", 0), ("boundary mIoU", 1)):
    print(f"per seed, {label}:", {name: [round(v, 3) for v in per_seed(name, part, "miou")] for name in scores})
for label, part in (("mIoU", 0), ("boundary mIoU", 1)):
    print(f"{label}: " + verdict("the U-Net", per_seed("U-Net", part, "miou"),
                                "the network without skips", per_seed("no skips", part, "miou")))

# %% [markdown]
# **The bar.** The U-Net must reach held-out mIoU ≥ 0.85 in fast mode (≥ 0.95 in full mode).

# %%
BAR = 0.85 if rt.fast else 0.95
miou = results["U-Net"][0]["miou"].item()
print(f"U-Net held-out mIoU {miou:.3f} (bar {BAR})")
assert miou >= BAR, "the U-Net is below the bar: check the exercises or train longer"

# %% [markdown]
# Look at the predictions of seed 0 side by side, and compare the outlines: where the
# network without skips gets the class right, does it round corners and blur thin tips that
# the U-Net follows? A class whose IoU is near 0 in the first table is one that seed had not
# learned to tell apart. The last column marks the U-Net's wrong pixels.


# %%
def show_predictions(scene_index=0):
    panels = [("image", to_numpy_image(test.images[scene_index])),
              ("target", colour_labels(test.semantic[scene_index]))]
    panels += [(name, colour_labels(pred[scene_index])) for name, pred in predictions.items()]
    wrong = predictions["U-Net"][scene_index] != test.semantic[scene_index]
    panels.append(("U-Net errors", wrong.cpu().float().numpy()))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.3 * len(panels), 2.6))
    for ax, (title, im) in zip(axes, panels):
        ax.imshow(im, interpolation="nearest", cmap="gray"), ax.set_title(title), ax.axis("off")
    plt.show()


_ = widgets.interact(show_predictions, scene_index=widgets.IntSlider(0, 0, len(test.images) - 1, description="scene"))

# %% [markdown]
# ### The production counterpart
#
# torchvision's segmentation models (`torchvision.models.segmentation`: FCN, DeepLabV3,
# LR-ASPP) follow the same plan with an ImageNet backbone: the encoder stops at stride 8 or
# 16, a head predicts class scores there, and a final **bilinear** upsampling brings them to
# the input's size; the prediction is the dict entry `"out"`. Built here without pretrained
# weights for our four classes (training a ResNet-50 is beyond a CPU budget; the layers and
# the output format are the point):

# %%
fcn = torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None,
                                                   num_classes=NUM_CLASSES).eval()
with torch.inference_mode():
    out = fcn(test.images[:2].cpu())
    stride = IMAGE // fcn.backbone(test.images[:2].cpu())["out"].shape[-1]
print(f"input {tuple(test.images[:2].shape)} -> out {tuple(out['out'].shape)}; "
      f"backbone stride {stride}; {sum(p.numel() for p in fcn.parameters()) / 1e6:.1f} M parameters "
      f"(our U-Net: {sum(p.numel() for p in models['U-Net'].parameters()) / 1e6:.2f} M)")

# %% [markdown]
# ## 9. Losses: cross-entropy or Dice?
#
# Cross-entropy scores every pixel on its own, so large classes (the background) dominate
# the sum. The **Dice loss** (Milletari et al., 2016) optimises a smooth version of the Dice
# score instead, one number per class that does not depend on how many pixels the class
# has: with softmax probabilities `p` and one-hot targets `y`, for each class `c`
#
# `dice_c = (2 Σ p·y + ε) / (Σ p + Σ y + ε)`, summed over all pixels of the batch,
#
# and the loss is `1 − mean_c dice_c`. The `ε` (1 here) keeps a class missing from the batch
# from dividing by zero. This is a common variant, not Milletari et al.'s exact form: their
# V-Net loss squares the terms of the denominator, `Σ p² + Σ y²`. Both equal the Dice score
# when the prediction is exactly one-hot; they differ in how they weigh uncertain pixels.

# %% [raw]
# # BEGIN QUESTION
# name: ex6_5
# points: 2

# %% [markdown]
# **Exercise 6.5 — the soft Dice loss.** Complete `dice_loss(logits, target, eps=1.0)`:
# `logits (Tensor[N, C, H, W])`, `target (Tensor[N, H, W])` long. Softmax over classes,
# one-hot the target (`F.one_hot` puts the class last: permute it to `(N, C, H, W)`), sum
# over batch and pixels per class, return the scalar loss. It must be differentiable.

# %% [raw]
# # BEGIN SOLUTION


# %%
def dice_loss(logits, target, eps=1.0):
    # BEGIN SOLUTION
    probs = logits.softmax(1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    dims = (0, 2, 3)
    dice = (2 * (probs * onehot).sum(dims) + eps) / (probs.sum(dims) + onehot.sum(dims) + eps)
    return 1 - dice.mean()
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_dice_loss_small(dice_loss):
    import torch

    from visioncourse.exercises import expect_close

    logits = torch.tensor([[[[0.0, 0.0]], [[0.0, 0.0]]]])  # two classes, two pixels, p = 1/2
    target = torch.tensor([[[0, 1]]])
    expect_close(
        "Exercise 6.5 (dice_loss)",
        dice_loss(logits, target, eps=0.0),
        torch.tensor(0.5),
        inputs="2 pixels with p = (0.5, 0.5), targets [0, 1], eps 0",
        hint="class 0: 2 * 0.5 / (1 + 1) = 0.5, class 1 the same; loss = 1 - 0.5",
    )
    sure = torch.tensor([[[[9.0, -9.0]], [[-9.0, 9.0]]]])
    expect_close(
        "Exercise 6.5 (dice_loss)",
        dice_loss(sure, target, eps=1.0),
        torch.tensor(0.0),
        inputs="confident, correct logits, eps 1",
        hint="a perfect prediction gives dice 1 for every class",
        atol=1e-3,
    )


test_dice_loss_small(dice_loss)


# %%
# HIDDEN
def test_dice_loss_reference(dice_loss):
    import torch

    from visioncourse.exercises import expect_close

    g = torch.Generator().manual_seed(64)
    logits = torch.randn(3, 4, 5, 6, generator=g, requires_grad=True)
    target = torch.randint(0, 3, (3, 5, 6), generator=g)  # class 3 absent from the target
    probs = logits.detach().softmax(1)
    scores = []
    for c in range(4):  # one class at a time
        p, y = probs[:, c], (target == c).double()
        scores.append((2 * (p * y).sum() + 1.0) / (p.sum() + y.sum() + 1.0))
    loss = dice_loss(logits, target)
    expect_close(
        "Exercise 6.5 (dice_loss)",
        loss.detach() if isinstance(loss, torch.Tensor) else loss,
        1 - torch.stack(scores).mean().float(),
        inputs="random logits (3, 4, 5, 6), targets without class 3, eps 1",
        hint="sum over batch and pixels per class, then average the C dice values",
    )
    loss.backward()
    if logits.grad is None or not torch.isfinite(logits.grad).all() or logits.grad.abs().sum() == 0:
        raise AssertionError("Exercise 6.5 (dice_loss): the loss must be differentiable in the logits (no .detach(), no argmax)")


test_dice_loss_reference(dice_loss)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Train the same U-Net with the Dice loss, from the same seeds as the cross-entropy U-Nets
# above, and compare the two. The shapes world is only moderately unbalanced (the background
# covers about three quarters of the pixels, triangles 5%), so there is no reason to expect
# a large gap.

# %%
dice_fn = use_or_reference("Exercise 6.5", "dice_loss", segmentation.dice_loss,
                           torch.randn(2, 4, 3, 3), torch.randint(0, 4, (2, 3, 3)))
scores["U-Net, Dice"] = []
for seed in tqdm(range(S.seeds), desc=f"U-Net with the Dice loss × {S.seeds} seeds"):
    model, _ = train_unet(seed, loss_fn=dice_fn, progress=False)
    scores["U-Net, Dice"].append(whole_and_boundary_scores(predict(model, test.images)))

print(f"{S.seeds} seeds, mean ± std\n{'loss':15s}{'pixel acc':>16s}{'mIoU':>16s}{'mean Dice':>16s}"
      f"{'boundary mIoU':>16s}  per-class IoU, mean of the seeds")
for name, label in (("U-Net", "cross-entropy"), ("U-Net, Dice", "Dice")):
    cells = [mean_std(per_seed(name, part, key), 3)
             for part, key in ((0, "pixel_accuracy"), (0, "miou"), (0, "mean_dice"), (1, "miou"))]
    print(f"{label:15s}" + "".join(f"{c:>16s}" for c in cells) + "  "
          f"{[round(v, 3) for v in torch.stack([r[0]['iou'] for r in scores[name]]).mean(0).tolist()]}")
for label, part in (("mIoU", 0), ("boundary mIoU", 1)):
    print(f"{label}: " + verdict("Dice", per_seed("U-Net, Dice", part, "miou"),
                                "cross-entropy", per_seed("U-Net", part, "miou")))

# %% [markdown]
# ## Try it on real photos (optional)
#
# `visioncourse.data.real.load` returns real photos in exactly the format of `generate(...)`,
# `semantic` maps included, so the code of this chapter runs on them by changing the line
# that makes the data. Here: the Oxford-IIIT Pet dataset, whose trimaps give a pet/background
# map per photo. The cell takes the U-Net trained above on shapes (seed 0), gives it a new
# head for two classes (pet, background), fine-tunes it for `S.photo_steps` steps on 64×64
# training photos, and scores it on test photos against a model that says "background"
# everywhere. It only runs if the data is on your machine
# (`python -m visioncourse.data.real oxford_pets`, which needs internet once).

# %%
import copy

from visioncourse.data import real

if real.is_available("oxford_pets"):
    photos = real.load("oxford_pets", split="train", image_size=64, limit=S.photos)  # instead of generate(...)
    photo_test = real.load("oxford_pets", split="test", image_size=64, limit=S.test_scenes)
    # pet or background: the species is not this task
    photo_images, photo_masks = photos.images.to(rt.device), (photos.semantic > 0).long().to(rt.device)
    torch.manual_seed(0)  # the new head's initial weights
    tuned = copy.deepcopy(models["U-Net"])
    tuned.head = nn.Conv2d(tuned.head.in_channels, 2, 1).to(rt.device)  # a new head for two classes

    def photo_batches(step):
        idx = torch.randint(0, len(photo_images), (S.batch,), generator=torch.Generator().manual_seed(step))
        return photo_images[idx.to(rt.device)], photo_masks[idx.to(rt.device)]

    h = fit(tuned, photo_batches, F.cross_entropy, S.photo_steps, lr=1e-3, desc="U-Net on pets")
    pred = predict(tuned, photo_test.images.to(rt.device))
    truth = (photo_test.semantic > 0).long().to(rt.device)
    tuned_scores = segmentation_scores(confusion_matrix(pred, truth, 2))
    background_scores = segmentation_scores(confusion_matrix(torch.zeros_like(truth), truth, 2))
    print(f"{len(photos)} training photos, {S.photo_steps} steps in {h.seconds:.0f} s; "
          f"{len(photo_test)} test photos:")
    for name, sc in (("fine-tuned U-Net", tuned_scores), ('"background" everywhere', background_scores)):
        print(f"  {name:24s} pixel accuracy {sc['pixel_accuracy']:.3f}, mIoU {sc['miou']:.3f}, "
              f"pet IoU {sc['iou'][1]:.3f}")
    fig, axes = plt.subplots(3, 4, figsize=(8, 6.3))
    for i in range(4):
        axes[0, i].imshow(to_numpy_image(photo_test.images[i]))
        axes[1, i].imshow(truth[i].cpu(), cmap="gray"), axes[2, i].imshow(pred[i].cpu(), cmap="gray")
    for ax, title in zip(axes[:, 0], ("photo", "pet (target)", "prediction")):
        ax.set_title(title, loc="left", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    plt.show()
else:
    print(real.missing_message("oxford_pets"))

# %% [markdown]
# ## Takeaways
#
# - Classifying a window around every pixel works but repeats almost all of its work; the same
#   layers run once over the image give identical scores, far faster.
# - Seeing enough context at full resolution is expensive, so segmentation networks
#   **downsample then upsample** inside the network.
# - Upsampling: nearest and bilinear (fixed), max-unpooling with the pooling indices (puts
#   values back where they came from), transposed convolution (learned; the transpose of a
#   strided convolution's matrix). Kernel sizes not divisible by the stride leave a
#   **checkerboard**; resize-then-convolve avoids it.
# - **Skip connections** (U-Net) hand the decoder the encoder's fine detail. Measured above
#   over seeds, on the whole image and on the boundary band; read the verdicts, the spread,
#   and the count of seeds that had not learned a class, before crediting the boundaries.
# - Report **mIoU** (per-class IoU averaged, absent classes left out), not only pixel
#   accuracy, which the background dominates; Dice is the per-class F1.
# - Cross-entropy and the Dice loss both train a good U-Net here (see the verdict above for
#   whether the seeds separate them); Dice targets the overlap score directly and does not
#   depend on class sizes.
#
# ## Further reading
# - Long, Shelhamer & Darrell (2015), *Fully Convolutional Networks for Semantic Segmentation*.
# - Noh, Hong & Han (2015), *Learning Deconvolution Network for Semantic Segmentation*.
# - Badrinarayanan, Kendall & Cipolla (2016), *SegNet: A Deep Convolutional Encoder-Decoder
#   Architecture for Image Segmentation* — unpooling with indices.
# - Ronneberger, Fischer & Brox (2015), *U-Net: Convolutional Networks for Biomedical Image
#   Segmentation*.
# - Odena, Dumoulin & Olah (2016), *Deconvolution and Checkerboard Artifacts* (Distill).
# - Milletari, Navab & Ahmadi (2016), *V-Net* — the Dice loss.
# - Berman, Rannen Triki & Blaschko (2018), *The Lovász-Softmax Loss: A Tractable Surrogate
#   for the Optimization of the Intersection-over-Union Measure in Neural Networks* — a loss
#   that targets the IoU itself.
# - Farabet, Couprie, Najman & LeCun (2013); Pinheiro & Collobert (2014) — per-pixel
#   classification with windows.
