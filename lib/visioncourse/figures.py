"""Architecture figures drawn with matplotlib, so they can be changed like any code and look
the same locally, on Colab and on the course website. Each function returns its figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle


def _box(ax, x, y, text, w=0.9, h=0.55, color="#dbe9f6", fontsize=9):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03",
                                facecolor=color, edgecolor="#333333", linewidth=1))  # fmt: skip
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, color="#333333", style="-|>", rad=0.0, label=None):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=11, color=color,
                                 linewidth=1.1, connectionstyle=f"arc3,rad={rad}"))  # fmt: skip
    if label:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, label, ha="center",
                fontsize=8, color=color)  # fmt: skip


def rnn_folded_unfolded(steps: int = 4):
    """A vanilla RNN drawn folded (one cell with a loop) and unfolded over ``steps`` steps: the
    same weights W_hx, W_hh, W_yh at every step, the state passed to the right."""
    x0 = 2.7  # where the unfolded copies start
    fig, ax = plt.subplots(figsize=(2.6 + 1.6 * steps, 3.0))
    ax.set_xlim(-0.6, x0 + 1.6 * steps - 0.6), ax.set_ylim(-0.3, 3.2), ax.axis("off")
    # folded: one cell whose state loops back into itself
    _box(ax, 0.2, 0.3, "$x_t$", color="#fde9c8")
    _box(ax, 0.2, 1.5, "$h_t$")
    _box(ax, 0.2, 2.7, "$y_t$", color="#e1f2dc")
    _arrow(ax, (0.2, 0.6), (0.2, 1.2))
    _arrow(ax, (0.2, 1.8), (0.2, 2.4))
    _arrow(ax, (0.66, 1.62), (0.66, 1.38), rad=-2.5)
    ax.text(1.05, 1.5, "$W_{hh}$", ha="left", va="center", fontsize=8)
    ax.text(0.2, -0.2, "folded", ha="center", fontsize=9, style="italic")
    ax.text(1.75, 1.5, "=", fontsize=16, ha="center", va="center")
    # unfolded: one copy per step
    for t in range(steps):
        x = x0 + 1.6 * t
        _box(ax, x, 0.3, f"$x_{t + 1}$", color="#fde9c8")
        _box(ax, x, 1.5, f"$h_{t + 1}$")
        _box(ax, x, 2.7, f"$y_{t + 1}$", color="#e1f2dc")
        _arrow(ax, (x, 0.6), (x, 1.2))
        _arrow(ax, (x, 1.8), (x, 2.4))
        start = x - 0.95 if t == 0 else x - 1.15
        _arrow(ax, (start, 1.5), (x - 0.47, 1.5))
        ax.text((start + x - 0.47) / 2, 1.6, "$h_0$" if t == 0 else "$W_{hh}$", ha="center",
                fontsize=7)  # fmt: skip
    ax.text(x0 + 0.8 * (steps - 1), -0.2, "unfolded: one copy per step, all sharing the same "
            "weights", ha="center", fontsize=9, style="italic")  # fmt: skip
    fig.tight_layout()
    return fig


def lstm_cell_diagram():
    """The LSTM cell as the lecture writes it: four gates computed from x_t and h_{t-1}, the
    cell state c carried along the top (multiplied by f, added i * g), h = o * tanh(c)."""
    fig, ax = plt.subplots(figsize=(8.0, 3.6))
    ax.set_xlim(0, 10), ax.set_ylim(0, 4.6), ax.axis("off")
    # the memory line
    _arrow(ax, (0.3, 3.8), (9.6, 3.8), color="#b03a2e")
    ax.text(0.3, 4.05, "$c_{t-1}$", fontsize=10, color="#b03a2e")
    ax.text(9.3, 4.05, "$c_t$", fontsize=10, color="#b03a2e")
    ax.text(5.0, 4.35, "cell state: the memory (reset by f, written by i·g, read by o)",
            ha="center", fontsize=8, color="#b03a2e")  # fmt: skip
    for x, sign in ((2.6, "×"), (4.6, "+")):
        ax.add_patch(plt.Circle((x, 3.8), 0.22, facecolor="white", edgecolor="#b03a2e"))
        ax.text(x, 3.8, sign, ha="center", va="center", fontsize=11)
    gates = [(2.6, "forget\nf = σ(·)"), (3.9, "input\ni = σ(·)"), (5.2, "candidate\ng = tanh(·)"),
             (7.2, "output\no = σ(·)")]  # fmt: skip
    for x, text in gates:
        _box(ax, x, 1.7, text, w=1.15, h=0.7, color="#dbe9f6", fontsize=8)
        _arrow(ax, (x, 0.7), (x, 1.33))
    ax.plot([1.6, 7.8], [0.7, 0.7], color="#333333", linewidth=1.1)
    _box(ax, 1.0, 0.7, "$[x_t, h_{t-1}]$", w=1.1, color="#fde9c8", fontsize=9)
    _arrow(ax, (2.6, 2.07), (2.6, 3.58))
    ax.add_patch(plt.Circle((4.6, 2.75), 0.2, facecolor="white", edgecolor="#333333"))
    ax.text(4.6, 2.75, "×", ha="center", va="center", fontsize=10)
    _arrow(ax, (3.9, 2.07), (4.45, 2.62))
    _arrow(ax, (5.2, 2.07), (4.75, 2.62))
    _arrow(ax, (4.6, 2.95), (4.6, 3.58))
    _box(ax, 8.3, 2.75, "tanh", w=0.7, fontsize=8)
    _arrow(ax, (8.3, 3.8), (8.3, 3.05))
    ax.add_patch(plt.Circle((8.3, 1.7), 0.2, facecolor="white", edgecolor="#333333"))
    ax.text(8.3, 1.7, "×", ha="center", va="center", fontsize=10)
    _arrow(ax, (8.3, 2.45), (8.3, 1.9))
    _arrow(ax, (7.8, 1.7), (8.1, 1.7))
    _arrow(ax, (8.5, 1.7), (9.6, 1.7))
    ax.text(9.25, 1.85, "$h_t$", fontsize=10)
    ax.text(5.0, 0.15, "$c_t = f \\odot c_{t-1} + i \\odot g$        $h_t = o \\odot \\tanh(c_t)$",
            ha="center", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig


def siamese_and_triplet():
    """Metric learning's two set-ups: a siamese pair (one network, shared weights, a distance
    and the contrastive loss) and a triplet (anchor, positive, negative through the same
    network, the triplet loss on the two distances)."""
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.3))
    for ax in axes:
        ax.set_xlim(0, 5.2), ax.set_ylim(0, 3.4), ax.axis("off")
    left, right = axes
    rows = (2.6, 0.8)
    for y, name in zip(rows, ("$x_0$", "$x_1$")):
        _box(left, 0.5, y, name, w=0.6, color="#fde9c8")
        _box(left, 1.8, y, "$f_\\theta$", w=0.9)
        _arrow(left, (0.8, y), (1.35, y))
        _arrow(left, (2.25, y), (2.95, 1.7 + (y - 1.7) * 0.3))
    left.text(1.8, 1.7, "shared\nweights", ha="center", va="center", fontsize=8, style="italic")
    _box(left, 3.4, 1.7, "$d(r_0, r_1)$", w=0.9)
    _box(left, 4.55, 1.7, "contrastive\nloss, y", w=1.0, h=0.7, color="#e1f2dc", fontsize=8)
    _arrow(left, (3.85, 1.7), (4.05, 1.7))
    left.set_title("siamese pair: same (y = 1) or not (y = 0)", fontsize=9)
    rows = (2.9, 1.7, 0.5)
    for y, name in zip(rows, ("anchor $x_a$", "positive $x_p$", "negative $x_n$")):
        _box(right, 0.6, y, name, w=1.1, h=0.5, color="#fde9c8", fontsize=8)
        _box(right, 1.95, y, "$f_\\theta$", w=0.8, h=0.5)
        _arrow(right, (1.15, y), (1.55, y))
    _box(right, 3.2, 2.3, "$d(r_a, r_p)^2$", w=1.0, h=0.5, fontsize=8)
    _box(right, 3.2, 1.1, "$d(r_a, r_n)^2$", w=1.0, h=0.5, fontsize=8)
    for y0, y1 in ((2.9, 2.3), (1.7, 2.3), (2.9, 1.1), (0.5, 1.1)):
        _arrow(right, (2.35, y0), (2.7, y1))
    _box(right, 4.6, 1.7, "triplet loss\n$[m + d_{ap}^2 - d_{an}^2]_+$", w=1.15, h=0.8,
         color="#e1f2dc", fontsize=7)  # fmt: skip
    _arrow(right, (3.7, 2.3), (4.02, 1.9))
    _arrow(right, (3.7, 1.1), (4.02, 1.5))
    right.set_title("triplet: the positive closer than the negative, by m", fontsize=9)
    fig.tight_layout()
    return fig


def visual_semantic_embedding():
    """VSE++: an image encoder and a caption encoder, each projected into one joint space
    where a matching image and caption have the highest dot product."""
    fig, ax = plt.subplots(figsize=(9.0, 3.0))
    ax.set_xlim(0, 9), ax.set_ylim(0, 3), ax.axis("off")
    _box(ax, 0.7, 2.3, "image $i$", w=1.0, color="#fde9c8")
    _box(ax, 2.3, 2.3, "CNN\n$\\varphi(i)$ (frozen)", w=1.5, h=0.7, fontsize=8)
    _box(ax, 4.0, 2.3, "$W_f^\\top \\varphi(i)$", w=1.1)
    _box(ax, 0.7, 0.7, "caption $c$", w=1.0, color="#fde9c8")
    _box(ax, 2.3, 0.7, "GRU over words\n$\\psi(c)$", w=1.5, h=0.7, fontsize=8)
    _box(ax, 4.0, 0.7, "$W_g^\\top \\psi(c)$", w=1.1)
    for y in (2.3, 0.7):
        _arrow(ax, (1.2, y), (1.55, y))
        _arrow(ax, (3.05, y), (3.45, y))
    _box(
        ax,
        6.0,
        1.5,
        "joint space\n$s(i, c) = f(i) \\cdot g(c)$",
        w=1.9,
        h=0.8,
        color="#dbe9f6",
        fontsize=8,
    )
    _arrow(ax, (4.55, 2.3), (5.05, 1.75))
    _arrow(ax, (4.55, 0.7), (5.05, 1.25))
    _box(
        ax, 8.0, 1.5, "hinge on\nnegatives:\nsum or max", w=1.3, h=0.9, color="#e1f2dc", fontsize=8
    )
    _arrow(ax, (6.95, 1.5), (7.35, 1.5))
    fig.tight_layout()
    return fig


def simclr():
    """SimCLR: two random augmentations of one image through one encoder and one projection
    head; NT-Xent pulls the two projections together and away from the other views of the
    batch. The representation h (before the head) is what is kept."""
    fig, ax = plt.subplots(figsize=(9.0, 3.0))
    ax.set_xlim(0, 9), ax.set_ylim(0, 3), ax.axis("off")
    _box(ax, 0.6, 1.5, "image $x$", w=0.9, color="#fde9c8")
    for y, t in ((2.4, "1"), (0.6, "2")):
        _box(
            ax,
            2.0,
            y,
            f"view $\\tilde x_{t}$\n(crop, flip,\ncolour, grey)",
            w=1.3,
            h=0.8,
            color="#fde9c8",
            fontsize=7,
        )
        _arrow(ax, (1.05, 1.5 + (y - 1.5) * 0.3), (1.35, y))
        _box(ax, 3.7, y, "encoder $f$", w=1.1)
        _arrow(ax, (2.65, y), (3.15, y))
        _box(ax, 5.1, y, f"$h_{t}$", w=0.6, color="#dbe9f6")
        _arrow(ax, (4.25, y), (4.8, y))
        _box(ax, 6.5, y, "head $g$\n(MLP)", w=1.0, h=0.7, fontsize=8)
        _arrow(ax, (5.4, y), (6.0, y))
        _arrow(ax, (7.0, y), (7.55, 1.5 + (y - 1.5) * 0.35))
    ax.text(3.7, 1.5, "shared\nweights", ha="center", va="center", fontsize=8, style="italic")
    ax.text(
        5.1, 1.5, "kept:\nthe representation", ha="center", va="center", fontsize=7, style="italic"
    )
    _box(
        ax,
        8.2,
        1.5,
        "NT-Xent:\n$z_1$ finds $z_2$\namong 2B − 1",
        w=1.25,
        h=0.9,
        color="#e1f2dc",
        fontsize=8,
    )
    fig.tight_layout()
    return fig


# --- detection and segmentation (chapters 02-07) --------------------------------------------


def _grid(ax, x0, y0, cells, size, color="#999999", linewidth=0.6):
    """A cells × cells grid of side ``size`` with its lower-left corner at (x0, y0)."""
    step = size / cells
    for i in range(cells + 1):
        ax.plot([x0 + i * step] * 2, [y0, y0 + size], color=color, linewidth=linewidth)
        ax.plot([x0, x0 + size], [y0 + i * step] * 2, color=color, linewidth=linewidth)


def _canvas(width, height, xlim, ylim):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(*xlim), ax.set_ylim(*ylim), ax.set_aspect("equal"), ax.axis("off")
    return fig, ax


def sliding_window_as_fcn():
    """Sliding a window classifier over an image at stride s gives the same scores as one
    fully convolutional pass: the FC layers become convolutions, one output cell per window."""
    fig, ax = _canvas(9.0, 3.2, (0, 13), (0, 4.6))
    _grid(ax, 0.3, 0.5, 8, 3.6)
    for k, color in ((0, "#1f77b4"), (1, "#ff7f0e")):
        ax.add_patch(Rectangle((0.3 + 0.45 * 2 * k, 0.5 + 0.45 * 2), 0.45 * 4, 0.45 * 4, fill=False,
                               edgecolor=color, linewidth=2))  # fmt: skip
    ax.text(2.1, 4.35, "image: a window every s pixels", ha="center", fontsize=8)
    _box(ax, 5.3, 3.3, "crop → CNN → FC\n(once per window)", w=2.1, h=0.8, fontsize=8)
    _box(
        ax,
        5.3,
        1.2,
        "conv layers, FC as\nconvolutions (once)",
        w=2.1,
        h=0.8,
        color="#e1f2dc",
        fontsize=8,
    )
    _arrow(ax, (4.0, 3.0), (4.25, 3.2))
    _arrow(ax, (4.0, 1.6), (4.25, 1.3))
    _grid(ax, 7.6, 1.4, 3, 1.8)
    ax.add_patch(Rectangle((7.6, 2.6), 0.6, 0.6, color="#1f77b4", alpha=0.6))
    ax.add_patch(Rectangle((8.2, 2.6), 0.6, 0.6, color="#ff7f0e", alpha=0.6))
    _arrow(ax, (6.35, 3.3), (7.5, 3.0))
    _arrow(ax, (6.35, 1.2), (7.5, 1.8))
    ax.text(
        8.5, 0.95, "score map: cell (i, j) =\nthe window at (i·s, j·s)", ha="center", fontsize=8
    )
    ax.text(11.5, 2.3, "same numbers,\nshared computation", ha="center", fontsize=9, style="italic")
    fig.tight_layout()
    return fig


def rcnn_pipeline():
    """R-CNN (Girshick et al., 2014): proposals, each warped and passed through a CNN, then a
    classifier per class and a box regressor."""
    fig, ax = _canvas(10.0, 2.4, (0, 12), (0, 2.6))
    steps = [(1.0, "image", "#fde9c8"), (3.0, "~2000 region\nproposals\n(selective search)", "#dbe9f6"),
             (5.2, "warp each\nregion to a\nfixed size", "#dbe9f6"), (7.3, "CNN features\n(one pass\nper region)", "#dbe9f6"),
             (9.6, "classes + background\n(SVMs / softmax)\nbox regression", "#e1f2dc")]  # fmt: skip
    for i, (x, text, color) in enumerate(steps):
        _box(ax, x, 1.3, text, w=1.7, h=1.3, color=color, fontsize=8)
        if i:
            _arrow(ax, (steps[i - 1][0] + 0.85, 1.3), (x - 0.85, 1.3))
    ax.text(
        6.3,
        0.15,
        "cost: one CNN forward pass per proposal",
        ha="center",
        fontsize=8,
        style="italic",
    )
    fig.tight_layout()
    return fig


def fast_and_faster_rcnn():
    """Fast R-CNN runs the CNN once and pools each proposal from the feature map; Faster R-CNN
    makes the proposals itself with a region proposal network on the same features."""
    fig, axes = plt.subplots(2, 1, figsize=(10.0, 4.4))
    for ax in axes:
        ax.set_xlim(0, 12), ax.set_ylim(0, 2.2), ax.axis("off")
    for ax, title, proposer in ((axes[0], "Fast R-CNN", "proposals from\nselective search"),
                                (axes[1], "Faster R-CNN", "RPN: anchors →\nobjectness + deltas")):  # fmt: skip
        _box(ax, 0.8, 1.2, "image", w=1.1, color="#fde9c8")
        _box(ax, 2.6, 1.2, "CNN\n(once)", w=1.3, h=0.9)
        _box(ax, 4.5, 1.2, "feature\nmap", w=1.1, h=0.9, color="#dbe9f6")
        _box(
            ax,
            6.6,
            1.75,
            proposer,
            w=2.0,
            h=0.75,
            color="#f6e0f0" if "RPN" in proposer else "#eeeeee",
            fontsize=8,
        )
        _box(ax, 6.6, 0.55, "RoI pool / align\n(7×7 per proposal)", w=2.0, h=0.75, fontsize=8)
        _box(ax, 9.0, 0.55, "FC layers", w=1.3)
        _box(ax, 11.0, 0.55, "class +\nbox deltas", w=1.5, h=0.8, color="#e1f2dc", fontsize=8)
        _arrow(ax, (1.35, 1.2), (1.95, 1.2))
        _arrow(ax, (3.25, 1.2), (3.95, 1.2))
        _arrow(ax, (5.05, 1.2), (5.6, 0.6))
        _arrow(ax, (6.6, 1.37), (6.6, 0.93))
        _arrow(ax, (7.6, 0.55), (8.35, 0.55))
        _arrow(ax, (9.65, 0.55), (10.25, 0.55))
        if "RPN" in proposer:
            _arrow(ax, (5.05, 1.35), (5.6, 1.75))
        else:
            _arrow(ax, (1.0, 1.5), (5.6, 1.85), rad=-0.25)
        ax.set_title(title, fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def roi_align_grid(bins: int = 2, samples: int = 2):
    """RoI pooling snaps the region and its bins to the feature map's cells; RoI align keeps
    them where they are and reads ``samples × samples`` bilinear samples per bin."""
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.8))
    region = (1.3, 1.7, 4.1, 3.6)  # x1, y1, x2, y2 in feature-map cells
    for ax, title in zip(axes, ("RoI pool: snapped to cells, max per bin",
                                 "RoI align: exact bins, bilinear samples")):  # fmt: skip
        ax.set_xlim(-0.2, 6.2), ax.set_ylim(-0.2, 6.2), ax.set_aspect("equal"), ax.axis("off")
        _grid(ax, 0, 0, 6, 6)
        ax.set_title(title, fontsize=9)
    x1, y1, x2, y2 = region
    snapped = (round(x1), round(y1), round(x2), round(y2))
    axes[0].add_patch(Rectangle(snapped[:2], snapped[2] - snapped[0], snapped[3] - snapped[1],
                                fill=False, edgecolor="#d62728", linewidth=2))  # fmt: skip
    axes[0].add_patch(
        Rectangle(
            (x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="#1f77b4", linewidth=1, linestyle="--"
        )
    )
    axes[1].add_patch(
        Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="#1f77b4", linewidth=2)
    )
    w, h = (x2 - x1) / bins, (y2 - y1) / bins
    for i in range(1, bins):
        axes[1].plot([x1 + i * w] * 2, [y1, y2], color="#1f77b4", linewidth=1)
        axes[1].plot([x1, x2], [y1 + i * h] * 2, color="#1f77b4", linewidth=1)
    for bx in range(bins):
        for by in range(bins):
            for sx in range(samples):
                for sy in range(samples):
                    px = x1 + (bx + (sx + 0.5) / samples) * w
                    py = y1 + (by + (sy + 0.5) / samples) * h
                    axes[1].plot(px, py, "o", color="#ff7f0e", markersize=4)
    axes[0].text(
        3,
        -0.15,
        "the region (dashed) moves to whole cells (red)",
        ha="center",
        va="top",
        fontsize=8,
    )
    axes[1].text(
        3,
        -0.15,
        f"{bins}×{bins} bins, {samples}×{samples} samples each, averaged",
        ha="center",
        va="top",
        fontsize=8,
    )
    fig.tight_layout()
    return fig


def anchor_grid(stride: int = 16, image: int = 96, sizes=(16, 32), ratios=(0.5, 1.0, 2.0)):
    """Anchors: at every feature-map position (every ``stride`` pixels) the same set of boxes,
    one per size and aspect ratio; the RPN scores each and regresses it to an object."""
    fig, ax = _canvas(4.2, 4.2, (0, image), (0, image))
    ax.add_patch(Rectangle((0, 0), image, image, fill=False, edgecolor="black"))
    centres = [stride / 2 + stride * i for i in range(image // stride)]
    for cx in centres:
        for cy in centres:
            ax.plot(cx, cy, ".", color="#777777", markersize=3)
    cx = cy = centres[len(centres) // 2]
    colors = ("#1f77b4", "#ff7f0e", "#2ca02c")
    for size in sizes:
        for ratio, color in zip(ratios, colors):
            w, h = size / ratio**0.5, size * ratio**0.5  # area size², h / w = ratio
            ax.add_patch(
                Rectangle(
                    (cx - w / 2, cy - h / 2), w, h, fill=False, edgecolor=color, linewidth=1.2
                )
            )
    ax.set_title(
        f"anchors every {stride} px: {len(sizes)} sizes × {len(ratios)} aspect ratios at each dot",
        fontsize=8,
    )
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def yolo_grid(cells: int = 7, boxes: int = 2, classes: int = 20):
    """YOLOv1: an S × S grid; the cell that holds an object's centre predicts it, with B
    boxes (x, y, w, h, confidence) and C class probabilities per cell."""
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.8), gridspec_kw={"width_ratios": [1, 1.1]})
    ax = axes[0]
    ax.set_xlim(0, cells), ax.set_ylim(0, cells), ax.set_aspect("equal"), ax.axis("off")
    _grid(ax, 0, 0, cells, cells)
    ax.add_patch(Rectangle((1.2, 2.1), 3.1, 2.6, fill=False, edgecolor="#d62728", linewidth=2))
    centre = (1.2 + 3.1 / 2, 2.1 + 2.6 / 2)
    ax.plot(*centre, "o", color="#d62728")
    ax.add_patch(Rectangle((int(centre[0]), int(centre[1])), 1, 1, color="#d62728", alpha=0.25))
    ax.set_title("the cell holding the centre is responsible", fontsize=9)
    ax = axes[1]
    ax.set_xlim(0, 6), ax.set_ylim(0, 4), ax.axis("off")
    _box(
        ax,
        3,
        3.2,
        f"output: {cells} × {cells} × ({boxes}·5 + {classes})",
        w=4.6,
        h=0.6,
        color="#e1f2dc",
    )
    _box(
        ax,
        3,
        2.1,
        "per box: x, y (offset in the cell), √w, √h,\nconfidence = P(object) · IoU",
        w=5.4,
        h=0.8,
        fontsize=8,
    )
    _box(ax, 3, 0.9, "per cell: P(class | object) for C classes", w=5.4, h=0.6, fontsize=8)
    fig.tight_layout()
    return fig


def ssd_multiscale():
    """SSD: predictions from several feature maps of decreasing resolution, each cell with its
    own default boxes; small objects are found on the fine maps, large ones on the coarse."""
    fig, ax = _canvas(9.0, 3.2, (0, 14), (0, 5))
    sizes = [(8, 3.2), (4, 2.2), (2, 1.4), (1, 0.8)]
    x = 0.5
    for i, (cells, side) in enumerate(sizes):
        _grid(ax, x, 2.6 - side / 2, cells, side)
        ax.text(x + side / 2, 2.6 - side / 2 - 0.35, f"{cells}×{cells}", ha="center", fontsize=8)
        _arrow(ax, (x + side / 2, 2.6 + side / 2 + 0.05), (x + side / 2, 4.4), color="#2ca02c")
        if i < len(sizes) - 1:
            _arrow(ax, (x + side + 0.1, 2.6), (x + side + 0.7, 2.6))
        x += side + 0.8
    ax.text(
        x / 2,
        4.6,
        "a 3×3 conv head on every map: class scores + box offsets per default box",
        ha="center",
        fontsize=8,
    )
    _box(ax, 12.0, 2.6, "all boxes\n→ NMS", w=1.6, h=0.9, color="#e1f2dc")
    _arrow(ax, (x - 0.4, 2.6), (11.15, 2.6))
    ax.text(
        x / 2,
        0.3,
        "backbone maps, finer (small objects) → coarser (large objects)",
        ha="center",
        fontsize=8,
        style="italic",
    )
    return fig


def fcn_and_unet():
    """An FCN downsamples and upsamples once at the end; U-Net upsamples step by step and
    concatenates the encoder's map of the same size at each step (the skips)."""
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.6))
    for ax in axes:
        ax.set_xlim(0, 10), ax.set_ylim(0, 5), ax.axis("off")
    levels = [(1.0, 3.8, 1.4), (2.4, 2.8, 1.0), (3.6, 1.9, 0.7), (4.6, 1.2, 0.45)]
    for ax, unet in zip(axes, (False, True)):
        for i, (x, y, hgt) in enumerate(levels):
            ax.add_patch(
                Rectangle((x - 0.25, y - hgt / 2), 0.5, hgt, color="#dbe9f6", ec="#333333")
            )
            if i:
                _arrow(ax, (levels[i - 1][0] + 0.25, levels[i - 1][1] - 0.3), (x - 0.25, y + 0.1))
        if unet:
            ups = [(5.6, 1.9, 0.7), (6.8, 2.8, 1.0), (8.2, 3.8, 1.4)]
            prev = levels[-1]
            for (x, y, hgt), skip in zip(ups, reversed(levels[:-1])):
                ax.add_patch(
                    Rectangle((x - 0.25, y - hgt / 2), 0.5, hgt, color="#e1f2dc", ec="#333333")
                )
                _arrow(ax, (prev[0] + 0.25, prev[1] + 0.1), (x - 0.25, y - 0.3))
                _arrow(ax, (skip[0] + 0.3, skip[1]), (x - 0.3, y), color="#d62728", style="-|>")
                prev = (x, y, hgt)
            ax.text(
                5,
                4.7,
                "U-Net: upsample step by step, concatenate the skip (red)",
                ha="center",
                fontsize=9,
            )
        else:
            ax.add_patch(
                Rectangle((8.2 - 0.25, 3.8 - 0.7), 0.5, 1.4, color="#e1f2dc", ec="#333333")
            )
            _arrow(ax, (4.85, 1.3), (7.95, 3.6))
            ax.text(5, 4.7, "FCN: classify the coarse map, upsample once", ha="center", fontsize=9)
        ax.text(1.0, 2.75, "image", ha="center", fontsize=8)
        ax.text(8.2, 2.75, "per-pixel\nscores", ha="center", va="top", fontsize=8)
    fig.tight_layout()
    return fig


def mask_rcnn():
    """Mask R-CNN: Faster R-CNN plus a parallel branch that predicts, for each detected region,
    a small mask per class from RoI-aligned features."""
    fig, ax = _canvas(10.0, 2.8, (0, 12), (0, 3))
    _box(ax, 0.8, 1.5, "image", w=1.1, color="#fde9c8")
    _box(ax, 2.6, 1.5, "backbone\n+ RPN", w=1.4, h=0.9)
    _box(ax, 4.9, 1.5, "RoI align\n(per proposal)", w=1.7, h=0.9)
    _box(ax, 7.4, 2.3, "box head:\nclass + box deltas", w=2.0, h=0.8, fontsize=8)
    _box(ax, 7.4, 0.7, "mask head: convs,\n2× up-conv", w=2.0, h=0.8, fontsize=8, color="#f6e0f0")
    _box(ax, 10.3, 2.3, "detections", w=1.5, color="#e1f2dc")
    _box(ax, 10.3, 0.7, "14×14 mask\nper class", w=1.5, h=0.8, color="#e1f2dc", fontsize=8)
    _arrow(ax, (1.35, 1.5), (1.9, 1.5))
    _arrow(ax, (3.3, 1.5), (4.05, 1.5))
    _arrow(ax, (5.75, 1.7), (6.4, 2.2))
    _arrow(ax, (5.75, 1.3), (6.4, 0.8))
    _arrow(ax, (8.4, 2.3), (9.55, 2.3))
    _arrow(ax, (8.4, 0.7), (9.55, 0.7))
    ax.text(
        10.3,
        1.5,
        "keep the mask of\nthe predicted class",
        ha="center",
        va="center",
        fontsize=7,
        style="italic",
    )
    return fig


# --- video (chapter 11) -----------------------------------------------------------------------


def _frames(ax, x, y, count, label=None, w=0.42, h=0.42, step=0.16, color="#fde9c8"):
    """A stack of ``count`` frames drawn front to back, the first at (x, y)."""
    for i in reversed(range(count)):
        ax.add_patch(Rectangle((x + i * step - w / 2, y + i * step - h / 2), w, h,
                               facecolor=color, edgecolor="#333333", linewidth=0.8))  # fmt: skip
    if label:
        ax.text(
            x + (count - 1) * step / 2, y - h / 2 - 0.2, label, ha="center", va="top", fontsize=8
        )


def video_fusion():
    """Where time meets the network (Karpathy et al., 2014): late fusion runs one 2D network
    per frame and pools at the end; early fusion stacks all frames as the channels of the
    first layer; a 3D network convolves over time in every layer."""
    fig, axes = plt.subplots(1, 3, figsize=(11.0, 3.4))
    titles = ("late fusion: 2D per frame,\npool over time", "early fusion: frames become\nchannels of layer 1",
              "3D convolution: time is a\ndimension of every layer")  # fmt: skip
    for ax, title in zip(axes, titles):
        ax.set_xlim(0, 4), ax.set_ylim(0, 4.2), ax.axis("off")
        ax.set_title(title, fontsize=9)
    ax = axes[0]
    for i, x in enumerate((0.6, 1.5, 2.4, 3.3)):
        _frames(ax, x, 0.5, 1, label=f"t={i + 1}")
        _box(ax, x, 1.8, "2D\nCNN", w=0.6, h=0.7, fontsize=8)
        _arrow(ax, (x, 0.75), (x, 1.43))
        _arrow(ax, (x, 2.16), (2.0, 2.9))
    _box(ax, 2.0, 3.2, "avg / max over t", w=2.0, h=0.45, color="#e1f2dc", fontsize=8)
    ax.text(2.0, 3.75, "shared weights; order is lost", ha="center", fontsize=8, style="italic")
    ax = axes[1]
    _frames(ax, 1.5, 0.5, 4, label="T frames")
    _box(ax, 2.0, 2.0, "conv over\n3·T channels", w=1.6, h=0.7, fontsize=8)
    _arrow(ax, (1.75, 1.05), (2.0, 1.63))
    _box(ax, 2.0, 3.2, "2D CNN", w=1.6, h=0.45, color="#e1f2dc", fontsize=8)
    _arrow(ax, (2.0, 2.36), (2.0, 2.96))
    ax.text(2.0, 3.75, "time is mixed once, at the start", ha="center", fontsize=8, style="italic")
    ax = axes[2]
    _frames(ax, 1.5, 0.5, 4, label="T frames")
    for y in (1.9, 2.75):
        _box(ax, 2.0, y, "3D conv  (k_t × k × k)", w=2.2, h=0.45, fontsize=8)
    _arrow(ax, (1.75, 1.05), (2.0, 1.66))
    _arrow(ax, (2.0, 2.13), (2.0, 2.52))
    _box(ax, 2.0, 3.5, "pool over t, x, y", w=2.0, h=0.4, color="#e1f2dc", fontsize=8)
    _arrow(ax, (2.0, 2.98), (2.0, 3.29))
    fig.tight_layout()
    return fig


def conv3d_and_2plus1d():
    """A full k×k×k kernel against its (2+1)D factorisation (Tran et al., 2018): a 1×k×k
    spatial conv to M channels, a non-linearity, then a k×1×1 temporal conv; M is chosen so
    the two have about the same number of weights. Inflation (I3D) builds a full kernel from a
    2D one by repeating it k times and dividing by k."""
    fig, axes = plt.subplots(1, 3, figsize=(11.0, 3.2))
    for ax in axes:
        ax.set_xlim(0, 4), ax.set_ylim(0, 4), ax.axis("off")

    def cube(ax, x, y, kt, kh, color, label):
        for t in reversed(range(kt)):
            _grid(ax, x + 0.22 * t, y + 0.22 * t, kh, 0.3 * kh, color="#333333", linewidth=0.7)
            ax.add_patch(Rectangle((x + 0.22 * t, y + 0.22 * t), 0.3 * kh, 0.3 * kh,
                                   facecolor=color, alpha=0.8, edgecolor="#333333"))  # fmt: skip
        ax.text(x + 0.45, y - 0.3, label, ha="center", va="top", fontsize=8)

    cube(axes[0], 1.2, 1.2, 3, 3, "#dbe9f6", "3×3×3: in → out")
    axes[0].set_title("3D convolution", fontsize=9)
    cube(axes[1], 0.3, 1.6, 1, 3, "#dbe9f6", "1×3×3: in → M")
    _box(axes[1], 2.0, 2.05, "BN\nReLU", w=0.6, h=0.6, fontsize=8, color="#e1f2dc")
    cube(axes[1], 2.9, 1.2, 3, 1, "#f8d7d0", "3×1×1: M → out")
    _arrow(axes[1], (1.3, 2.05), (1.68, 2.05))
    _arrow(axes[1], (2.32, 2.05), (2.85, 2.05))
    axes[1].set_title("(2+1)D: space, then time", fontsize=9)
    cube(axes[2], 0.2, 1.6, 1, 3, "#fde9c8", "2D kernel w")
    _arrow(axes[2], (1.25, 2.05), (1.85, 2.05), label="repeat, ÷ 3")
    cube(axes[2], 2.1, 1.2, 3, 3, "#fde9c8", "3×3×3: w/3 at every tap")
    axes[2].set_title("I3D inflation", fontsize=9)
    fig.tight_layout()
    return fig


def slowfast(alpha: int = 4, frames: int = 8):
    """SlowFast (Feichtenhofer et al., 2019): a slow pathway sees every alpha-th frame with
    many channels, a fast pathway sees every frame with few; lateral connections carry the
    fast pathway's features into the slow one after each stage, their time matched to it."""
    fig, ax = plt.subplots(figsize=(10.0, 3.6))
    ax.set_xlim(0, 10), ax.set_ylim(0, 4), ax.axis("off")
    for t in range(frames):
        x = 0.3 + 0.28 * t
        slow = t % alpha == 0
        ax.add_patch(Rectangle((x, 1.7), 0.22, 0.5, facecolor="#fde9c8" if slow else "#f3f3f3",
                               edgecolor="#333333", linewidth=0.8))  # fmt: skip
    ax.text(0.3 + 0.14 * frames, 1.45, f"{frames} frames", ha="center", va="top", fontsize=8)
    _arrow(ax, (1.2, 2.25), (2.3, 3.1))
    _arrow(ax, (1.2, 1.65), (2.3, 0.9))
    ax.text(1.55, 3.0, f"every {alpha}th", fontsize=8, ha="center")
    ax.text(1.55, 0.95, "every frame", fontsize=8, ha="center")
    for i, x in enumerate((3.0, 5.0, 7.0)):
        _box(ax, x, 3.2, f"slow stage {i + 1}\nT/{alpha} frames, C ch.", w=1.5, h=0.65, fontsize=7)
        _box(ax, x, 0.8, f"fast stage {i + 1}\nT frames, C/4 ch.", w=1.5, h=0.65, fontsize=7,
             color="#f8d7d0")  # fmt: skip
        if i < 2:
            _arrow(ax, (x + 0.75, 3.2), (x + 1.25, 3.2))
            _arrow(ax, (x + 0.75, 0.8), (x + 1.25, 0.8))
            _arrow(ax, (x + 0.55, 1.13), (x + 1.0, 2.87), color="#d62728")
            ax.text(x + 1.05, 2.0, "lateral:\ntime → ch.", fontsize=7, color="#d62728")
    _box(
        ax,
        9.0,
        2.0,
        "pool both,\nconcatenate,\nclassify",
        w=1.4,
        h=0.9,
        color="#e1f2dc",
        fontsize=8,
    )
    _arrow(ax, (7.75, 3.2), (8.5, 2.3))
    _arrow(ax, (7.75, 0.8), (8.5, 1.7))
    fig.tight_layout()
    return fig


# --- optical flow (chapter 12) ----------------------------------------------------------------


def flownet_s():
    """FlowNetS (Dosovitskiy et al., 2015): the two frames stacked as 6 channels, a strided
    encoder, then a decoder that upsamples step by step, concatenating the encoder's map of
    the same size and the coarser flow; a flow is predicted at every decoder scale and each
    one is trained against the true flow averaged down to its size."""
    fig, ax = plt.subplots(figsize=(10.0, 3.6))
    ax.set_xlim(0, 10), ax.set_ylim(0, 4.2), ax.axis("off")
    _frames(ax, 0.5, 2.0, 2, label="frames 1, 2\n(6 channels)")
    encoder = [(1.8, 1.6), (2.9, 1.15), (3.9, 0.8)]
    for i, (x, h) in enumerate(encoder):
        ax.add_patch(
            Rectangle((x - 0.22, 2.1 - h / 2), 0.44, h, facecolor="#dbe9f6", edgecolor="#333333")
        )
        ax.text(x, 2.1 - h / 2 - 0.12, f"conv /{2 ** (i + 1)}", ha="center", va="top", fontsize=7)
    _arrow(ax, (0.95, 2.1), (1.55, 2.1))
    _arrow(ax, (2.05, 2.1), (2.65, 2.1))
    _arrow(ax, (3.15, 2.1), (3.65, 2.1))
    decoder = [(5.3, 0.8, "/8"), (6.6, 1.15, "/4"), (7.9, 1.6, "/2")]
    prev = 4.15
    for x, h, scale in decoder:
        ax.add_patch(
            Rectangle((x - 0.22, 2.1 - h / 2), 0.44, h, facecolor="#e1f2dc", edgecolor="#333333")
        )
        _arrow(ax, (prev, 2.1), (x - 0.25, 2.1))
        _box(ax, x, 3.65, f"flow {scale}", w=0.75, h=0.4, color="#f8d7d0", fontsize=7)
        _arrow(ax, (x, 2.1 + h / 2), (x, 3.43))
        ax.text(x, 2.1 - h / 2 - 0.12, f"decoder {scale}", ha="center", va="top", fontsize=7)
        prev = x + 0.25
    for (x, _h, _s), (ex, eh) in zip(decoder[1:], reversed(encoder[:-1])):
        _arrow(ax, (ex, 2.1 - eh / 2), (x - 0.1, 2.1 - 0.5), color="#d62728", rad=0.35)
    ax.text(5.95, 0.45, "each decoder stage takes the encoder's map of the same size (red) and the coarser "
            "flow, upsampled", ha="center", fontsize=8, color="#d62728")  # fmt: skip
    _box(
        ax, 9.3, 2.1, "bilinear\n× 2: flow\nat full size", w=1.0, h=0.8, color="#f8d7d0", fontsize=7
    )
    _arrow(ax, (8.15, 2.1), (8.78, 2.1))
    ax.text(6.6, 4.15, "multiscale loss: each flow against the true flow averaged to its size",
            ha="center", fontsize=8)  # fmt: skip
    fig.tight_layout()
    return fig


# --- counting by enumeration (chapter 13) -----------------------------------------------------


def inductive_counting():
    """Two ways to count by pointing at objects one at a time. End to end: a CNN encodes the
    image once and an LSTM emits one token per object, then "end"; its state must hold the
    count. Inductive (Gupta, Vedaldi & Zisserman, 2018): the only state is a map m_t of where
    the model has looked; Φ(x, m_t) gives the next location (or stop) and the footprint Δm
    to add, and it is trained one step at a time."""
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 3.6))
    for ax in axes:
        ax.set_xlim(0, 5), ax.set_ylim(0, 4.2), ax.axis("off")
    ax = axes[0]
    ax.set_title("end to end: CNN + LSTM, trained on whole sequences", fontsize=9)
    _frames(ax, 0.45, 0.6, 1, label="image x")
    _box(ax, 0.45, 1.6, "CNN", w=0.6, h=0.5, fontsize=8)
    _arrow(ax, (0.45, 0.85), (0.45, 1.34))
    ax.plot([0.75, 4.35], [1.6, 1.6], color="#999999", lw=1)  # the image's features, to every step
    for i, token in enumerate(("cell", "cell", "cell", "stop")):
        x = 1.5 + 0.95 * i
        _box(ax, x, 2.5, "LSTM", w=0.65, h=0.5, fontsize=8)
        _arrow(ax, (x - 0.15, 1.6), (x - 0.15, 2.24), color="#999999")
        _box(
            ax,
            x,
            3.6,
            token,
            w=0.55,
            h=0.4,
            color="#e1f2dc" if token == "cell" else "#f8d7d0",
            fontsize=8,
        )
        _arrow(ax, (x, 2.76), (x, 3.39))
        if i:
            _arrow(ax, (x - 0.95 + 0.33, 2.5), (x - 0.33, 2.5))
            _arrow(ax, (x - 0.95 + 0.28, 3.45), (x + 0.12, 2.76), color="#d62728", rad=0.2)
    ax.text(
        2.9,
        0.35,
        "features and the last token go in at every step; how far it has got\n"
        "lives in the LSTM's state, and longer sequences were never seen",
        ha="center",
        fontsize=8,
        style="italic",
    )
    ax = axes[1]
    ax.set_title("inductive: the state is a memory map, trained one step at a time", fontsize=9)
    _frames(ax, 0.55, 3.1, 1, label="image x")
    _frames(ax, 0.55, 1.4, 1, label=r"memory $m_t$", color="#eeeeee")
    _box(ax, 2.1, 2.3, r"$\Phi(x, m_t)$", w=0.9, h=0.6, fontsize=9)
    _arrow(ax, (0.8, 3.0), (1.65, 2.45))
    _arrow(ax, (0.8, 1.5), (1.65, 2.15))
    _box(ax, 3.9, 3.3, "$p(y_{t+1})$:\ncells + stop", w=1.3, h=0.6, color="#e1f2dc", fontsize=8)
    _box(
        ax,
        3.9,
        1.4,
        r"$\Delta m$: footprint" + "\nof that object",
        w=1.3,
        h=0.6,
        color="#f8d7d0",
        fontsize=8,
    )
    _arrow(ax, (2.56, 2.45), (3.24, 3.2))
    _arrow(ax, (2.56, 2.15), (3.24, 1.5))
    _arrow(ax, (3.25, 1.1), (0.8, 1.15), rad=-0.25, label=r"$m_{t+1} = m_t + \Delta m$")
    ax.text(
        2.5,
        0.1,
        r"loss per step: $-\log p(y_{t+1}) + \gamma\,\Vert m_t + \Delta m - m_{t+1}\Vert^2$",
        ha="center",
        fontsize=8,
    )
    fig.tight_layout()
    return fig


# --- many low-resolution frames (chapter 14) --------------------------------------------------


def multiframe_recognition(frames: int = 4):
    """Reading a code from N frames (Vašek, Franc & Urban): left, a single-frame network reads
    every frame and its predictions are merged (averaged probabilities, or a vote per
    character); right, the frames share the feature network ψ_I, an aggregation layer φ
    (mean or max over frames) merges the features, and one classifier ψ_F reads them."""
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 3.8))
    titles = ("merge the predictions: a single-frame network,\nthen average or vote",
              "merge the features: ψ_I per frame, φ over frames,\nthen ψ_F (one classifier shared by the positions)")  # fmt: skip
    for ax, title in zip(axes, titles):
        ax.set_xlim(0, 5), ax.set_ylim(0, 4.4), ax.axis("off")
        ax.set_title(title, fontsize=9)
    xs = [0.7 + 1.2 * i for i in range(frames)]
    for side, ax in enumerate(axes):
        for i, x in enumerate(xs):
            ax.add_patch(Rectangle((x - 0.42, 0.25), 0.84, 0.3, facecolor="#fde9c8", edgecolor="#333333", linewidth=0.8))  # fmt: skip
            ax.text(x, 0.1, f"frame {i + 1}", ha="center", va="top", fontsize=7)
            _box(ax, x, 1.25, "ψ_I", w=0.7, h=0.45, fontsize=8)
            _arrow(ax, (x, 0.57), (x, 1.02))
            if side == 0:
                _box(ax, x, 2.2, "ψ_F\nper frame", w=0.85, h=0.55, fontsize=7)
                _arrow(ax, (x, 1.48), (x, 1.92))
                _arrow(ax, (x, 2.48), (2.5, 3.05))
            else:
                _arrow(ax, (x, 1.48), (2.5, 2.05))
        if side == 0:
            _box(ax, 2.5, 3.3, "average probabilities\nor majority vote", w=2.2, h=0.5, color="#e1f2dc", fontsize=8)  # fmt: skip
        else:
            _box(ax, 2.5, 2.3, "φ: avg or max over frames", w=2.4, h=0.45, color="#f8d7d0", fontsize=8)  # fmt: skip
            _box(ax, 2.5, 3.3, "ψ_F → one softmax per\ncharacter position", w=2.4, h=0.55, color="#e1f2dc", fontsize=8)  # fmt: skip
            _arrow(ax, (2.5, 2.53), (2.5, 3.02))
        ax.text(2.5, 4.0, "shared weights for every frame", ha="center", fontsize=8, style="italic")
    fig.tight_layout()
    return fig


def gated_fusion_network():
    """The gated fusion network (Zhang et al., 2018) for a blurred low-resolution input: a
    deblurring encoder–decoder (trained also to output the sharp low-resolution image), a
    super-resolution feature branch of residual blocks, a gate that weighs the deblurring
    features per pixel, and a reconstruction of residual blocks and two ×2 pixel shuffles."""
    fig, ax = plt.subplots(figsize=(11.0, 4.0))
    ax.set_xlim(0, 11), ax.set_ylim(0, 4.4), ax.axis("off")
    _box(ax, 0.7, 2.2, "blurred\nLR input", w=1.0, h=0.7, color="#fde9c8", fontsize=8)
    _box(ax, 2.6, 3.5, "deblurring branch\nencoder–decoder", w=1.9, h=0.7, fontsize=8)
    _box(ax, 2.6, 0.9, "SR feature branch\nresidual blocks", w=1.9, h=0.7, fontsize=8)
    _box(ax, 4.6, 4.1, "sharp LR\n(auxiliary loss)", w=1.4, h=0.5, color="#e1f2dc", fontsize=7)
    _box(
        ax, 5.0, 2.2, "gate\nconv 3×3, LReLU,\nconv 1×1", w=1.5, h=0.9, color="#f8d7d0", fontsize=7
    )
    ax.add_patch(plt.Circle((6.7, 2.2), 0.25, facecolor="white", edgecolor="#333333"))
    ax.text(6.7, 2.2, "+", ha="center", va="center", fontsize=12)
    _box(
        ax,
        8.2,
        2.2,
        "reconstruction\nresidual blocks,\n2 × (conv, shuffle ×2)",
        w=1.9,
        h=0.9,
        fontsize=7,
    )
    _box(ax, 10.2, 2.2, "sharp HR\n× 4", w=1.0, h=0.7, color="#e1f2dc", fontsize=8)
    _arrow(ax, (1.2, 2.4), (1.65, 3.3))
    _arrow(ax, (1.2, 2.0), (1.65, 1.1))
    _arrow(ax, (1.2, 2.2), (4.25, 2.2))
    _arrow(ax, (3.55, 3.7), (3.9, 4.0))
    _arrow(ax, (3.55, 3.35), (4.4, 2.6), label="φ_deblur")
    _arrow(ax, (3.55, 1.05), (4.4, 1.8), label="φ_SR")
    _arrow(ax, (5.75, 2.2), (6.45, 2.2), label="× φ_deblur")
    _arrow(ax, (3.55, 0.7), (6.6, 1.95), color="#d62728", rad=0.25)
    ax.text(5.3, 0.35, "φ_fusion = φ_SR + gate · φ_deblur (no sigmoid: any weight)", ha="center", fontsize=8, color="#d62728")  # fmt: skip
    _arrow(ax, (6.95, 2.2), (7.25, 2.2))
    _arrow(ax, (9.15, 2.2), (9.7, 2.2))
    fig.tight_layout()
    return fig
