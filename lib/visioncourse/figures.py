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
