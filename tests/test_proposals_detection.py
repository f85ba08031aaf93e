import pytest
import torch
import torchvision

from visioncourse import boxes as vboxes
from visioncourse import detection
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


# --- RoI pooling / RoI align ------------------------------------------------------------------


def random_rois(seed: int, images: int = 3, k: int = 60, extent: float = 70.0):
    """Boxes all over (and past) a 13x17 map at several scales: some off the border, some
    thinner than one bin, some degenerate (zero width)."""
    g = torch.Generator().manual_seed(seed)
    x1y1 = torch.rand(k, 2, generator=g) * extent - 10
    wh = torch.rand(k, 2, generator=g) * torch.tensor([2.0, 40.0])[torch.randint(0, 2, (k, 1), generator=g)]  # fmt: skip
    wh[:5] = 0.0
    index = torch.randint(0, images, (k, 1), generator=g).float()
    return torch.cat((index, x1y1, x1y1 + wh), 1)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("spatial_scale", [1.0, 0.25, 1 / 8])
def test_roi_pool_matches_torchvision(seed, spatial_scale):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(3, 5, 13, 17, generator=g)
    rois = random_rois(seed)
    for size in [(7, 5), 2, (1, 3)]:
        ours = detection.roi_pool(features, rois, size, spatial_scale)
        theirs = torchvision.ops.roi_pool(features, rois, size, spatial_scale)
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("sampling_ratio", [-1, 1, 2])
@pytest.mark.parametrize("aligned", [False, True])
def test_roi_align_matches_torchvision(seed, sampling_ratio, aligned):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(3, 5, 13, 17, generator=g)
    rois = random_rois(seed)
    for spatial_scale in (1.0, 0.25):
        args = ((4, 6), spatial_scale, sampling_ratio, aligned)
        ours = detection.roi_align(features, rois, *args)
        theirs = torchvision.ops.roi_align(features, rois, *args)
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_roi_align_gradient_and_list_input_match_torchvision():
    g = torch.Generator().manual_seed(0)
    features = torch.randn(2, 3, 9, 11, generator=g, dtype=torch.float64, requires_grad=True)
    boxes = [torch.tensor([[0.0, 0, 30, 20], [5, 5, 6, 6]], dtype=torch.float64),
             torch.tensor([[-4.0, 2, 50, 40]], dtype=torch.float64)]  # fmt: skip
    weights = torch.randn(3, 3, 3, 2, generator=g, dtype=torch.float64)
    ours = (detection.roi_align(features, boxes, (3, 2), 0.25, 2, True) * weights).sum()
    (grad_ours,) = torch.autograd.grad(ours, features)
    theirs = (torchvision.ops.roi_align(features, boxes, (3, 2), 0.25, 2, True) * weights).sum()
    (grad_theirs,) = torch.autograd.grad(theirs, features)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(grad_ours, grad_theirs)


def test_roi_ops_empty_and_bad_input():
    features = torch.randn(1, 2, 5, 5)
    assert detection.roi_align(features, torch.zeros(0, 5), 3).shape == (0, 2, 3, 3)
    assert detection.roi_pool(features, [torch.zeros(0, 4)], 3).shape == (0, 2, 3, 3)
    with pytest.raises(ValueError, match="image indices"):
        detection.roi_pool(features, torch.tensor([[1.0, 0, 0, 2, 2]]), 2)
    with pytest.raises(ValueError, match=r"Tensor\[N, C, H, W\]"):
        detection.roi_align(features[0], torch.tensor([[0.0, 0, 0, 2, 2]]), 2)
    with pytest.raises(ValueError, match="output_size"):
        detection.roi_align(features, torch.tensor([[0.0, 0, 0, 2, 2]]), 0)


# --- anchors --------------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "grid", "sizes", "ratios"), [
    ((64, 64), (16, 16), (12, 20, 32), (0.5, 1.0, 2.0)),
    ((60, 90), (8, 12), (16, 33), (0.4, 1.0)),
    ((32, 48), (1, 2), (5,), (3.0,)),
])  # fmt: skip
def test_anchor_grid_matches_torchvision(image, grid, sizes, ratios):
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    generator = AnchorGenerator(sizes=(sizes,), aspect_ratios=(ratios,))
    images = ImageList(torch.zeros(1, 3, *image), [image])
    theirs = generator(images, [torch.zeros(1, 1, *grid)])[0]
    stride = (image[0] // grid[0], image[1] // grid[1])
    ours = detection.anchor_grid(grid, stride, sizes, ratios)
    torch.testing.assert_close(ours, theirs)
    assert len(ours) == grid[0] * grid[1] * len(sizes) * len(ratios)


def test_anchor_grid_by_hand():
    # One location at (0, 0), sizes 4 and 8, ratios 1 and 4 (tall: width s/2, height 2s).
    anchors = detection.anchor_grid((1, 2), 10, (4, 8), (1.0, 4.0))
    expected = torch.tensor([[-2.0, -2, 2, 2], [-4, -4, 4, 4], [-1, -4, 1, 4], [-2, -8, 2, 8]])
    torch.testing.assert_close(anchors[:4], expected)
    torch.testing.assert_close(anchors[4:], expected + torch.tensor([10.0, 0, 10, 0]))
    with pytest.raises(ValueError, match="positive"):
        detection.anchor_grid((2, 2), 4, (0,), (1.0,))


@pytest.mark.parametrize("seed", range(5))
def test_label_anchors_matches_torchvision_matcher(seed):
    from torchvision.models.detection._utils import Matcher

    g = torch.Generator().manual_seed(seed)
    anchors = detection.anchor_grid((8, 8), 8, (12, 24), (0.5, 1.0, 2.0))
    centres = torch.rand(4, 2, generator=g) * 64
    half = 4 + torch.rand(4, 2, generator=g) * 14
    gt_boxes = torch.cat((centres - half, centres + half), 1)
    for low_quality in (True, False):
        matches = Matcher(0.7, 0.3, allow_low_quality_matches=low_quality)(
            vboxes.box_iou(gt_boxes, anchors)
        )
        expected = torch.where(matches >= 0, 1, torch.where(matches == -1, 0, -1))
        labels, matched = detection.label_anchors(anchors, gt_boxes, 0.7, 0.3, low_quality)
        torch.testing.assert_close(labels, expected)
        torch.testing.assert_close(matched[labels == 1], matches[labels == 1])
    # every object's best anchor is positive when low-quality matches are allowed
    labels, _ = detection.label_anchors(anchors, gt_boxes)
    assert (labels[vboxes.box_iou(gt_boxes, anchors).argmax(1)] == 1).all()


def test_label_anchors_without_objects_and_bad_thresholds():
    anchors = detection.anchor_grid((2, 2), 8, (8,), (1.0,))
    labels, matched = detection.label_anchors(anchors, torch.zeros(0, 4))
    assert labels.tolist() == [0, 0, 0, 0] and matched.tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="must not exceed"):
        detection.label_anchors(anchors, torch.zeros(0, 4), 0.3, 0.7)


def test_sample_balanced_counts():
    labels = torch.tensor([1] * 10 + [0] * 100 + [-1] * 50)
    g = torch.Generator().manual_seed(0)
    pos, neg = detection.sample_balanced(labels, 32, 0.25, g)
    assert int(pos.sum()) == 8 and int(neg.sum()) == 24
    assert (labels[pos] == 1).all() and (labels[neg] == 0).all()
    pos, neg = detection.sample_balanced(labels, 64, 0.5, g)  # too few positives: negatives fill
    assert int(pos.sum()) == 10 and int(neg.sum()) == 54
    pos, neg = detection.sample_balanced(labels[:20], 256, 0.5, g)
    assert int(pos.sum()) == 10 and int(neg.sum()) == 10
