import pytest
import torch

from visioncourse.boxes import box_iou
from visioncourse.data import SHAPE_NAMES, ShapesConfig, generate, masks_to_pixel_boxes, shape_masks


def test_batch_shapes_and_ranges():
    b = generate(16, ShapesConfig(image_size=48, max_objects=4), seed=0)
    assert b.images.shape == (16, 3, 48, 48) and b.images.dtype == torch.float32
    assert 0 <= b.images.min() and b.images.max() <= 1
    assert b.boxes.shape == (16, 4, 4) and b.labels.shape == (16, 4)
    assert b.masks.shape == (16, 4, 48, 48) and b.masks.dtype == torch.bool
    assert b.semantic.shape == (16, 48, 48) and b.semantic.dtype == torch.long
    assert ((b.labels >= 0) & (b.labels <= 3)).all()
    assert (b.num_objects >= 1).all() and (b.num_objects <= 4).all()
    assert len(b.captions) == 16


def test_same_seed_same_batch_and_different_seed_differs():
    cfg = ShapesConfig(max_objects=5, max_overlap=0.3, background="texture", clutter=4)
    a, b, c = generate(32, cfg, seed=7), generate(32, cfg, seed=7), generate(32, cfg, seed=8)
    for field in ("images", "boxes", "labels", "masks", "semantic"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert a.captions == b.captions
    assert not torch.equal(a.images, c.images)


def test_present_slots_come_first_and_empty_slots_are_empty():
    b = generate(64, max_objects=6, seed=1)
    k = torch.arange(6)[None]
    assert torch.equal(b.present, k < b.num_objects[:, None])
    assert (b.labels[~b.present] == 0).all()
    assert (b.boxes[~b.present] == 0).all()
    assert not b.masks[~b.present].any()


def test_boxes_are_the_tight_pixel_boxes_of_the_full_shapes():
    b = generate(64, ShapesConfig(max_objects=4, max_overlap=0.5, num_shapes=4), seed=2)
    amodal = shape_masks(b.scene, b.config.image_size)
    assert torch.equal(b.boxes, masks_to_pixel_boxes(amodal))
    # boxes lie inside the image and have positive size
    real = b.boxes[b.present]
    assert (real[:, :2] >= 0).all() and (real[:, 2:] <= 64).all()
    assert (real[:, 2:] > real[:, :2]).all()


def test_masks_semantic_and_occlusion_agree():
    b = generate(32, ShapesConfig(max_objects=5, max_overlap=0.6), seed=3)
    # visible instance masks never overlap, and the semantic mask is their labelled union
    assert (b.masks.sum(1) <= 1).all()
    rebuilt = (b.masks * b.labels[..., None, None]).sum(1)
    assert torch.equal(rebuilt, b.semantic)
    # a visible mask lies inside its full shape; objects without overlap are fully visible
    amodal = shape_masks(b.scene, 64)
    assert not (b.masks & ~amodal).any()


def test_max_overlap_is_respected():
    from visioncourse.data.shapes import _extent_boxes

    for limit in (0.0, 0.2):
        b = generate(128, ShapesConfig(max_objects=4, max_overlap=limit), seed=4)
        squares = _extent_boxes(b.scene.center, b.scene.half_sizes)  # what the limit applies to
        for i in range(128):
            live = b.present[i]
            iou = box_iou(squares[i][live], squares[i][live]).fill_diagonal_(0)
            assert iou.max() <= limit + 1e-6
            if limit == 0:  # apart means apart in pixels too
                pixel_iou = box_iou(b.boxes[i][live], b.boxes[i][live]).fill_diagonal_(0)
                assert pixel_iou.max() == 0


def test_targets_match_torchvision_format():
    b = generate(5, max_objects=3, seed=5)
    targets = b.targets()
    assert len(targets) == 5
    for t, count in zip(targets, b.num_objects.tolist()):
        assert t["boxes"].shape == (count, 4) and t["labels"].shape == (count,)
        assert t["masks"].shape == (count, 64, 64) and t["masks"].dtype == torch.uint8
        assert (t["labels"] >= 1).all()


def test_captions_follow_the_grammar():
    b = generate(64, max_objects=3, seed=6)
    words = {"small", "large"}
    for caption, count, shapes in zip(b.captions, b.num_objects.tolist(), b.scene.shape.tolist()):
        assert caption.startswith("a ")
        assert caption.count(" and ") == max(count - 2, 0)
        assert caption.split()[1] in words
        for k in range(count):
            assert SHAPE_NAMES[shapes[k]] in caption
        if count >= 2:
            assert any(rel in caption for rel in ("left of", "right of", "above", "below"))


def test_relation_words_are_geometrically_right():
    b = generate(200, max_objects=2, min_objects=2, seed=8)
    for caption, count, (c0, c1) in zip(
        b.captions, b.num_objects.tolist(), b.scene.center[:, :2].tolist()
    ):
        if count < 2:  # an object that found no free place was dropped
            continue
        dx, dy = c0[0] - c1[0], c0[1] - c1[1]
        if abs(dx) >= abs(dy):
            assert ("left of" if dx < 0 else "right of") in caption
        else:
            assert ("above" if dy < 0 else "below") in caption


def test_every_shape_class_renders_and_is_distinct():
    square_world = ShapesConfig(
        num_shapes=4, max_objects=1, min_size=0.4, max_size=0.4, elongation=1
    )
    b = generate(256, square_world, seed=9)
    areas = b.masks[:, 0].flatten(1).sum(1).float()
    means = [areas[b.labels[:, 0] == c].mean().item() for c in (1, 2, 3, 4)]
    # same box side: square > circle > triangle ~ diamond (pi/4 and 1/2 of the square)
    assert means[1] > means[0] > means[2]
    assert means[0] / means[1] == pytest.approx(torch.pi / 4, rel=0.1)
    assert means[2] / means[1] == pytest.approx(0.5, rel=0.15)


def test_empty_batch_and_bad_configs():
    assert generate(0).images.shape == (0, 3, 64, 64)
    with pytest.raises(ValueError, match="max_objects"):
        ShapesConfig(max_objects=13)
    with pytest.raises(ValueError, match="background"):
        ShapesConfig(background="stripes")
    with pytest.raises(ValueError, match="no field"):
        generate(2, colour="red")
    with pytest.raises(ValueError, match="n must be"):
        generate(-1)


def test_default_world_has_elongated_boxes_and_class_aspect_priors():
    b = generate(2000, max_objects=3, seed=11)
    live = b.boxes[b.present]
    aspect = (live[:, 2] - live[:, 0]) / (live[:, 3] - live[:, 1])
    # the boxes span at least 1:3 .. 3:1 (pixel-rounded), with many boxes beyond 2:1 each way
    assert aspect.min() <= 1 / 3 * 1.1 and aspect.max() >= 3 / 1.1
    assert (aspect > 2).float().mean() > 0.05 and (aspect < 0.5).float().mean() > 0.05
    # the class predicts the shape of its box: circles wide, squares tall, triangles between
    labels = b.labels[b.present]
    median = [aspect[labels == c].median().item() for c in (1, 2, 3)]
    assert median[0] > 1.5 and median[1] < 1 / 1.5 and 0.75 < median[2] < 1.33
    # and the boxes stay tight around the full (amodal) masks, inside the image
    amodal = shape_masks(b.scene, 64)
    assert torch.equal(b.boxes, masks_to_pixel_boxes(amodal))
    assert (live[:, :2] >= 0).all() and (live[:, 2:] <= 64).all()


def test_elongation_one_is_the_square_world():
    b = generate(64, ShapesConfig(elongation=1, max_objects=3), seed=12)
    live = b.boxes[b.present]
    side_w, side_h = live[:, 2] - live[:, 0], live[:, 3] - live[:, 1]
    assert (side_w - side_h).abs().max() <= 1  # squares, up to pixel rounding
    assert torch.equal(b.scene.aspect, torch.ones_like(b.scene.radius))


def test_elongated_objects_that_could_not_fit_are_squeezed_into_the_image():
    b = generate(500, ShapesConfig(max_objects=1, min_size=0.6, max_size=0.7), seed=13)
    half = b.scene.half_sizes[:, 0]
    assert (half <= 32 + 1e-4).all()
    assert (b.boxes[:, 0, :2] >= 0).all() and (b.boxes[:, 0, 2:] <= 64).all()


def test_small_elongated_objects_keep_a_short_side_of_three_pixels():
    # 32 px images and sizes from 3.2 px: a 3:1 prior would make sides of 1.8 px without the limit
    cfg = ShapesConfig(image_size=32, max_objects=3, min_size=0.1, max_size=0.3)
    b = generate(400, cfg, seed=14)
    short = 2 * b.scene.half_sizes.amin(-1)[b.present]
    assert short.min() >= 3 - 1e-4
    aspect = b.scene.aspect[b.present]
    assert aspect.max() > 2 and aspect.min() < 0.5  # the larger objects stay elongated
