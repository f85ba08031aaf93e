import pytest
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st

from visioncourse import boxes as vb

FORMATS = vb.BOX_FORMATS


def random_boxes(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    return torch.cat((xy, xy + torch.rand(n, 2, generator=g) * 50), dim=1)


# Degenerate cases: zero area, touching, nested, identical.
DEGENERATE = torch.tensor(
    [
        [0.0, 0, 10, 10],
        [10, 0, 20, 10],  # touches the first on its right edge
        [2, 2, 5, 5],  # nested in the first
        [0, 0, 10, 10],  # identical to the first
        [3, 3, 3, 8],  # zero width
        [4, 4, 4, 4],  # a point
    ]
)


@pytest.mark.parametrize("in_fmt", FORMATS)
@pytest.mark.parametrize("out_fmt", FORMATS)
def test_box_convert_matches_torchvision(in_fmt, out_fmt):
    for boxes in (random_boxes(64, 0), DEGENERATE, torch.zeros(0, 4)):
        ours = vb.box_convert(boxes, in_fmt, out_fmt)
        theirs = torchvision.ops.box_convert(boxes, in_fmt, out_fmt)
        torch.testing.assert_close(ours, theirs)


def test_box_area_and_iou_match_torchvision():
    for a, b in ((random_boxes(40, 1), random_boxes(30, 2)), (DEGENERATE[:4], DEGENERATE[:4])):
        torch.testing.assert_close(vb.box_area(a), torchvision.ops.box_area(a))
        torch.testing.assert_close(vb.box_iou(a, b), torchvision.ops.box_iou(a, b))
    # zero-area boxes against real ones: IoU 0, as in torchvision
    torch.testing.assert_close(
        vb.box_iou(DEGENERATE[4:], DEGENERATE[:4]),
        torchvision.ops.box_iou(DEGENERATE[4:], DEGENERATE[:4]),
    )


def test_degenerate_iou_values():
    iou = vb.box_iou(DEGENERATE[:4], DEGENERATE[:4])
    assert iou[0, 1] == 0  # touching
    assert iou[0, 2] == pytest.approx(9 / 100)  # nested: inner area over outer area
    assert iou[0, 3] == 1  # identical


def test_empty_inputs_give_empty_outputs():
    empty = torch.zeros(0, 4)
    assert vb.box_area(empty).shape == (0,)
    assert vb.box_iou(empty, random_boxes(3, 0)).shape == (0, 3)
    assert vb.box_iou(random_boxes(3, 0), empty).shape == (3, 0)
    assert vb.elementwise_box_iou(empty, empty).shape == (0,)
    assert vb.clip_boxes_to_image(empty, (10, 10)).shape == (0, 4)


def test_elementwise_iou_is_the_diagonal():
    a, b = random_boxes(25, 3), random_boxes(25, 4)
    torch.testing.assert_close(
        vb.elementwise_box_iou(a, b), torchvision.ops.box_iou(a, b).diagonal()
    )


def test_clip_matches_torchvision():
    boxes = random_boxes(30, 5) - 20
    torch.testing.assert_close(
        vb.clip_boxes_to_image(boxes, (40, 60)),
        torchvision.ops.clip_boxes_to_image(boxes, (40, 60)),
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: vb.box_area(torch.zeros(3)), "shape \\(N, 4\\)"),
        (lambda: vb.box_iou(torch.zeros(2, 5), torch.zeros(1, 4)), "boxes1 must have shape"),
        (lambda: vb.box_convert(torch.zeros(1, 4), "xyxy", "yxyx"), "out_fmt must be one of"),
        (lambda: vb.box_convert(torch.zeros(1, 4), "ltrb", "xyxy"), "in_fmt must be one of"),
        (lambda: vb.box_area(torch.tensor([[0.0, 0, float("nan"), 1]])), "NaN"),
        (lambda: vb.box_iou([[0, 0, 1, 1]], torch.zeros(1, 4)), "torch.Tensor"),
        (lambda: vb.elementwise_box_iou(torch.zeros(2, 4), torch.zeros(3, 4)), "same shape"),
    ],
)
def test_bad_input_raises_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


coords = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, width=32)


@st.composite
def box_sets(draw, max_n=8):
    n = draw(st.integers(0, max_n))
    rows = []
    for _ in range(n):
        x, y = draw(coords), draw(coords)
        w, h = draw(st.floats(0, 500, width=32)), draw(st.floats(0, 500, width=32))
        rows.append([x, y, x + w, y + h])
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, 4)


@settings(max_examples=150, deadline=None)
@given(box_sets(), st.sampled_from(FORMATS), st.sampled_from(FORMATS))
def test_property_convert_round_trip(boxes, fmt1, fmt2):
    there = vb.box_convert(boxes, "xyxy", fmt1)
    back = vb.box_convert(vb.box_convert(there, fmt1, fmt2), fmt2, "xyxy")
    torch.testing.assert_close(back, boxes, atol=1e-9, rtol=1e-9)


@settings(max_examples=150, deadline=None)
@given(box_sets(), box_sets())
def test_property_iou_bounded_symmetric_and_agrees(a, b):
    iou = vb.box_iou(a, b)
    assert iou.shape == (len(a), len(b))
    valid = ~torch.isnan(iou)  # two empty boxes: 0/0, as in torchvision
    assert ((iou[valid] >= 0) & (iou[valid] <= 1 + 1e-9)).all()
    torch.testing.assert_close(iou, vb.box_iou(b, a).T, equal_nan=True)
    torch.testing.assert_close(iou, torchvision.ops.box_iou(a, b), equal_nan=True)


@settings(max_examples=100, deadline=None)
@given(box_sets())
def test_property_self_iou_is_one_for_boxes_with_area(a):
    has_area = vb.box_area(a) > 0
    diag = vb.box_iou(a, a).diagonal()
    torch.testing.assert_close(diag[has_area], torch.ones_like(diag[has_area]))


# --- NMS -----------------------------------------------------------------------------------


def nms_cases():
    """Random sets with many overlaps, plus tied scores and identical boxes."""
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        n = int(torch.randint(1, 120, (1,), generator=g))
        xy = torch.rand(n, 2, generator=g) * 60
        boxes = torch.cat((xy, xy + 5 + torch.rand(n, 2, generator=g) * 40), dim=1)
        scores = torch.rand(n, generator=g)
        if seed % 3 == 0:  # coarse scores: many exact ties
            scores = (scores * 4).floor() / 4
        if seed % 4 == 0:  # exact duplicates of some boxes, with equal and unequal scores
            boxes[n // 2 :] = boxes[: n - n // 2].clone()
        yield boxes, scores, torch.randint(0, 3, (n,), generator=g)


@pytest.mark.parametrize("iou_threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_nms_keeps_the_same_indices_as_torchvision(iou_threshold):
    for boxes, scores, _ in nms_cases():
        ours = vb.nms(boxes, scores, iou_threshold)
        theirs = torchvision.ops.nms(boxes, scores, iou_threshold)
        assert torch.equal(ours, theirs), (iou_threshold, ours, theirs)


@pytest.mark.parametrize("iou_threshold", [0.3, 0.5])
def test_batched_nms_keeps_the_same_indices_as_torchvision(iou_threshold):
    for boxes, scores, idxs in nms_cases():
        ours = vb.batched_nms(boxes, scores, idxs, iou_threshold)
        theirs = torchvision.ops.batched_nms(boxes, scores, idxs, iou_threshold)
        assert torch.equal(ours, theirs)


def test_nms_small_hand_case_and_empty_input():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.9])
    # Box 1 overlaps box 0 with IoU 81/119 = 0.68; box 3 is box 0 again with a tied score.
    assert vb.nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert vb.nms(boxes, scores, 0.7).tolist() == [0, 1, 2]
    assert vb.batched_nms(boxes, scores, torch.tensor([0, 0, 0, 1]), 0.5).tolist() == [0, 3, 2]
    assert vb.nms(torch.zeros(0, 4), torch.zeros(0), 0.5).shape == (0,)
    assert vb.batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0), 0.5).shape == (0,)
    with pytest.raises(ValueError, match="scores must have shape"):
        vb.nms(boxes, scores[:2], 0.5)


# --- box coding ----------------------------------------------------------------------------


def sized_boxes(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    return torch.cat((xy, xy + 5 + torch.rand(n, 2, generator=g) * 50), dim=1)


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)])
def test_box_coding_matches_torchvision_and_round_trips(weights):
    from torchvision.models.detection._utils import BoxCoder as TorchvisionBoxCoder

    theirs, ours = TorchvisionBoxCoder(weights), vb.BoxCoder(weights)
    # Sizes within 5..55 px keep dw, dh below the clip, so decoding inverts encoding.
    reference, proposals = sized_boxes(200, 1), sized_boxes(200, 2)
    codes = ours.encode_single(reference, proposals)
    torch.testing.assert_close(codes, theirs.encode_single(reference, proposals))
    torch.testing.assert_close(ours.decode_single(codes, proposals), reference, atol=1e-3, rtol=0)
    many = torch.randn(200, 12)  # three classes' worth of codes per box
    torch.testing.assert_close(
        ours.decode_single(many, proposals), theirs.decode_single(many, proposals)
    )


def test_box_coding_readable_cases_and_clip():
    proposal = torch.tensor([[0.0, 0, 10, 20]])
    # Move right by a quarter of the width; half as wide; same height.
    target = torch.tensor([[5.0, 0, 10, 20]])
    codes = vb.encode_boxes(target, proposal)
    torch.testing.assert_close(codes, torch.tensor([[0.25, 0.0, torch.log(torch.tensor(0.5)), 0]]))
    huge = vb.decode_boxes(torch.tensor([[0.0, 0, 100, 100]]), proposal)
    assert torch.isfinite(huge).all()  # dw, dh are clipped before exp()
    with pytest.raises(ValueError, match="rel_codes"):
        vb.decode_boxes(torch.zeros(2, 5), torch.zeros(2, 4))
