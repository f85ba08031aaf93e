import pytest
import torch
import torchvision

from visioncourse.boxes import box_iou
from visioncourse.data import ShapesConfig, generate
from visioncourse.detection import label_proposals, warp_regions
from visioncourse.proposals import selective_search


def test_warp_regions_equals_roi_align_with_one_sample_per_bin():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 40, 50, generator=g)
    boxes = [torch.tensor([[3.0, 4, 30, 20], [0, 0, 50, 40]]), torch.tensor([[10.0, 10, 12.5, 35]])]
    ours = warp_regions(images, boxes, (8, 6))
    theirs = torchvision.ops.roi_align(images, boxes, (8, 6), sampling_ratio=1, aligned=True)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    as_rois = torch.cat([torch.tensor([[0.0]] * 2 + [[1.0]]), torch.cat(boxes)], 1)
    torch.testing.assert_close(warp_regions(images, as_rois, (8, 6)), ours)
    # The whole image, warped to its own size, is the image.
    torch.testing.assert_close(
        warp_regions(images, [torch.tensor([[0.0, 0, 50, 40]])] + [torch.zeros(0, 4)], (40, 50)),
        images[:1],
        atol=1e-5,
        rtol=0,
    )
    with pytest.raises(ValueError, match="image index"):
        warp_regions(images, torch.zeros(3, 4), 8)


def test_label_proposals_thresholds_and_matches():
    gt_boxes = torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 40]])
    gt_labels = torch.tensor([2, 1])
    proposals = torch.tensor(
        [[0.0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 40, 30], [21, 21, 40, 40], [50, 50, 60, 60]]
    )
    labels, matched, iou = label_proposals(proposals, gt_boxes, gt_labels)
    assert labels.tolist() == [2, 2, 1, 1, 0]  # IoU 1, 0.5 (inclusive), 0.5, 0.9, 0
    assert torch.equal(matched[3], gt_boxes[1])
    labels, _, _ = label_proposals(proposals, gt_boxes, gt_labels, 0.7, 0.3)
    assert labels.tolist() == [2, -1, -1, 1, 0]
    labels, matched, _ = label_proposals(proposals, torch.zeros(0, 4), torch.zeros(0).long())
    assert labels.tolist() == [0] * 5 and torch.equal(matched, proposals)


def test_selective_search_finds_the_shapes():
    config = ShapesConfig(
        image_size=64, min_objects=2, max_objects=4, background="noise", clutter=4
    )
    batch = generate(12, config, seed=3)
    found = total = 0
    for image, boxes, present in zip(batch.images, batch.boxes, batch.present):
        proposals = selective_search(image)
        assert proposals.dim() == 2 and proposals.shape[1] == 4
        assert len(torch.unique(proposals, dim=0)) == len(proposals)  # no duplicates
        assert (proposals[:, :2] >= 0).all() and (proposals[:, 2] <= 64).all()
        assert (proposals[:, 2:] > proposals[:, :2]).all()
        found += int((box_iou(boxes[present], proposals).max(1).values >= 0.5).sum())
        total += int(present.sum())
    assert found / total >= 0.95
    # Deterministic for a seed.
    assert torch.equal(selective_search(batch.images[0]), selective_search(batch.images[0]))
    with pytest.raises(ValueError, match="Tensor\\[3, H, W\\]"):
        selective_search(batch.images)
