"""Semantic-segmentation scores: hand-computed cases, per-class counting, torchmetrics."""

import pytest
import torch

from visioncourse.metrics import confusion_matrix, segmentation_scores


def test_segmentation_scores_by_hand():
    target = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1]])
    pred = torch.tensor([[0, 1, 1, 1], [0, 0, 0, 1]])
    cm = confusion_matrix(pred, target, num_classes=4)
    assert cm[:2, :2].tolist() == [[3, 1], [1, 3]] and cm.sum() == 8
    scores = segmentation_scores(cm)
    assert scores["pixel_accuracy"].item() == 0.75
    # class 0: TP 3, FP 1, FN 1 -> 3/5; class 1 the same; classes 2, 3 absent -> NaN
    assert scores["iou"][:2].tolist() == [0.6, 0.6] and scores["iou"][2:].isnan().all()
    assert scores["miou"].item() == pytest.approx(0.6)
    assert scores["dice"][:2].tolist() == [0.75, 0.75] and scores["mean_dice"].item() == 0.75
    ignored = confusion_matrix(pred, torch.where(target == 1, 255, target), 4, ignore_index=255)
    assert ignored.sum() == 4 and segmentation_scores(ignored)["pixel_accuracy"].item() == 0.75
    with pytest.raises(ValueError, match="same shape"):
        confusion_matrix(pred, target[0], 4)
    with pytest.raises(ValueError, match="class indices"):
        confusion_matrix(pred + 3, target, 4)


@pytest.mark.parametrize("seed", range(4))
def test_segmentation_scores_match_loops_and_torchmetrics(seed):
    g = torch.Generator().manual_seed(seed)
    classes = 6
    target = torch.randint(0, 4, (3, 16, 20), generator=g)  # classes 4 and 5 never true
    pred = torch.where(torch.rand(3, 16, 20, generator=g) < 0.7, target, torch.randint(0, 5, (3, 16, 20), generator=g))  # fmt: skip
    scores = segmentation_scores(confusion_matrix(pred, target, classes))
    for c in range(classes):  # plain per-class counting
        tp = int(((pred == c) & (target == c)).sum())
        union = int(((pred == c) | (target == c)).sum())
        if union == 0:
            assert scores["iou"][c].isnan()
        else:
            assert scores["iou"][c].item() == pytest.approx(tp / union)
    assert scores["pixel_accuracy"].item() == pytest.approx((pred == target).double().mean().item())
    tm = pytest.importorskip("torchmetrics.functional.classification")
    jaccard = tm.multiclass_jaccard_index(
        pred.flatten(), target.flatten(), classes, average="macro"
    )
    assert scores["miou"].item() == pytest.approx(jaccard.item(), abs=1e-6)
    seg = pytest.importorskip("torchmetrics.functional.segmentation")
    dice = seg.dice_score(pred, target, classes, average="macro", input_format="index", aggregation_level="global")  # fmt: skip
    assert scores["mean_dice"].item() == pytest.approx(float(dice.nanmean()), abs=1e-6)
