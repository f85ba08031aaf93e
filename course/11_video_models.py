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
# name: 11_video_models
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
# # Chapter 11 — Video models
#
# **What you will learn**
# - why a video classifier must see the **order** of its frames: classes defined by motion,
#   where a clip played backwards belongs to another class;
# - **late fusion** (a 2D network per frame, pooled over time) and **early fusion** (the
#   frames stacked as channels), and what each can and cannot see;
# - the **3D convolution**, written from 2D ones; its temporal receptive field, parameters and
#   FLOPs;
# - the **(2+1)D** factorisation (Tran et al., 2018) at an equal parameter count;
# - **SlowFast** (Feichtenhofer et al., 2019): two frame rates and a lateral connection;
# - **I3D inflation** (Carreira & Zisserman, 2017): a 2D network turned into a 3D one that
#   sees a still video exactly as the 2D one sees its frame — and whether that start helps;
# - what a video model costs: accuracy, parameters, FLOPs, activation memory and latency in
#   one table, with torchvision's `r3d_18` and `r2plus1d_18` beside ours.
#
# **Lectures:** "Vision beyond classification" (videos: 3D convolutions, SlowFast, inflating
# 2D kernels, the efficiency of video models) and "Structured deep learning for visual
# localization and recognition" (action recognition). Chapter 08 met video classification as
# a many-to-one problem; chapter 12 adds optical flow.
#
# **Run time:** about 75 seconds in fast mode on 2 CPU cores; a few minutes in full mode on a
# GPU.

# %%
# Setup: works locally (after `make lab`) and on Colab, where its first run fetches and
# installs the course. Safe to run again, and after Colab's "Restart session".
import importlib.util
import os
import subprocess
import sys

COURSE_REPO = "https://github.com/vision-beyond-classification/course"
CHAPTER = "11_video_models"
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

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from visioncourse import figures, video
from visioncourse.data import ShapesConfig, generate
from visioncourse.data.motion import MOTION_CLASSES, MotionConfig, generate_clips
from visioncourse.exercises import use_or_reference
from visioncourse.metrics import mean_std
from visioncourse.metrics import verdict as seed_verdict
from visioncourse.train import fit, timer
from visioncourse.viz import show_images

S = sizes(
    fast=dict(train_clips=3000, test_clips=1000, steps=100, batch=32, seeds=3, still_images=3000, still_steps=200,
              production_seeds=0),
    full=dict(train_clips=12000, test_clips=2000, steps=400, batch=64, seeds=5, still_images=10000, still_steps=400,
              production_seeds=1),
    mode=rt.mode,
)
S

# %% [markdown]
# ## 1. Clips that only motion can tell apart
#
# The moving shapes world (`visioncourse.data.motion`) makes clips of T = 8 frames, 32 × 32
# pixels. One object, the **actor**, moves left, right, up or down at 0.75–1.5 pixels per
# frame, or grows (approaching) or shrinks (receding); two **distractors** drift slowly in
# random directions, over a textured background, with pixel noise. The label is the actor's
# motion.
#
# Every class has an opposite, and a clip played backwards *is* a clip of the opposite class:
# the same eight frames, in the other order. So the **set** of frames says nothing about the
# class; only their **order** does. This is the property real action classes have in part
# ("opening a door" against "closing a door") and that the shapes world has by construction.

# %%
WORLD = MotionConfig(distractors=2, min_speed=0.75, max_speed=1.5, noise=0.05)
train = generate_clips(S.train_clips, WORLD, seed=0, device=rt.device)
test = generate_clips(S.test_clips, WORLD, seed=1, device=rt.device)
print(f"train clips {tuple(train.clips.shape)} (N, T, C, H, W); test clips {tuple(test.clips.shape)}")
print("classes:", ", ".join(f"{i} {name}" for i, name in enumerate(MOTION_CLASSES)))
first_of_class = torch.stack([(test.labels == c).nonzero()[0, 0] for c in range(len(MOTION_CLASSES))])
show_images(test.clips[first_of_class].flatten(0, 1).cpu(), ncols=8, size=1.1,
            titles=[f"{MOTION_CLASSES[c]}  t={t}" if t == 0 else f"t={t}" for c in range(len(MOTION_CLASSES)) for t in range(WORLD.frames)])
plt.show()

# %%
backwards = test.reversed()
i = first_of_class[1].item()  # a "right" clip
print(f"clip {i}: {MOTION_CLASSES[test.labels[i]]}; played backwards: {MOTION_CLASSES[backwards.labels[i]]}")
print("the backwards clip holds the same frames in the other order:",
      torch.equal(backwards.clips[i], test.clips[i].flip(0)))


def show_clip(motion="right", example=0, played_backwards=False):
    clips = backwards if played_backwards else test
    index = (test.labels == MOTION_CLASSES.index(motion)).nonzero()[example, 0].item()
    show_images(clips.clips[index].cpu(), ncols=8, size=1.3,
                titles=[f"t={t}" for t in range(WORLD.frames)])
    plt.suptitle(f"label: {MOTION_CLASSES[clips.labels[index]]}", fontsize=10)
    plt.show()


_ = widgets.interact(show_clip, motion=list(MOTION_CLASSES), example=widgets.IntSlider(0, 0, 9),
                     played_backwards=False)

# %% [markdown]
# ## 2. Late and early fusion
#
# The first video networks reused image networks, and the question was where the frames
# should meet. Karpathy et al. (2014) compared single-frame, early, late and "slow" fusion;
# we use three versions of the idea. **Late fusion** here runs one 2D network on every frame
# (shared weights) and pools the per-frame features over time at the end (Karpathy et al.'s
# late fusion merged two towers 15 frames apart in a fully connected layer; pooling over all
# frames is the "conv pooling" of Ng et al., 2015). **Early fusion** stacks all T frames as
# the 3·T channels of the first layer, after which the network is 2D. A **3D network**
# (section 3) convolves over time in every layer, close to their slow fusion.

# %%
figures.video_fusion()
plt.show()

# %% [raw]
# # BEGIN QUESTION
# name: ex11_1
# points: 1

# %% [markdown]
# **Exercise 11.1 — late fusion.** Complete `pool_over_time(cnn, clips, mode)`:
#
# - `cnn` maps a batch of frames `(B, C, H, W)` to features `(B, D)`;
# - `clips (Tensor[N, T, C, H, W])`;
# - return `(N, D)`: the features of each clip's T frames, averaged over time (`mode="avg"`)
#   or their maximum (`mode="max"`).
#
# Run `cnn` **once**, on all N·T frames as one batch (no loop over frames or clips), and make
# sure each clip pools its own frames.

# %% [raw]
# # BEGIN SOLUTION


# %%
def pool_over_time(cnn, clips, mode="avg"):
    # BEGIN SOLUTION
    n, t = clips.shape[:2]
    features = cnn(clips.flatten(0, 1)).view(n, t, -1)
    return features.mean(1) if mode == "avg" else features.amax(1)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_pool_over_time_constant_frames(pool_over_time):
    import torch

    from visioncourse.exercises import expect_close

    # clip 0's frames have the values 0, 1, 2; clip 1's 3, 4, 5; the "cnn" reads a frame's mean
    clips = torch.arange(6.0).view(2, 3, 1, 1, 1).expand(2, 3, 1, 2, 2)
    mean_pixel = lambda x: x.mean((1, 2, 3))[:, None]
    expect_close("Exercise 11.1 (pool_over_time)", pool_over_time(mean_pixel, clips, "avg"), torch.tensor([[1.0], [4.0]]),
                 inputs="2 clips of 3 frames valued 0, 1, 2 and 3, 4, 5; mode 'avg'",
                 hint="flatten (N, T) into one batch of N·T frames, then view the features as (N, T, D): the frames of a clip stay together")
    expect_close("Exercise 11.1 (pool_over_time)", pool_over_time(mean_pixel, clips, "max"), torch.tensor([[2.0], [5.0]]),
                 inputs="the same clips, mode 'max'", hint="the maximum over the time axis (dim 1 of (N, T, D))")


test_pool_over_time_constant_frames(pool_over_time)


# %%
def test_pool_over_time_features(pool_over_time):
    import torch

    from visioncourse.exercises import expect_close

    torch.manual_seed(0)
    cnn = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    clips = torch.randn(2, 5, 3, 6, 6)
    with torch.no_grad():
        per_frame = torch.stack([torch.stack([cnn(clips[n, t:t + 1])[0] for t in range(5)]) for n in range(2)])
        got = pool_over_time(cnn, clips, "avg")
    expect_close("Exercise 11.1 (pool_over_time)", got, per_frame.mean(1), atol=1e-5,
                 inputs="a small conv net with 4 features, 2 clips of 5 frames", hint="the result is (N, D): one feature vector per clip")


test_pool_over_time_features(pool_over_time)


# %%
# HIDDEN
def test_pool_over_time_one_call_and_one_frame(pool_over_time):
    import torch

    from visioncourse.exercises import expect_close, expect_equal

    calls = []

    def cnn(x):
        calls.append(len(x))
        return x.flatten(1)[:, :3] * 2

    clips = torch.randn(4, 6, 2, 3, 3)
    got = pool_over_time(cnn, clips, "max")
    expect_equal("Exercise 11.1 (pool_over_time)", calls, [24], inputs="4 clips of 6 frames",
                 hint="call cnn once, on all 24 frames")
    expect_close("Exercise 11.1 (pool_over_time)", got, (clips.flatten(2)[..., :3] * 2).amax(1), atol=1e-6,
                 inputs="4 clips of 6 frames, mode 'max'", hint="maximum over time")
    one = torch.randn(3, 1, 2, 3, 3)
    expect_close("Exercise 11.1 (pool_over_time)", pool_over_time(lambda x: x.flatten(1), one, "avg"), one.flatten(2)[:, 0], atol=1e-6,
                 inputs="clips of a single frame", hint="T = 1: the pooled features are that frame's")


test_pool_over_time_one_call_and_one_frame(pool_over_time)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The networks. Every model in this chapter has the same plan: a 3 × 3 layer with stride 2,
# a 2 × 2 max-pool, two more 3 × 3 layers (16, 32 and 32 channels, each with BatchNorm and
# ReLU), a global average and a linear classifier. The 2D version is `video.FrameCNN`; late
# fusion runs it on every frame through your `pool_over_time`; early fusion widens its first
# layer to 3·T input channels.

# %%
pool_fn = use_or_reference("Exercise 11.1", "pool_over_time", video.pool_over_time,
                           lambda x: x.flatten(1)[:, :4], torch.randn(2, 3, 3, 4, 4),
                           adapt=lambda fn: lambda cnn, clips: torch.stack((fn(cnn, clips, "avg"), fn(cnn, clips, "max"))))
WIDTH, CLASSES = 16, len(MOTION_CLASSES)  # FrameCNN's defaults


FrameCNN = video.FrameCNN  # the 2D network, kept in the course library: chapter 12 uses it too
print(FrameCNN())


class LateFusion(nn.Module):
    def __init__(self, mode="avg"):
        super().__init__()
        self.cnn, self.mode = FrameCNN(), mode

    def forward(self, clips):  # (N, T, C, H, W)
        return self.cnn.head(pool_fn(self.cnn.features, clips, self.mode))


class EarlyFusion(nn.Module):
    def __init__(self, frames=WORLD.frames):
        super().__init__()
        self.cnn = FrameCNN(in_channels=3 * frames)

    def forward(self, clips):
        return self.cnn(clips.flatten(1, 2))  # (N, T·C, H, W): time becomes channels


# %% [markdown]
# Every model trains on the same batches at a given seed (`S.batch` clips per step, AdamW
# with a one-cycle schedule, `S.steps` steps), and is scored on the held-out test clips.
# Results are kept per (model, seed) for the table of section 6. Late fusion is trained with
# both poolings of your exercise.

# %%
def clip_batches(seed):
    g = torch.Generator().manual_seed(seed)

    def batch(step):
        idx = torch.randint(len(train), (S.batch,), generator=g).to(rt.device)
        return train.clips[idx], train.labels[idx]
    return batch


@torch.no_grad()
def predict(model, clips, chunk=500):
    return torch.cat([model(clips[i:i + chunk]).argmax(1) for i in range(0, len(clips), chunk)])


def accuracy(model, clips=None, labels=None):
    clips, labels = (test.clips, test.labels) if clips is None else (clips, labels)
    return (predict(model, clips) == labels).float().mean().item()


MODELS = {}                 # name -> a function that builds a fresh model
accuracies, histories, trained = {}, {}, {}


def train_model(name, seed, make=None):
    torch.manual_seed(seed)
    model = (make or MODELS[name])().to(rt.device)
    histories[name, seed] = fit(model, clip_batches(seed), F.cross_entropy, S.steps, lr=3e-3, amp=True,
                                desc=f"{name}, seed {seed}", progress=False)
    accuracies[name, seed] = accuracy(model)
    trained[name, seed] = model
    return model


def per_seed(name):
    return [accuracies[name, s] for s in range(S.seeds)]


def verdict(a, b):
    """A verdict on test accuracy only where the per-seed values do not overlap."""
    return seed_verdict(a, per_seed(a), b, per_seed(b))


MODELS.update({"late fusion (avg)": LateFusion, "late fusion (max)": lambda: LateFusion("max"), "early fusion": EarlyFusion})
for name in MODELS:
    for seed in range(S.seeds):
        train_model(name, seed)
    print(f"{name:18s} test accuracy {mean_std(per_seed(name), 3)} over {S.seeds} seeds "
          f"(per seed: {', '.join(f'{a:.3f}' for a in per_seed(name))}); chance {1 / CLASSES:.3f}")

# %% [markdown]
# Why late fusion fails here is, in part, built in. Averaging (or taking the maximum) over
# time gives the same result for any order of the frames, so the network returns the *same*
# scores for a clip and its time-reversal — which belongs to the opposite class. Count how
# often each model's prediction on a clip equals its prediction on the reversed clip, and
# how often it gets at least the **axis** right (horizontal, vertical or size: the class or
# its opposite):

# %%
from visioncourse.data.motion import OPPOSITE

for name in ("late fusion (avg)", "late fusion (max)", "early fusion"):
    same, axis = [], []
    for s in range(S.seeds):
        pred = predict(trained[name, s], test.clips)
        same.append((pred == predict(trained[name, s], backwards.clips)).float().mean().item())
        axis.append(((pred == test.labels) | (pred == OPPOSITE.to(pred.device)[test.labels])).float().mean().item())
    print(f"{name:18s} same class for a clip and its reversal: {mean_std(same, 3)} of the test clips;   "
          f"axis right: {mean_std(axis, 3)} (chance 0.333)")

# %% [markdown]
# An order-blind model answers the same for each pair of opposite classes, so the best it
# could ever do is 50 % — and only if the unordered frames gave away the *axis* of the
# motion. The axis column says how much of it these networks found: compare it with the
# 1/3 of guessing. Early fusion mixes the frames in its first layer, where a filter can
# respond to "bright at x in frame 1, bright at x + 1 in frame 2": it can see motion.

# %% [markdown]
# ## 3. 3D convolution
#
# A 3D convolution slides a `k_t × k_h × k_w` kernel over time as well as space (the
# lecture's "the kernel slides across spatial dimensions", with time as one more). For a clip
# `x` of shape `(N, C_in, T, H, W)` and weights `w` of shape `(C_out, C_in, k_t, k_h, k_w)`,
# output frame t is a sum over the temporal taps k of a 2D convolution:
#
# $$y[:, :, t] = \sum_{k=0}^{k_t - 1} \mathrm{conv2d}\big(x_{\text{padded}}[:, :, t \cdot s_t + k],\; w[:, :, k]\big) + b .$$
#
# Like `nn.Conv3d`, it is a cross-correlation: tap k meets frame `t·s_t + k` (no flipping).
# Strides, padding and dilation work as in 2D (the lecture: "strided, dilated, padded
# convolutions apply in 3D as well").

# %% [raw]
# # BEGIN QUESTION
# name: ex11_2
# points: 2

# %% [markdown]
# **Exercise 11.2 — a 3D convolution from 2D ones.** Complete
# `conv3d(input, weight, bias=None, stride=1, padding=0)`, equal to `F.conv3d`:
#
# - `input (Tensor[N, C_in, T, H, W])`, `weight (Tensor[C_out, C_in, kT, kH, kW])`,
#   `bias (Tensor[C_out] or None)`;
# - `stride` and `padding` are one int or a `(t, h, w)` tuple; padding adds zeros.
#
# Use `F.conv2d` for space (it takes the spatial stride and padding) and a loop over the
# `kT` temporal taps only: fold the output frames into the batch, so each tap is one
# `F.conv2d` call. `F.conv3d` itself is not allowed.

# %% [raw]
# # BEGIN SOLUTION


# %%
def conv3d(input, weight, bias=None, stride=1, padding=0):
    # BEGIN SOLUTION
    st, sh, sw = (stride,) * 3 if isinstance(stride, int) else stride
    pt, ph, pw = (padding,) * 3 if isinstance(padding, int) else padding
    n, c = input.shape[:2]
    kt = weight.shape[2]
    x = F.pad(input, (0, 0, 0, 0, pt, pt))
    t_out = (x.shape[2] - kt) // st + 1
    out = 0
    for k in range(kt):
        frames = x[:, :, k:k + st * (t_out - 1) + 1:st]  # the frames tap k meets
        flat = frames.transpose(1, 2).reshape(n * t_out, c, *frames.shape[-2:])
        out = out + F.conv2d(flat, weight[:, :, k], stride=(sh, sw), padding=(ph, pw))
    out = out.view(n, t_out, *out.shape[1:]).transpose(1, 2)
    return out if bias is None else out + bias[None, :, None, None, None]
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_conv3d_two_taps_by_hand(conv3d):
    import torch

    from visioncourse.exercises import expect_close

    # three 1×1 frames valued 1, 2, 3; a 2-tap kernel (1, 10): frame t·1 + tap 1 gets weight 10
    x = torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 3, 1, 1)
    w = torch.tensor([1.0, 10.0]).view(1, 1, 2, 1, 1)
    expect_close("Exercise 11.2 (conv3d)", conv3d(x, w), torch.tensor([21.0, 32.0]).view(1, 1, 2, 1, 1),
                 inputs="frames 1, 2, 3; kernel taps (1, 10); no padding",
                 hint="a cross-correlation like F.conv3d: tap k meets frame t + k, the kernel is not flipped")


test_conv3d_two_taps_by_hand(conv3d)


# %%
def test_conv3d_equals_torch_padded(conv3d):
    import torch
    import torch.nn.functional as F

    from visioncourse.exercises import expect_close

    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(2, 3, 5, 6, 7, generator=g), torch.randn(4, 3, 3, 3, 3, generator=g), torch.randn(4, generator=g)
    want = F.conv3d(x, w, b, padding=1)

    def forbidden(*args, **kwargs):
        raise AssertionError("Exercise 11.2 (conv3d): the exercise is to build a 3D convolution from F.conv2d; "
                             "F.conv3d, torch.conv3d and nn.Conv3d are switched off while it is checked")
    saved = F.conv3d, torch.conv3d
    F.conv3d = torch.conv3d = forbidden
    try:
        got = conv3d(x, w, b, 1, 1)
    finally:
        F.conv3d, torch.conv3d = saved
    expect_close("Exercise 11.2 (conv3d)", got, want, atol=1e-4,
                 inputs="x (2, 3, 5, 6, 7), a 3×3×3 kernel with bias, padding 1",
                 hint="pad time with zeros yourself (F.pad); let F.conv2d pad and stride in space")


test_conv3d_equals_torch_padded(conv3d)


# %%
# HIDDEN
def test_conv3d_strides_and_tuples(conv3d):
    import torch
    import torch.nn.functional as F

    from visioncourse.exercises import expect_close

    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 2, 9, 8, 8, generator=g)
    for kernel, stride, padding in [((3, 3, 3), (2, 1, 1), (1, 1, 1)), ((5, 1, 1), (1, 2, 2), (2, 0, 0)),
                                    ((1, 3, 3), 2, (0, 1, 1)), ((2, 3, 3), (3, 1, 2), 0)]:
        w = torch.randn(3, 2, *kernel, generator=g)
        expect_close("Exercise 11.2 (conv3d)", conv3d(x, w, None, stride, padding), F.conv3d(x, w, None, stride, padding),
                     atol=1e-4, inputs=f"kernel {kernel}, stride {stride}, padding {padding}, no bias",
                     hint="output frame t starts at padded frame t·stride_t")


test_conv3d_strides_and_tuples(conv3d)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
conv3d_fn = use_or_reference("Exercise 11.2", "conv3d", video.conv3d, torch.randn(1, 2, 4, 5, 5),
                             torch.randn(3, 2, 3, 3, 3), torch.randn(3), 1, 1)
layer = nn.Conv3d(3, 16, 3, padding=1).to(rt.device)
x = train.clips[:4].transpose(1, 2)  # (N, C, T, H, W), the layout of nn.Conv3d
with torch.no_grad():
    print(f"yours against nn.Conv3d on 4 clips: max |difference| "
          f"{(conv3d_fn(x, layer.weight, layer.bias, 1, 1) - layer(x)).abs().max():.2e}")

# %% [markdown]
# **What a 3D layer costs.** Its weights are `C_out · C_in · k_t · k_h · k_w` (plus a bias),
# `k_t` times those of the 2D layer, and each output value costs one multiply-add per
# weight, for every output frame: FLOPs (a multiply-add counts 2) = 2 · weights ·
# `T_out · H_out · W_out`. Against PyTorch's own counter:

# %%
weights = 16 * 3 * 3 * 3 * 3
print(f"nn.Conv3d(3, 16, 3): {weights} weights + 16 biases = {sum(p.numel() for p in layer.parameters())} parameters")
print(f"FLOPs on one 8×32×32 clip: formula {2 * weights * 8 * 32 * 32:,}; "
      f"torch.utils.flop_counter {video.flops(layer, x[:1]):,} (it does not count the bias additions)")

# %% [markdown]
# **The temporal receptive field.** One output of a `k_t`-tap layer sees `k_t` frames; a stack
# of L such layers at temporal stride 1 sees `1 + L·(k_t − 1)` frames of the input. Check it by
# asking autograd which input frames the middle output frame depends on:

# %%
stack = nn.Sequential(*[nn.Conv3d(1, 1, (3, 1, 1), padding=(1, 0, 0)) for _ in range(3)])
probe = torch.randn(1, 1, 11, 1, 1, requires_grad=True)
stack(probe)[0, 0, 5].sum().backward()
reached = (probe.grad[0, 0, :, 0, 0] != 0).nonzero().flatten().tolist()
print(f"3 layers of 3 taps: the output at t=5 depends on input frames {reached} "
      f"({len(reached)} frames; formula 1 + 3·2 = 7)")

# %% [markdown]
# The 3D network of this chapter is `FrameCNN`'s plan with every 2D layer made 3D: 3 × 3 × 3
# kernels, stride 1 in time, and time kept by repeating the first and last frames
# (`video.pad_time`) rather than by zeros — the choice that section 7 needs. Three 3-tap
# layers see 7 of the 8 frames. `to_3d` builds it from a 2D network, layer by layer; with
# `inflate=None` the 3D kernels start from scratch.

# %%
class TimePad(nn.Module):
    """Repeat the first and last frames: (N, C, T, H, W) -> T + 2·amount."""

    def __init__(self, amount):
        super().__init__()
        self.amount = amount

    def forward(self, x):
        return video.pad_time(x, self.amount)


def to_3d(cnn, inflate=None, time=3):
    """The 3D network with the 2D network's plan: Conv2d -> TimePad + Conv3d (inflated from the
    2D kernel by `inflate`, or new), BatchNorm2d -> BatchNorm3d (with the 2D statistics when
    inflating), pooling over space only, the same head."""
    layers = []
    for layer in cnn.features:
        if isinstance(layer, nn.Conv2d):
            if inflate is None:
                conv = nn.Conv3d(layer.in_channels, layer.out_channels, (time, *layer.kernel_size),
                                 stride=(1, *layer.stride), padding=(0, *layer.padding), bias=layer.bias is not None)
            else:
                conv = inflate(layer, time)
            layers += [TimePad(time // 2), conv]
        elif isinstance(layer, nn.BatchNorm2d):
            norm = nn.BatchNorm3d(layer.num_features)
            if inflate is not None:
                norm.load_state_dict(layer.state_dict())
            layers.append(norm)
        elif isinstance(layer, nn.MaxPool2d):
            layers.append(nn.MaxPool3d((1, layer.kernel_size, layer.kernel_size)))
        elif isinstance(layer, nn.AdaptiveAvgPool2d):
            layers.append(nn.AdaptiveAvgPool3d(1))
        else:  # ReLU, Flatten
            layers.append(copy.deepcopy(layer))
    return VideoNet(nn.Sequential(*layers), copy.deepcopy(cnn.head)).to(cnn.head.weight.device)


class VideoNet(nn.Module):
    """A 3D feature extractor and a head; takes the shapes world's (N, T, C, H, W) clips."""

    def __init__(self, features, head):
        super().__init__()
        self.features, self.head = features, head

    def forward(self, clips):
        return self.head(self.features(clips.transpose(1, 2)))


print(to_3d(FrameCNN()).features)

# %% [markdown]
# ## 4. (2+1)D: space, then time
#
# Tran et al. (2018) split every `t × d × d` convolution into a **spatial** `1 × d × d`
# convolution to M channels, a BatchNorm and ReLU, then a **temporal** `t × 1 × 1` convolution.
# To compare it fairly with the full 3D layer they choose M so that the two convolutions
# together have (about) as many weights as the full one, from `N_in` to `N_out` channels.
#
# What the factorisation buys is a second non-linearity in every block (twice as many ReLUs
# at the same size) and, the paper argues, an easier optimisation. torchvision builds its
# `r2plus1d_18` from this block (`Conv2Plus1D`, with M called `midplanes`).

# %%
figures.conv3d_and_2plus1d()
plt.show()

# %% [raw]
# # BEGIN QUESTION
# name: ex11_3
# points: 1

# %% [markdown]
# **Exercise 11.3 — the (2+1)D block.** Complete `conv2plus1d(in_channels, out_channels,
# spatial_stride=1)` for t = d = 3.
#
# - **M**: count the weights of the full `3 × 3 × 3` convolution and of the two factorised
#   ones (no biases) as functions of `N_in`, `N_out` and M; take the **largest whole M** for
#   which the factorised pair has no more weights than the full convolution.
# - Return an `nn.Sequential` of four layers in this order: the spatial `nn.Conv3d` to M
#   channels (stride `spatial_stride` in H and W only), `nn.BatchNorm3d(M)`,
#   `nn.ReLU(inplace=True)`, the temporal `nn.Conv3d` to `out_channels`; no biases; padding
#   that keeps T (and H, W at stride 1). Its layers then have the names and shapes of
#   torchvision's `Conv2Plus1D`, so the two can exchange weights.

# %% [raw]
# # BEGIN SOLUTION


# %%
def conv2plus1d(in_channels, out_channels, spatial_stride=1):
    # BEGIN SOLUTION
    mid = (3 * 9 * in_channels * out_channels) // (9 * in_channels + 3 * out_channels)
    s = spatial_stride
    return nn.Sequential(
        nn.Conv3d(in_channels, mid, (1, 3, 3), stride=(1, s, s), padding=(0, 1, 1), bias=False),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, out_channels, (3, 1, 1), padding=(1, 0, 0), bias=False),
    )
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_conv2plus1d_parameter_count(conv2plus1d):
    import torch

    from visioncourse.exercises import expect_equal

    block = conv2plus1d(64, 128)
    expect_equal("Exercise 11.3 (conv2plus1d)", type(block).__name__, "Sequential", inputs="64 -> 128 channels",
                 hint="return nn.Sequential(spatial conv, BatchNorm3d, ReLU, temporal conv)")
    count = sum(p.numel() for p in block.parameters())
    full = sum(p.numel() for p in torch.nn.Conv3d(64, 128, 3, bias=False).parameters())
    # the two convs' weights plus BatchNorm's 2·M parameters
    expect_equal("Exercise 11.3 (conv2plus1d)", count, 221_260,
                 inputs=f"64 -> 128 channels (the full 3×3×3 conv has {full:,} weights)",
                 hint="the spatial conv has N_in·M·9 weights, the temporal one M·N_out·3; no biases")
    expect_equal("Exercise 11.3 (conv2plus1d)", conv2plus1d(16, 32)[0].out_channels, 57,
                 inputs="16 -> 32 channels: M·(16·9 + 3·32) must not exceed 16·32·27 = 13,824",
                 hint="the largest whole M: round down, never up")


test_conv2plus1d_parameter_count(conv2plus1d)


# %%
def test_conv2plus1d_loads_torchvision(conv2plus1d):
    import torch
    from torchvision.models.video.resnet import Conv2Plus1D

    from visioncourse import video
    from visioncourse.exercises import expect_close, expect_equal, feedback

    torch.manual_seed(0)
    ours = conv2plus1d(6, 10)
    expect_equal("Exercise 11.3 (conv2plus1d)", type(ours).__name__, "Sequential", inputs="6 -> 10 channels",
                 hint="return nn.Sequential(spatial conv, BatchNorm3d, ReLU, temporal conv)")
    theirs = Conv2Plus1D(6, 10, video.conv2plus1d_mid_channels(6, 10))
    try:
        ours.load_state_dict(theirs.state_dict())
    except (RuntimeError, AttributeError) as err:
        raise AssertionError(feedback("Exercise 11.3 (conv2plus1d)", "torchvision's Conv2Plus1D weights do not fit your block",
                                      inputs="6 -> 10 channels", got=str(err)[:300],
                                      hint="four layers: spatial conv, BatchNorm3d, ReLU, temporal conv; no biases")) from None
    x = torch.randn(2, 6, 5, 7, 7)
    ours.eval(), theirs.eval()
    expect_close("Exercise 11.3 (conv2plus1d)", ours(x), theirs(x), atol=1e-5, inputs="x (2, 6, 5, 7, 7), torchvision's weights",
                 hint="padding (0, 1, 1) for the spatial conv and (1, 0, 0) for the temporal one keep T, H and W")


test_conv2plus1d_loads_torchvision(conv2plus1d)


# %%
# HIDDEN
def test_conv2plus1d_stride_and_small_widths(conv2plus1d):
    import torch

    from visioncourse.exercises import expect_equal

    block = conv2plus1d(3, 16, spatial_stride=2)
    expect_equal("Exercise 11.3 (conv2plus1d)", type(block).__name__, "Sequential", inputs="3 -> 16 channels", hint="return the nn.Sequential")
    expect_equal("Exercise 11.3 (conv2plus1d)", tuple(block(torch.randn(1, 3, 8, 32, 32)).shape), (1, 16, 8, 16, 16),
                 inputs="3 -> 16 channels, spatial_stride 2, an 8×32×32 clip", hint="stride the spatial conv in H and W only")
    expect_equal("Exercise 11.3 (conv2plus1d)", block[0].out_channels, (27 * 3 * 16) // (27 + 48),
                 inputs="3 -> 16 channels", hint="integer division (floor)")
    expect_equal("Exercise 11.3 (conv2plus1d)", block[3].out_channels, 16, inputs="3 -> 16 channels", hint="the temporal conv ends at out_channels")


test_conv2plus1d_stride_and_small_widths(conv2plus1d)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The (2+1)D network replaces each 3 × 3 × 3 layer of the 3D network by your block (the
# first one with spatial stride 2), followed by BatchNorm and ReLU. At the same widths it has
# about the same number of parameters:

# %%
block_fn = use_or_reference("Exercise 11.3", "conv2plus1d", video.conv2plus1d, 4, 8, 2,
                            adapt=lambda fn: lambda *a: torch.tensor([p.numel() for p in fn(*a).parameters()]
                                                                     + list(fn(*a)(torch.zeros(1, 4, 3, 8, 8)).shape)))


class R2plus1D(nn.Module):
    def __init__(self, w=WIDTH):
        super().__init__()

        def block(c_in, c_out, stride=1):
            return [block_fn(c_in, c_out, stride), nn.BatchNorm3d(c_out), nn.ReLU()]
        self.features = nn.Sequential(*block(3, w, 2), nn.MaxPool3d((1, 2, 2)), *block(w, 2 * w), *block(2 * w, 2 * w),
                                      nn.AdaptiveAvgPool3d(1), nn.Flatten())
        self.head = nn.Linear(2 * w, CLASSES)

    def forward(self, clips):
        return self.head(self.features(clips.transpose(1, 2)))


def parameters(model):
    return sum(p.numel() for p in model.parameters())


print(f"3D network {parameters(to_3d(FrameCNN())):,} parameters; (2+1)D network {parameters(R2plus1D()):,}; "
      f"the 2D FrameCNN {parameters(FrameCNN()):,}")

# %% [markdown]
# ## 5. SlowFast: two frame rates
#
# Feichtenhofer et al. (2019) note that what things are changes slowly in a video, and how
# they move can change fast. **SlowFast** runs two pathways on one clip: a **slow** one on
# every α-th frame (α = 8 in the paper, 4 here) with many channels, for appearance, and a
# **fast** one on every frame with a fraction β of the channels (β = 1/8 there, 1/4 here),
# for motion; the fast pathway is cheap because it is thin. After each stage a **lateral
# connection** brings the fast features into the slow pathway — but the fast pathway has α
# times more frames, so they must first be matched in time. The simplest of the paper's three
# options is **time-to-channel**: the α fast frames that fall in one slow step are stacked
# into channels.

# %%
figures.slowfast()
plt.show()

# %% [raw]
# # BEGIN QUESTION
# name: ex11_4
# points: 1

# %% [markdown]
# **Exercise 11.4 — time-to-channel.** Complete `time_to_channel(fast, alpha)`:
# `fast (Tensor[N, C, α·T, H, W])` → `(N, α·C, T, H, W)` where channel `j·C + c` of slow step
# `t` is channel `c` of fast frame `t·α + j` (j = 0 … α−1). No loops: `view`, `permute`,
# `reshape` — and think about which axes must be neighbours before the last `reshape`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def time_to_channel(fast, alpha):
    # BEGIN SOLUTION
    n, c, ft, h, w = fast.shape
    return fast.view(n, c, ft // alpha, alpha, h, w).permute(0, 3, 1, 2, 4, 5).reshape(n, alpha * c, ft // alpha, h, w)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_time_to_channel_one_channel(time_to_channel):
    import torch

    from visioncourse.exercises import expect_equal

    fast = torch.arange(4.0).view(1, 1, 4, 1, 1)  # fast frames 0, 1, 2, 3
    # slow step 0 holds fast frames 0, 1 as channels 0, 1; slow step 1 holds frames 2, 3
    expect_equal("Exercise 11.4 (time_to_channel)", time_to_channel(fast, 2), torch.tensor([[0.0, 2.0], [1.0, 3.0]]).view(1, 2, 2, 1, 1),
                 inputs="1 channel, fast frames 0..3, alpha 2 -> (1, 2, 2, 1, 1): [[channel 0 at t=0, t=1], [channel 1 at t=0, t=1]]",
                 hint="channel j of slow step t is fast frame t·alpha + j; a plain view would give frames 0, 1 to channel 0")


test_time_to_channel_one_channel(time_to_channel)


# %%
def test_time_to_channel_channel_order(time_to_channel):
    import torch

    from visioncourse.exercises import expect_equal

    # 2 channels: channel c of fast frame f holds 10·c + f
    fast = (10 * torch.arange(2.0)[:, None] + torch.arange(4.0)).view(1, 2, 4, 1, 1)
    want = torch.tensor([[0.0, 2.0], [10.0, 12.0], [1.0, 3.0], [11.0, 13.0]]).view(1, 4, 2, 1, 1)
    expect_equal("Exercise 11.4 (time_to_channel)", time_to_channel(fast, 2), want,
                 inputs="2 channels (value 10·c + frame), alpha 2 -> (1, 4, 2, 1, 1)",
                 hint="channel j·C + c: all C channels of fast frame 0 first, then those of frame 1")


test_time_to_channel_channel_order(time_to_channel)


# %%
# HIDDEN
def test_time_to_channel_general(time_to_channel):
    import torch

    from visioncourse.exercises import expect_equal

    g = torch.Generator().manual_seed(0)
    fast = torch.randn(2, 3, 12, 4, 5, generator=g)
    want = torch.cat([torch.stack([fast[:, :, t * 4 + j] for t in range(3)], 2) for j in range(4)], 1)
    expect_equal("Exercise 11.4 (time_to_channel)", time_to_channel(fast, 4), want,
                 inputs="(2, 3, 12, 4, 5), alpha 4", hint="the definition, for every N, H and W")
    expect_equal("Exercise 11.4 (time_to_channel)", time_to_channel(fast, 1), fast, inputs="alpha 1", hint="alpha = 1 changes nothing")


test_time_to_channel_general(time_to_channel)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Our SlowFast has three stages like the other networks. The slow pathway (16, 32, 32
# channels, 2 of the 8 frames) uses 1 × 3 × 3 kernels in its first two stages, as the paper
# does in its early stages, where the paper found temporal kernels hurt accuracy; the fast pathway (4, 8, 8
# channels, all 8 frames) uses 3 × 3 × 3 kernels throughout. After stages 1 and 2 your
# `time_to_channel` turns the fast features into α = 4 times their channels at the slow frame
# rate, and they are concatenated to the slow features. With those extra input channels it
# has more parameters than the 3D network (printed below). Which fast frame goes to which
# channel block is a convention: the layer that follows learns whatever order it is given,
# as long as it is always the same; the tests pin the one above.

# %%
t2c_fn = use_or_reference("Exercise 11.4", "time_to_channel", video.time_to_channel, torch.arange(24.0).view(1, 2, 4, 3, 1), 2)


def conv3d_block(c_in, c_out, time=3, stride=1):
    pad = [TimePad(time // 2)] if time > 1 else []
    return pad + [nn.Conv3d(c_in, c_out, (time, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False),
                  nn.BatchNorm3d(c_out), nn.ReLU()]


class SlowFast(nn.Module):
    def __init__(self, alpha=4, w=WIDTH, fast_w=WIDTH // 4):
        super().__init__()
        self.alpha = alpha
        self.slow = nn.ModuleList([nn.Sequential(*conv3d_block(3, w, time=1, stride=2), nn.MaxPool3d((1, 2, 2))),
                                   nn.Sequential(*conv3d_block(w + alpha * fast_w, 2 * w, time=1)),
                                   nn.Sequential(*conv3d_block(2 * w + alpha * 2 * fast_w, 2 * w))])
        self.fast = nn.ModuleList([nn.Sequential(*conv3d_block(3, fast_w, stride=2), nn.MaxPool3d((1, 2, 2))),
                                   nn.Sequential(*conv3d_block(fast_w, 2 * fast_w)),
                                   nn.Sequential(*conv3d_block(2 * fast_w, 2 * fast_w))])
        self.head = nn.Linear(2 * w + 2 * fast_w, CLASSES)

    def forward(self, clips):
        x = clips.transpose(1, 2)
        slow, fast = x[:, :, ::self.alpha], x  # every alpha-th frame; every frame
        for stage, (slow_stage, fast_stage) in enumerate(zip(self.slow, self.fast)):
            slow, fast = slow_stage(slow), fast_stage(fast)
            if stage < 2:  # the lateral connections, fast -> slow
                slow = torch.cat((slow, t2c_fn(fast, self.alpha)), 1)
        return self.head(torch.cat((slow.mean((2, 3, 4)), fast.mean((2, 3, 4))), 1))


print(f"SlowFast: {parameters(SlowFast()):,} parameters")

# %% [markdown]
# ## 6. The experiment: who sees motion, and at what cost
#
# Now the 3D network (`to_3d(FrameCNN())`), the (2+1)D network and SlowFast, trained exactly
# like the two fusion models — the same batches, steps and schedule for every model at each
# seed. The table adds what each model costs per clip: parameters, FLOPs of one forward pass
# (`torch.utils.flop_counter`), the **activation memory** a training step keeps for the
# backward pass, and the **latency** of a forward pass in batches of 16 on this machine —
# the lecture's list of video's challenges: "large memory requirements, high latency".
# torchvision's `r3d_18` and `r2plus1d_18` (18-layer ResNets, 3D and (2+1)D; `weights=None`)
# are the production rows.

# %%
MODELS.update({"3D": lambda: to_3d(FrameCNN()), "(2+1)D": R2plus1D, "SlowFast": SlowFast})
for name in ("3D", "(2+1)D", "SlowFast"):
    for seed in range(S.seeds):
        train_model(name, seed)
    print(f"{name:8s} test accuracy {mean_std(per_seed(name), 3)} (per seed: {', '.join(f'{a:.3f}' for a in per_seed(name))})")

# %%
from torchvision.models.video import r2plus1d_18, r3d_18


class Torchvision(nn.Module):
    """A torchvision video model on the shapes world's (N, T, C, H, W) clips."""

    def __init__(self, build):
        super().__init__()
        self.net = build(weights=None, num_classes=CLASSES)

    def forward(self, clips):
        return self.net(clips.transpose(1, 2))


PRODUCTION = {"torchvision r3d_18": lambda: Torchvision(r3d_18), "torchvision r2plus1d_18": lambda: Torchvision(r2plus1d_18)}
for name, make in PRODUCTION.items():  # 33 and 31 million parameters: trained in full mode only
    for seed in range(S.production_seeds):
        train_model(name, seed, make)


def costs(model, batch=16):
    model = copy.deepcopy(model).to(rt.device)
    clips = test.clips[:batch]
    flop = video.flops(model.eval(), clips[:1])
    memory = video.saved_activation_bytes(model.train(), clips[:2]) / 2  # train mode: what backprop keeps
    model.eval()
    with torch.no_grad():
        model(clips)  # warm-up
        best = float("inf")
        for _ in range(3):
            with timer() as t:
                model(clips)
            best = min(best, t.seconds)
    return {"params": parameters(model), "MFLOPs": flop / 1e6, "act. MB": memory / 2**20, "ms": 1000 * best / batch}


builders = {**MODELS, **PRODUCTION}
rows = {name: costs(trained[name, 0] if (name, 0) in trained else make()) for name, make in builders.items()}
print(f"{'model':24s}{'test accuracy':>16s}{'parameters':>12s}{'MFLOPs/clip':>13s}{'act. MB/clip':>14s}{'ms/clip':>9s}")
for name, row in rows.items():
    done = [accuracies[name, s] for s in range(S.seeds) if (name, s) in accuracies]
    acc = "not trained" if not done else f"{done[0]:.3f} (1 seed)" if len(done) == 1 else mean_std(done, 3)
    print(f"{name:24s}{acc:>16s}{row['params']:>12,}{row['MFLOPs']:>13.1f}{row['act. MB']:>14.2f}{row['ms']:>9.2f}")
print(f"accuracy: mean ± std over {S.seeds} seeds for our models; torchvision's are trained in full mode only; chance {1 / CLASSES:.3f}; "
      f"latency: best of 3 forward passes of 16 clips on {rt.device.type}")
for name in ("3D", "(2+1)D", "SlowFast", "early fusion"):
    print(verdict(name, "late fusion (avg)"))
for a, b in (("3D", "early fusion"), ("(2+1)D", "3D"), ("SlowFast", "3D")):
    print(verdict(a, b))
probe = torch.rand(1, 16, 3, 32, 32, device=rt.device)
memory = {t: video.saved_activation_bytes(to_3d(FrameCNN()).to(rt.device).train(), probe[:, :t]) / 2**20 for t in (4, 8, 16)}
print("the 3D network's activation memory per clip by clip length: " + ", ".join(f"T={t}: {m:.2f} MB" for t, m in memory.items()))
print(f"torchvision's r3d_18 has {rows['torchvision r3d_18']['params'] / rows['3D']['params']:.0f} times the parameters "
      f"and {rows['torchvision r3d_18']['MFLOPs'] / rows['3D']['MFLOPs']:.0f} times the FLOPs of our 3D network")
BAR = 0.5 if rt.fast else 0.6
three_d = sum(per_seed("3D")) / S.seeds
print(f"bar: the 3D network's mean test accuracy {three_d:.3f} ≥ {BAR} (late fusion: {max(per_seed('late fusion (avg)')):.3f} at best)")
assert three_d >= BAR and min(per_seed("3D")) > max(per_seed("late fusion (avg)")), "below the bar"

# %% [markdown]
# Read the table in two directions. Down the accuracy column: the verdict lines say which
# models beat the order-blind late fusion on every seed, and which differences between the
# models that see order the seeds can tell apart — where they overlap, there is no ranking to
# read. Early fusion, the cheapest model, is one of them: on 8 frames of 32 × 32 with about a
# pixel of motion per frame, each of its first-layer filters sees all 8 frames of a 3 × 3
# patch at once, which is enough to respond to a local displacement; deeper layers then
# combine those responses over space. On sports videos Karpathy et al. (2014) found slow
# fusion, the most gradual mixing of time, the best of their variants.
#
# Across the cost columns: the 3D and (2+1)D networks have about the same parameters and
# FLOPs (the point of M), but their latencies need not match — the ms column shows how well
# this machine's convolution routines suit each kernel shape. SlowFast needs fewer FLOPs than
# the 3D network because its wide pathway sees only 2 of the 8 frames. The 3D network's
# activation memory, printed for clips of 4, 8 and 16 frames, nearly doubles with each
# doubling of the clip length: one reason real video networks train on short clips. torchvision's networks
# are sized for 16 frames of 112 × 112; the ratios printed above say how far that is from
# ours.

# %% [markdown]
# ## 7. I3D: inflating a 2D network
#
# Carreira & Zisserman (2017) start a video network from an image network trained on
# ImageNet: every `k × k` kernel becomes a `k × k × k` one by **repeating it k times along time
# and dividing by k**. The lecture's intuition: a tiled image is a video of a static scene
# filmed with a fixed camera — on such a video the inflated network should answer exactly as
# the 2D network does on the image. (Its edge frames need the padding of `video.pad_time`:
# zeros would dim them.) Our "ImageNet" is a still-image task of the shapes world: a
# `FrameCNN` trained to name the shape (circle, square, triangle, diamond) of a single object
# on a textured background.

# %%
stills_config = ShapesConfig(image_size=WORLD.image_size, min_objects=1, max_objects=1, num_shapes=4, num_colors=5,
                             background="texture", noise=WORLD.noise,
                             elongation=1)  # square, as the clips' objects are
stills = generate(S.still_images, stills_config, seed=3, device=rt.device)
still_labels = stills.labels[:, 0] - 1  # class 0 is background
stills_test = generate(1000, stills_config, seed=4, device=rt.device)


def still_batches(seed):
    g = torch.Generator().manual_seed(seed)

    def batch(step):
        idx = torch.randint(len(still_labels), (S.batch,), generator=g).to(rt.device)
        return stills.images[idx], still_labels[idx]
    return batch


image_nets = {}
for seed in range(S.seeds):
    torch.manual_seed(seed)
    image_nets[seed] = FrameCNN(classes=4).to(rt.device)
    fit(image_nets[seed], still_batches(seed), F.cross_entropy, S.still_steps, lr=3e-3, amp=True, progress=False)
still_acc = [(predict(image_nets[s], stills_test.images) == stills_test.labels[:, 0] - 1).float().mean().item() for s in range(S.seeds)]
print(f"the 2D network names the shape of held-out stills: accuracy {mean_std(still_acc, 3)} (chance 0.25)")

# %% [raw]
# # BEGIN QUESTION
# name: ex11_5
# points: 1

# %% [markdown]
# **Exercise 11.5 — inflation.** Complete `inflate_conv2d(conv, time)`: from an `nn.Conv2d`
# with a `kH × kW` kernel, return an `nn.Conv3d` with a `time × kH × kW` kernel such that, on
# a clip of identical frames padded in time with `video.pad_time(x, time // 2)`, every output
# frame equals the 2D layer's output on one frame. Keep the 2D layer's channels, spatial
# stride and spatial padding; use stride 1 and **no padding in time** (`pad_time` does that);
# copy the bias if there is one. Put the new layer on the device of `conv`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def inflate_conv2d(conv, time):
    # BEGIN SOLUTION
    conv3 = nn.Conv3d(conv.in_channels, conv.out_channels, (time, *conv.kernel_size), stride=(1, *conv.stride),
                      padding=(0, *conv.padding), bias=conv.bias is not None)
    with torch.no_grad():
        conv3.weight.copy_(conv.weight.unsqueeze(2).repeat(1, 1, time, 1, 1) / time)
        if conv.bias is not None:
            conv3.bias.copy_(conv.bias)
    return conv3.to(conv.weight.device)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS


# %%
def test_inflate_static_clip(inflate_conv2d):
    import torch

    from visioncourse import video
    from visioncourse.exercises import expect_close, expect_equal

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 5, 3, padding=1)
    frame = torch.randn(2, 3, 8, 8)
    static = frame[:, :, None].expand(2, 3, 6, 8, 8)  # 6 identical frames
    inflated = inflate_conv2d(conv, 3)
    expect_equal("Exercise 11.5 (inflate_conv2d)", type(inflated).__name__, "Conv3d", inputs="a 3×3 conv, time 3",
                 hint="return the new nn.Conv3d")
    with torch.no_grad():
        got = inflated(video.pad_time(static, 1))
        want = conv(frame)[:, :, None].expand(2, 5, 6, 8, 8)
    expect_close("Exercise 11.5 (inflate_conv2d)", got, want, atol=1e-5,
                 inputs="a 3×3 conv with bias, inflated to 3×3×3, on 6 identical frames padded with pad_time(x, 1)",
                 hint="repeat the 2D kernel along a new time axis and divide by time (the sum over the taps must equal the 2D kernel); padding (0, p, p)")


test_inflate_static_clip(inflate_conv2d)


# %%
def test_inflate_kernel(inflate_conv2d):
    import torch

    from visioncourse.exercises import expect_close, expect_equal

    conv = torch.nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(6.0)
    inflated = inflate_conv2d(conv, 3)
    expect_equal("Exercise 11.5 (inflate_conv2d)", type(inflated).__name__, "Conv3d", inputs="a 1×1 conv, time 3",
                 hint="return the new nn.Conv3d")
    expect_equal("Exercise 11.5 (inflate_conv2d)", tuple(inflated.weight.shape), (1, 1, 3, 1, 1),
                 inputs="a 1×1 conv of weight 6, time 3", hint="weight shape (C_out, C_in, time, kH, kW)")
    expect_close("Exercise 11.5 (inflate_conv2d)", inflated.weight.flatten(), torch.tensor([2.0, 2.0, 2.0]),
                 inputs="a 1×1 conv of weight 6, time 3", hint="each of the 3 taps gets 6 / 3")
    expect_equal("Exercise 11.5 (inflate_conv2d)", inflated.bias is None, True, inputs="a conv without bias",
                 hint="a 2D layer without bias gives a 3D layer without bias")


test_inflate_kernel(inflate_conv2d)


# %%
# HIDDEN
def test_inflate_stride_and_five_taps(inflate_conv2d):
    import torch

    from visioncourse import video
    from visioncourse.exercises import expect_close, expect_equal

    torch.manual_seed(1)
    conv = torch.nn.Conv2d(2, 4, 3, stride=2, padding=1)
    inflated = inflate_conv2d(conv, 5)
    expect_equal("Exercise 11.5 (inflate_conv2d)", type(inflated).__name__, "Conv3d", inputs="time 5", hint="return the new nn.Conv3d")
    expect_equal("Exercise 11.5 (inflate_conv2d)", (tuple(inflated.stride), tuple(inflated.padding)), ((1, 2, 2), (0, 1, 1)),
                 inputs="a 3×3 conv, stride 2, padding 1, time 5", hint="stride 1 and padding 0 in time; the 2D values in space")
    frame = torch.randn(1, 2, 9, 9)
    with torch.no_grad():
        got = inflated(video.pad_time(frame[:, :, None].expand(1, 2, 4, 9, 9), 2))
        want = conv(frame)[:, :, None].expand(1, 4, 4, 5, 5)
    expect_close("Exercise 11.5 (inflate_conv2d)", got, want, atol=1e-5, inputs="time 5 on 4 static frames",
                 hint="divide by time, whatever time is")


test_inflate_stride_and_five_taps(inflate_conv2d)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The whole network now: `to_3d(image_net, inflate)` inflates every layer of a trained 2D
# network. Its features on a still clip (one frame repeated 8 times) should equal the 2D
# network's features on that frame.

# %%
inflate_fn = use_or_reference("Exercise 11.5", "inflate_conv2d", video.inflate_conv2d, nn.Conv2d(2, 3, 3, stride=2, padding=1), 3,
                              adapt=lambda fn: lambda *a: (lambda c: torch.cat((c.weight.flatten(), c.bias, torch.tensor(c.stride + c.padding))))(fn(*a)))
inflated = to_3d(image_nets[0], inflate_fn).to(rt.device).eval()
frames = stills_test.images[:16]
with torch.no_grad():
    still_clips = frames[:, None].expand(-1, WORLD.frames, -1, -1, -1)  # (N, T, C, H, W): a static scene
    gap = (inflated.features(still_clips.transpose(1, 2)) - image_nets[0].features(frames)).abs().max().item()
print(f"inflated network on still clips against the 2D network on their frames: max |difference| {gap:.1e}")
assert gap < 1e-4, "the inflated network should see a still clip as the 2D network sees its frame"
with torch.no_grad():
    clips = test.clips[:64]
    symmetric = (inflated(clips) - inflated(clips.flip(1))).abs().max().item()
    scratch = to_3d(FrameCNN()).to(rt.device).eval()
    asymmetric = (scratch(clips) - scratch(clips.flip(1))).abs().max().item()
print(f"scores for a clip minus scores for its reversal, max |difference| over 64 clips: "
      f"inflated {symmetric:.1e}; a 3D network from scratch {asymmetric:.1e}")

# %% [markdown]
# **The claim, measured.** Carreira & Zisserman (2017) report that their inflated networks,
# started from ImageNet weights, reach a higher accuracy on Kinetics than the same networks
# trained from scratch. Here: the 3D network of section 6 starts from scratch (those runs),
# or inflated from the still-image network of the same seed, with a new 6-way head; the
# batches, steps and schedule are the same. A third arm separates the two things inflation
# brings — a start that averages over time, and the 2D network's knowledge: it inflates an
# **untrained** `FrameCNN`, which has the first without the second.

# %%
def inflated_model(cnn):
    model = to_3d(cnn, inflate_fn)
    model.head = nn.Linear(model.head.in_features, CLASSES).to(rt.device)
    return model


for seed in range(S.seeds):
    train_model("3D, inflated", seed, lambda seed=seed: inflated_model(image_nets[seed]))
    train_model("3D, inflated untrained 2D", seed, lambda: inflated_model(FrameCNN(classes=4).to(rt.device)))
for name in ("3D", "3D, inflated", "3D, inflated untrained 2D"):
    print(f"{name:27s} {mean_std(per_seed(name), 3)}  (per seed {', '.join(f'{a:.3f}' for a in per_seed(name))})")
print(f"after {S.steps} steps: {verdict('3D, inflated', '3D')}")
print(f"after {S.steps} steps: {verdict('3D, inflated untrained 2D', '3D')}")
print(f"after {S.steps} steps: {verdict('3D, inflated', '3D, inflated untrained 2D')}")
fig, ax = plt.subplots(figsize=(5.6, 3.2))
ARM_NAMES = {"3D": "from scratch", "3D, inflated": "inflated (trained 2D)", "3D, inflated untrained 2D": "inflated (untrained 2D)"}
for (name, label), color in zip(ARM_NAMES.items(), ("C0", "C1", "C2")):
    for seed in range(S.seeds):
        ax.plot(histories[name, seed].smoothed(10), color=color, alpha=0.8, linewidth=1, label=label if seed == 0 else None)
ax.axhline(torch.log(torch.tensor(float(CLASSES))).item(), color="gray", linestyle=":", linewidth=0.8)
ax.set_xlabel("step"), ax.set_ylabel("training loss (smoothed)"), ax.legend(fontsize=8)
ax.set_title(f"the same 3D network, three starts ({S.seeds} seeds each; dotted: log 6, chance)", fontsize=9)
plt.show()

# %% [markdown]
# Read the curves and the three verdict lines together: they are the result on this world,
# whichever way they went. What the arms share and do not share:
#
# - Both inflated arms start **symmetric in time**: every kernel weights its three frames
#   equally and the padding treats both ends alike, so each layer commutes with reversing
#   the clip and the final average over time forgets the direction. Their scores for a clip
#   and for the clip played backwards are exactly equal (the check above) — but a random 3D
#   network's nearly are too, since its scores are all small at the start, so this alone
#   need not slow training; the untrained-inflation arm measures whether it does.
# - Only the first inflated arm carries what the 2D network learnt: shapes, which the motion
#   classes do not need. If it trails the untrained-inflation arm, the learnt features are
#   what costs; if the two are together and both trail the scratch start, the temporal
#   averaging start is.
#
# In I3D's setting the learnt features help: Kinetics classes ("playing guitar", "cricket
# shot") are largely recognisable from appearance, which is what ImageNet features carry. A
# transfer helps when what was learnt is what the new task needs.

# %% [markdown]
# ## Takeaways
#
# - A clip and its reversal hold the same frames: any model that pools frames without
#   order — average or max, late fusion — answers the same for both, and can never tell a
#   class from its opposite; the measured share of clips where it predicts the same class
#   for both is printed in section 2.
# - A 3D convolution is a sum of 2D convolutions, one per temporal tap; its receptive field
#   in time grows by `k_t − 1` frames per layer, its weights and FLOPs by a factor `k_t`.
# - (2+1)D keeps the parameter count with the width rule M and adds non-linearities; its
#   FLOPs match the 3D layer's, its latency need not.
# - SlowFast puts the channels where the frames are few: the wide slow pathway sees 1/α of
#   the frames, the thin fast one all of them, joined by lateral connections matched in time.
# - Inflation gives a video network that reproduces its image network on a still video —
#   exactly, with the right padding. Whether that start helps depends on whether the image
#   task taught what the video task needs; the three arms of section 7 measure it here.
# - Every row of the cost table is a trade between accuracy, FLOPs, memory and latency; read
#   the accuracy verdicts with the world's scale in mind (8 frames, about a pixel of motion
#   per frame), where one layer can span the motion.
#
# ## Further reading
# - Karpathy, Toderici, Shetty, Leung, Sukthankar & Fei-Fei (2014), *Large-scale Video
#   Classification with Convolutional Neural Networks* — late, early and slow fusion.
# - Tran, Bourdev, Fergus, Torresani & Paluri (2015), *Learning Spatiotemporal Features with
#   3D Convolutional Networks* (C3D).
# - Carreira & Zisserman (2017), *Quo Vadis, Action Recognition? A New Model and the Kinetics
#   Dataset* — I3D and inflation.
# - Tran, Wang, Torresani, Ray, LeCun & Paluri (2018), *A Closer Look at Spatiotemporal
#   Convolutions for Action Recognition* — R(2+1)D and the width rule.
# - Feichtenhofer, Fan, Malik & He (2019), *SlowFast Networks for Video Recognition*.
# - Carreira, Pătrăucean, Mazaré, Zisserman & Osindero (2018), *Massively Parallel Video
#   Networks*; Pătrăucean et al. (2020), *Blink and you won't miss it: video processing
#   without temporal redundancies* — the efficiency of video models, as cited in the lecture.
# - Ng, Hausknecht, Vijayanarasimhan, Vinyals, Monga & Toderici (2015), *Beyond Short
#   Snippets: Deep Networks for Video Classification* — pooling over frames.
# - Girdhar & Ramanan (2019), *CATER: A diagnostic dataset for Compositional Actions and
#   Temporal Reasoning* — a synthetic world where order matters, like ours.
