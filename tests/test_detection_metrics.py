"""Detection AP: hand-computed VOC cases, the devkit's loop, and pycocotools (COCO 101-point)."""

import contextlib
import io

import numpy as np
import pytest
import torch

from visioncourse.data import ShapesConfig, generate
from visioncourse.metrics import (
    average_precision,
    coco_map,
    mask_iou,
    mean_average_precision,
)


def det(boxes, scores, labels):
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float).view(-1, 4),
        "scores": torch.tensor(scores, dtype=torch.float),
        "labels": torch.tensor(labels, dtype=torch.long),
    }


def gt(boxes, labels):
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float).view(-1, 4),
        "labels": torch.tensor(labels, dtype=torch.long),
    }


def test_average_precision_hand_computed_curve():
    # Detections by score: hit, miss, hit, with 3 ground-truth boxes.
    precision = torch.tensor([1.0, 0.5, 2 / 3])
    recall = torch.tensor([1 / 3, 1 / 3, 2 / 3])
    # Envelope: 1 up to recall 1/3, then 2/3 up to recall 2/3, then nothing.
    assert average_precision(precision, recall, "voc").item() == pytest.approx(1 / 3 + 2 / 9)
    # 11 points: recall 0, .1, .2, .3 -> 1; .4, .5, .6 -> 2/3; .7 ... 1 -> 0.
    assert average_precision(precision, recall, "voc11").item() == pytest.approx((4 + 2) / 11)
    # 101 points: 0 .. 0.33 (34 points) -> 1; 0.34 .. 0.66 (33 points) -> 2/3.
    assert average_precision(precision, recall, "coco101").item() == pytest.approx(
        (34 + 33 * 2 / 3) / 101
    )
    assert average_precision(torch.zeros(0), torch.zeros(0), "voc").item() == 0.0
    assert average_precision(torch.zeros(0), torch.zeros(0), "coco101").item() == 0.0


def test_voc_map_small_scene_by_hand():
    targets = [gt([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 1]), gt([[0, 0, 10, 10]], [2])]
    preds = [
        # class 1: a hit (0.9), a duplicate of it (0.8: false positive), a miss (0.7)
        det([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]], [0.9, 0.8, 0.7], [1, 1, 1]),
        # class 2: a box that is IoU 0.5 exactly (VOC needs > 0.5: a miss), then a hit
        det([[0, 0, 10, 5], [0, 0, 10, 10]], [0.95, 0.6], [2, 2]),
    ]
    out = mean_average_precision(preds, targets, interpolation="voc")
    # class 1: precision 1, 1/2, 1/3 at recall 1/2 -> AP 1/2.  class 2: P 0, 1/2 at R 0, 1
    # -> envelope 1/2 up to recall 1 -> AP 1/2.
    assert out["classes"].tolist() == [1, 2]
    torch.testing.assert_close(out["map_per_class"], torch.tensor([0.5, 0.5], dtype=torch.float64))
    assert out["map"].item() == pytest.approx(0.5)


def test_classes_without_ground_truth_or_predictions():
    targets = [gt([[0, 0, 10, 10]], [1]), gt([], [])]
    preds = [det([], [], []), det([[0, 0, 10, 10]], [0.9], [3])]
    out = mean_average_precision(preds, targets)
    assert out["classes"].tolist() == [1, 3]
    assert out["map_per_class"].tolist() == [0.0, -1.0]  # missed class; class with no truth
    assert out["map"].item() == 0.0
    empty = mean_average_precision([det([], [], [])], [gt([], [])])
    assert empty["map"].item() == -1.0 and len(empty["classes"]) == 0


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="one dict per image"):
        mean_average_precision([det([], [], [])], [])
    with pytest.raises(ValueError, match="has no"):
        mean_average_precision([{"boxes": torch.zeros(0, 4)}], [gt([], [])])
    with pytest.raises(ValueError, match="must have shape"):
        mean_average_precision([det([[0, 0, 1, 1]], [0.5, 0.2], [1])], [gt([], [])])
    with pytest.raises(ValueError, match="interpolation"):
        mean_average_precision([], [], interpolation="voc12")


def random_detection_set(seed: int, images: int = 12, classes: int = 4, max_size: float = 28):
    """Clustered boxes (many overlaps), coarse scores (ties), empty images, unseen classes;
    box sides from 8 to ``max_size`` pixels."""
    g = torch.Generator().manual_seed(seed)
    preds, targets = [], []
    for i in range(images):
        m = 0 if i % 5 == 4 else int(torch.randint(1, 7, (1,), generator=g))
        centres = torch.rand(m, 2, generator=g) * 60 * max_size / 28
        if i % 3 == 0:  # a crowd: boxes of one class piled on each other
            centres = centres[:1] + torch.randn(m, 2, generator=g) * 3
        sizes = 8 + torch.rand(m, 2, generator=g) * (max_size - 8)
        gt_boxes = torch.cat((centres - sizes / 2, centres + sizes / 2), 1)
        gt_labels = torch.randint(1, classes, (m,), generator=g)  # class `classes` never in gt
        if i % 3 == 0:
            gt_labels[:] = 1
        n = int(torch.randint(0, 10, (1,), generator=g))
        source = torch.randint(0, max(m, 1), (n,), generator=g)
        jitter = torch.randn(n, 4, generator=g) * 4
        base = gt_boxes[source] if m else torch.tensor([[10.0, 10, 30, 30]]).repeat(n, 1)
        boxes = base + jitter
        boxes = torch.cat((boxes[:, :2], torch.max(boxes[:, 2:], boxes[:, :2] + 1)), 1)
        labels = torch.where(
            torch.rand(n, generator=g) < 0.8,
            gt_labels[source] if m else torch.ones(n, dtype=torch.long),
            torch.randint(1, classes + 1, (n,), generator=g),
        )
        scores = (torch.rand(n, generator=g) * 5).round() / 5  # ties
        preds.append({"boxes": boxes, "scores": scores, "labels": labels})
        targets.append({"boxes": gt_boxes, "labels": gt_labels})
    return preds, targets


def cocoeval_stats(images, annotations, results, classes, iou_type) -> np.ndarray:
    """Run pycocotools' COCOeval on COCO-format dicts; its 12 summary numbers."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": images, "annotations": annotations,
                        "categories": [{"id": c} for c in classes]}  # fmt: skip
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(results) if results else COCO(), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


def pycocotools_stats(preds, targets) -> np.ndarray:
    """COCOeval's 12 summary numbers: AP, AP50, AP75, AP small/medium/large, AR 1/10/100, AR
    small/medium/large."""

    classes = sorted({int(c) for d in preds + targets for c in d["labels"]})
    images, annotations, results = [], [], []
    for i, (p, t) in enumerate(zip(preds, targets)):
        images.append({"id": i, "width": 100, "height": 100})
        for box, label in zip(t["boxes"].tolist(), t["labels"].tolist()):
            x1, y1, x2, y2 = box
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": label,
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                                "iscrowd": 0})  # fmt: skip
        for box, score, label in zip(p["boxes"].tolist(), p["scores"].tolist(),
                                     p["labels"].tolist()):  # fmt: skip
            x1, y1, x2, y2 = box
            results.append({"image_id": i, "category_id": label, "score": score,
                            "bbox": [x1, y1, x2 - x1, y2 - y1]})  # fmt: skip
    return cocoeval_stats(images, annotations, results, classes, "bbox")


@pytest.mark.parametrize("seed", range(8))
def test_coco101_agrees_with_pycocotools(seed):
    preds, targets = random_detection_set(seed)
    ours = mean_average_precision(preds, targets, iou_threshold=0.5, interpolation="coco101")
    assert ours["map"].item() == pytest.approx(pycocotools_stats(preds, targets)[1], abs=1e-4)


COCO_KEYS = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1", "mar_10",
             "mar_100", "mar_small", "mar_medium", "mar_large"]  # fmt: skip


@pytest.mark.parametrize("seed", range(10))
def test_coco_map_agrees_with_pycocotools(seed):
    # Boxes from 8 to 160 pixels: small, medium and large objects, crowded and tied.
    preds, targets = random_detection_set(seed, images=16, max_size=160)
    ours = coco_map(preds, targets)
    reference = pycocotools_stats(preds, targets)
    got = np.array([ours[k].item() for k in COCO_KEYS])
    np.testing.assert_allclose(got, reference, atol=1e-3, err_msg=str(dict(zip(COCO_KEYS, got))))
    assert (reference[3:6] > -1).all(), "the set should hold objects of every size"


def test_coco_map_per_class_and_thresholds():
    # One class found exactly, one found with IoU 0.6 (counts at 0.5 and 0.55 only), and a
    # class predicted but never present.
    targets = [gt([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 2])]
    preds = [
        det([[0, 0, 10, 10], [20, 20, 30, 32.5], [40, 40, 50, 50]], [0.9, 0.8, 0.7], [1, 2, 3])
    ]
    out = coco_map(preds, targets, class_metrics=True)
    assert out["classes"].tolist() == [1, 2, 3]
    # IoU of the class-2 box: 100 / 125 = 0.8 -> matched at thresholds 0.5 ... 0.8 (7 of 10).
    torch.testing.assert_close(
        out["map_per_class"], torch.tensor([1.0, 0.7, -1.0], dtype=torch.float64)
    )
    assert out["map"].item() == pytest.approx(0.85)
    assert out["map_50"].item() == 1.0 and out["map_75"].item() == 1.0
    assert out["map_medium"].item() == -1.0  # every object is small
    assert out["mar_1"].item() == pytest.approx(0.85)
    only_50 = coco_map(preds, targets, iou_thresholds=[0.5])
    assert only_50["map"].item() == 1.0 and only_50["map_75"].item() == -1.0
    assert coco_map(preds, targets)["map_per_class"].item() == -1.0  # off unless asked
    with pytest.raises(ValueError, match="crowd"):
        coco_map(preds, [dict(targets[0], iscrowd=torch.tensor([0, 1]))])


def test_coco_map_matches_torchmetrics_keys():
    torchmetrics = pytest.importorskip("torchmetrics.detection")
    preds, targets = random_detection_set(3, max_size=120)
    metric = torchmetrics.MeanAveragePrecision(backend="pycocotools", class_metrics=True)
    metric.update(preds, targets)
    theirs = metric.compute()
    ours = coco_map(preds, targets, class_metrics=True)
    assert set(ours) == set(theirs)
    for key in COCO_KEYS + ["map_per_class", "mar_100_per_class"]:
        np.testing.assert_allclose(ours[key].numpy(), theirs[key].numpy(), atol=1e-3, err_msg=key)


def voc_devkit_ap(preds, targets, cls, threshold=0.5):
    """A plain transliteration of the VOC devkit's loop (voc_eval), for one class."""
    dets = [(s, i, b) for i, p in enumerate(preds)
            for b, s, c in zip(p["boxes"].tolist(), p["scores"].tolist(), p["labels"].tolist())
            if c == cls]  # fmt: skip
    dets.sort(key=lambda d: -d[0])  # Python's sort is stable: ties stay in image order
    truth = {i: [b for b, c in zip(t["boxes"].tolist(), t["labels"].tolist()) if c == cls]
             for i, t in enumerate(targets)}  # fmt: skip
    used = {i: [False] * len(v) for i, v in truth.items()}
    npos = sum(len(v) for v in truth.values())
    tp, fp = [], []
    for _, i, (x1, y1, x2, y2) in dets:
        best, jbest = -np.inf, -1
        for j, (a1, b1, a2, b2) in enumerate(truth[i]):
            iw, ih = max(min(x2, a2) - max(x1, a1), 0), max(min(y2, b2) - max(y1, b1), 0)
            union = (x2 - x1) * (y2 - y1) + (a2 - a1) * (b2 - b1) - iw * ih
            if iw * ih / union > best:
                best, jbest = iw * ih / union, j
        hit = best > threshold and not used[i][jbest]
        if hit:
            used[i][jbest] = True
        tp.append(float(hit))
        fp.append(float(not hit))
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    rec, prec = tp / npos, tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    mrec, mpre = np.concatenate(([0.0], rec, [1.0])), np.concatenate(([0.0], prec, [0.0]))
    for k in range(len(mpre) - 1, 0, -1):
        mpre[k - 1] = max(mpre[k - 1], mpre[k])
    k = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[k + 1] - mrec[k]) * mpre[k + 1]))


@pytest.mark.parametrize("seed", range(6))
def test_voc_agrees_with_the_devkit_loop(seed):
    preds, targets = random_detection_set(seed)
    ours = mean_average_precision(preds, targets, iou_threshold=0.5, interpolation="voc")
    for cls, ap in zip(ours["classes"].tolist(), ours["map_per_class"].tolist()):
        if ap >= 0:
            assert ap == pytest.approx(voc_devkit_ap(preds, targets, cls), abs=1e-9)


def random_mask_set(seed: int, images: int = 10):
    """Instance masks of the shapes world (128 px: small, medium and large objects) as ground
    truth; predictions are shifted copies, some with another class, plus false alarms; tied
    scores; every fourth image has no ground truth."""
    world = ShapesConfig(image_size=128, min_objects=1, max_objects=4, min_size=0.1, max_size=0.9)
    batch = generate(images, world, seed=seed)
    g = torch.Generator().manual_seed(seed)
    preds, targets = [], []
    for i, t in enumerate(batch.targets()):
        masks, labels = t["masks"].bool(), t["labels"]
        if i % 4 == 3:
            masks, labels = masks[:0], labels[:0]
        shifted = [torch.roll(m, tuple(torch.randint(-6, 7, (2,), generator=g).tolist()), (0, 1)) for m in masks]  # fmt: skip
        noise = [torch.rand(128, 128, generator=g) > 0.97 for _ in range(int(torch.randint(0, 3, (1,), generator=g)))]  # fmt: skip
        pred_masks = torch.stack(shifted + noise) if shifted or noise else torch.zeros(0, 128, 128, dtype=torch.bool)  # fmt: skip
        pred_labels = torch.cat((labels, torch.randint(1, 4, (len(noise),), generator=g)))
        flip = torch.rand(len(pred_labels), generator=g) < 0.2
        pred_labels = torch.where(
            flip, torch.randint(1, 4, pred_labels.shape, generator=g), pred_labels
        )
        scores = (torch.rand(len(pred_labels), generator=g) * 4).round() / 4
        preds.append({"masks": pred_masks, "scores": scores, "labels": pred_labels})
        targets.append({"masks": masks, "labels": labels})
    return preds, targets


def pycocotools_segm_stats(preds, targets) -> np.ndarray:
    from pycocotools import mask as mask_utils

    def rle(mask):
        encoded = mask_utils.encode(np.asfortranarray(mask.numpy().astype(np.uint8)))
        encoded["counts"] = encoded["counts"].decode("ascii")
        return encoded

    classes = sorted({int(c) for d in preds + targets for c in d["labels"]})
    images, annotations, results = [], [], []
    for i, (p, t) in enumerate(zip(preds, targets)):
        images.append({"id": i, "height": 128, "width": 128})
        for mask, label in zip(t["masks"], t["labels"].tolist()):
            r = rle(mask)
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": label,
                                "segmentation": r, "area": float(mask_utils.area(r)), "iscrowd": 0})  # fmt: skip
        for mask, score, label in zip(p["masks"], p["scores"].tolist(), p["labels"].tolist()):
            results.append({"image_id": i, "category_id": label, "score": score, "segmentation": rle(mask)})  # fmt: skip
    return cocoeval_stats(images, annotations, results, classes, "segm")


@pytest.mark.parametrize("seed", range(4))
def test_coco_map_segm_agrees_with_pycocotools(seed):
    preds, targets = random_mask_set(seed)
    ours = coco_map(preds, targets, iou_type="segm")
    reference = pycocotools_segm_stats(preds, targets)
    got = np.array([ours[k].item() for k in COCO_KEYS])
    np.testing.assert_allclose(got, reference, atol=1e-3, err_msg=str(dict(zip(COCO_KEYS, got))))


def test_mask_iou_by_hand_and_bad_input():
    a = torch.zeros(2, 4, 4, dtype=torch.bool)
    a[0, :2, :2] = True  # 4 pixels
    b = torch.zeros(2, 4, 4, dtype=torch.bool)
    b[0, :2, :] = True  # 8 pixels, containing a[0]
    torch.testing.assert_close(mask_iou(a, b), torch.tensor([[0.5, 0.0], [0.0, 0.0]], dtype=torch.float64))  # fmt: skip
    with pytest.raises(ValueError, match="masks"):
        coco_map([{"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0)}],
                 [{"masks": torch.zeros(0, 4, 4), "labels": torch.zeros(0)}], iou_type="segm")  # fmt: skip
    with pytest.raises(ValueError, match="iou_type"):
        coco_map([], [], iou_type="keypoints")
