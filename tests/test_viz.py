"""Figure helpers: what they draw, counted on the figure."""

import matplotlib.pyplot as plt
import torch

from visioncourse.viz import show_detections


def test_show_detections_draws_only_the_confident_boxes():
    images = torch.rand(3, 3, 32, 32)
    boxes = torch.tensor([[1.0, 1, 10, 10], [5, 5, 20, 20], [0, 0, 31, 31]])
    detections = [
        {
            "boxes": boxes,
            "labels": torch.tensor([1, 2, 1]),
            "scores": torch.tensor([0.9, 0.2, 0.5]),
        },
        {"boxes": boxes[:0], "labels": torch.zeros(0, dtype=torch.long), "scores": torch.zeros(0)},
        {"boxes": boxes[:1], "labels": torch.tensor([2]), "scores": torch.tensor([0.1])},
    ]
    fig = show_detections(images, detections, ("background", "a", "b"), score_threshold=0.5, n=5)
    axes = fig.axes
    assert len(axes) == 3  # n is capped by the images
    assert [len(ax.patches) for ax in axes] == [2, 0, 0]  # scores 0.9 and 0.5 (>=), nothing else
    assert axes[0].get_title() == "2 detections, score ≥ 0.5"
    plt.close(fig)
