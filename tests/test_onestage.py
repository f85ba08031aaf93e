"""YOLOv1 targets, loss and decoding; k-means anchors (YOLOv2)."""

import math

import pytest
import torch

from visioncourse.boxes import box_iou
from visioncourse.data import ShapesConfig, generate
from visioncourse.onestage import (
    kmeans_anchors,
    mean_best_iou,
    wh_iou,
    yolo_decode,
    yolo_loss,
    yolo_targets,
)


def test_yolo_targets_by_hand():
    # 64 px image, 8x8 grid (8 px cells). Centre (20, 28) -> column 2, row 3, offsets (.5, .5).
    boxes = torch.tensor([[[10.0, 20, 30, 36], [0, 0, 0, 0]]])
    labels = torch.tensor([[2, 0]])
    t = yolo_targets(boxes, labels, grid=8, num_classes=3, image_size=64)
    assert t.shape == (1, 8, 8, 8)
    expected = torch.tensor([1.0, 0.5, 0.5, math.sqrt(20 / 64), math.sqrt(16 / 64), 0, 1, 0])
    torch.testing.assert_close(t[0, 3, 2], expected)
    assert t[..., 0].sum() == 1  # nothing else is marked


def test_yolo_targets_one_owner_per_cell():
    # Two centres in the same cell: the larger object owns it, whatever the order.
    boxes = torch.tensor([[[16.0, 16, 20, 20], [12.0, 12, 24, 24]]])  # small, large
    labels = torch.tensor([[1, 3]])
    for b, lab in ((boxes, labels), (boxes.flip(1), labels.flip(1))):
        t = yolo_targets(b, lab, 8, 3, 64)
        assert t[..., 0].sum() == 1 and t[0, 2, 2, 7] == 1  # class 3: the large one
    # Equal sizes: the first listed wins.
    t = yolo_targets(
        torch.tensor([[[16.0, 16, 20, 20], [17.0, 17, 21, 21]]]), torch.tensor([[1, 2]]), 8, 3, 64
    )
    assert t[0, 2, 2, 5] == 1


def loop_yolo_loss(pred, target, num_boxes, lambda_coord=5.0, lambda_noobj=0.5):
    """The lecture's formula, one cell and one box at a time."""
    n, grid = pred.shape[:2]
    total = {"xy": 0.0, "wh": 0.0, "obj": 0.0, "noobj": 0.0, "class": 0.0}

    def to_box(v, row, col):
        cx, cy = (col + v[0]) / grid, (row + v[1]) / grid
        w, h = max(v[2], 0) ** 2, max(v[3], 0) ** 2
        return torch.tensor([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]])

    for i in range(n):
        for row in range(grid):
            for col in range(grid):
                t, p = target[i, row, col].tolist(), pred[i, row, col].tolist()
                preds = [p[5 * j : 5 * j + 5] for j in range(num_boxes)]
                if t[0] > 0:
                    ious = [box_iou(to_box(b, row, col), to_box(t[1:5], row, col)).item() for b in preds]  # fmt: skip
                    j = max(range(num_boxes), key=lambda k: (ious[k], -k))
                    b = preds[j]
                    total["xy"] += lambda_coord * ((b[0] - t[1]) ** 2 + (b[1] - t[2]) ** 2)
                    total["wh"] += lambda_coord * ((b[2] - t[3]) ** 2 + (b[3] - t[4]) ** 2)
                    total["obj"] += (b[4] - ious[j]) ** 2
                    others = [k for k in range(num_boxes) if k != j]
                    total["class"] += sum((a - c) ** 2 for a, c in zip(p[5 * num_boxes :], t[5:]))
                else:
                    others = range(num_boxes)
                total["noobj"] += lambda_noobj * sum(preds[k][4] ** 2 for k in others)
    return {k: v / n for k, v in total.items()}


@pytest.mark.parametrize("seed", range(3))
def test_yolo_loss_matches_the_formula_cell_by_cell(seed):
    world = ShapesConfig(image_size=48, min_objects=1, max_objects=4)
    batch = generate(3, world, seed=seed)
    target = yolo_targets(batch.boxes, batch.labels, 6, world.num_shapes, 48)
    g = torch.Generator().manual_seed(seed)
    pred = torch.rand(3, 6, 6, 5 * 2 + world.num_shapes, generator=g)
    ours = yolo_loss(pred, target, num_boxes=2)
    reference = loop_yolo_loss(pred, target, 2)
    for key, value in reference.items():
        assert ours[key].item() == pytest.approx(value, rel=1e-5, abs=1e-6), key


def test_yolo_loss_is_zero_for_the_perfect_prediction_and_decodes_back():
    world = ShapesConfig(image_size=64, min_objects=1, max_objects=3)
    batch = generate(4, world, seed=1)
    target = yolo_targets(batch.boxes, batch.labels, 8, world.num_shapes, 64)
    # Box 0 = the truth with confidence 1; box 1 = nothing, confidence 0.
    pred = torch.cat((target[..., 1:5], target[..., :1], torch.zeros_like(target[..., :5]), target[..., 5:]), -1)  # fmt: skip
    losses = yolo_loss(pred, target, num_boxes=2)
    assert all(v.item() == pytest.approx(0, abs=1e-10) for v in losses.values())
    detections = yolo_decode(pred, 2, 64, score_threshold=0.5)
    for det, t, cells in zip(detections, batch.targets(), target):
        # every object that owns a cell comes back with its box and class
        assert len(det["boxes"]) == int(cells[..., 0].sum())
        best = box_iou(det["boxes"], t["boxes"]).max(1)
        assert (best.values > 0.999).all()
        assert (det["labels"] == t["labels"][best.indices]).all()


def test_yolo_loss_weights():
    # One object, two boxes: box 0 exact (IoU 1), box 1 elsewhere; both confidences 0.5.
    target = torch.zeros(1, 2, 2, 6)
    target[0, 0, 0] = torch.tensor([1.0, 0.5, 0.5, 0.5, 0.5, 1.0])
    pred = torch.zeros(1, 2, 2, 11)
    pred[0, 0, 0, :10] = torch.tensor([0.5, 0.5, 0.5, 0.5, 0.5, 0.9, 0.9, 0.1, 0.1, 0.5])
    pred[0, 0, 0, 10] = 0.8
    losses = yolo_loss(pred, target, num_boxes=2, lambda_coord=5, lambda_noobj=0.5)
    assert losses["xy"].item() == pytest.approx(0) and losses["wh"].item() == pytest.approx(0)
    assert losses["obj"].item() == pytest.approx(0.25)  # (0.5 - IoU 1)^2
    assert losses["noobj"].item() == pytest.approx(0.5 * 0.25)  # box 1 only
    assert losses["class"].item() == pytest.approx(0.04)  # (0.8 - 1)^2


def test_wh_iou_and_kmeans_anchors():
    wh = torch.tensor([[4.0, 8], [8, 8]])
    centred = torch.cat((-wh / 2, wh / 2), 1)
    torch.testing.assert_close(wh_iou(wh, wh), box_iou(centred, centred))
    # Three clean clusters of shapes: k-means finds them; IoU beats one shape for all.
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[10.0, 10], [30, 12], [12, 30]])
    wh = (centres[torch.arange(300) % 3] * (1 + 0.05 * torch.randn(300, 2, generator=g))).abs()
    anchors = kmeans_anchors(wh, 3, seed=0)
    assert anchors.shape == (3, 2)
    assert wh_iou(anchors, centres).max(1).values.min() > 0.9
    assert mean_best_iou(wh, anchors) > 0.85 > mean_best_iou(wh, wh.mean(0, keepdim=True))
    assert (anchors.prod(1).diff() >= 0).all()  # sorted by area
    torch.testing.assert_close(kmeans_anchors(wh, 3, seed=0), anchors)  # deterministic
    with pytest.raises(ValueError, match="k"):
        kmeans_anchors(wh, 0)
