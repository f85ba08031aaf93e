"""Architecture figures drawn with matplotlib, so they can be changed like any code and look
the same locally, on Colab and on the course website. Each function returns its figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch


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
