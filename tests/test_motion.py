"""The moving shapes world: labels defined by motion, time reversal, exact flow."""

import pytest
import torch
import torch.nn.functional as F

from visioncourse.data.motion import MOTION_CLASSES, OPPOSITE, MotionConfig, generate_clips

PANNING = dict(camera=1, min_speed=0.8, max_speed=1.2, max_size=0.35)


def test_clips_are_deterministic_and_shaped():
    a = generate_clips(12, seed=3)
    b = generate_clips(12, seed=3)
    assert torch.equal(a.clips, b.clips) and torch.equal(a.labels, b.labels)
    assert a.clips.shape == (12, 8, 3, 32, 32) and a.boxes.shape == (12, 8, 2, 4)
    assert 0 <= a.clips.min() and a.clips.max() <= 1
    assert not torch.equal(a.clips, generate_clips(12, seed=4).clips)


@pytest.mark.parametrize("label", range(len(MOTION_CLASSES)))
def test_the_actor_moves_as_its_label_says(label):
    batch = generate_clips(20, seed=label, labels=torch.full((20,), label))
    move = batch.center[:, -1, 0] - batch.center[:, 0, 0]  # the actor over the clip
    grow = batch.radius[:, -1, 0] / batch.radius[:, 0, 0]
    name = MOTION_CLASSES[label]
    if name in ("left", "right"):
        assert ((move[:, 0] < 0) == (name == "left")).all() and (
            move[:, 0].abs() > move[:, 1].abs()
        ).all()
    elif name in ("up", "down"):
        assert ((move[:, 1] < 0) == (name == "up")).all() and (
            move[:, 1].abs() > move[:, 0].abs()
        ).all()
    else:
        assert ((grow > 1) == (name == "approaching")).all() and ((grow - 1).abs() > 0.3).all()


def test_a_clip_played_backwards_has_the_opposite_label():
    batch = generate_clips(30, seed=1)
    back = batch.reversed()
    assert torch.equal(back.labels, OPPOSITE[batch.labels]) and (back.labels != batch.labels).all()
    assert torch.equal(back.clips, batch.clips.flip(1))
    # the same frames, in the other order: a frame-order-blind model cannot tell the two apart
    assert torch.equal(back.clips.sort(1).values, batch.clips.sort(1).values)


def warp_back(batch, t):
    """Frame t + 1 sampled at p + flow(p): frame t again wherever nothing was occluded."""
    side = batch.config.image_size
    flow = batch.flow(t)
    coords = torch.arange(side, dtype=torch.float32) + 0.5
    x = coords[None, None, :] + flow[:, 0]
    y = coords[None, :, None] + flow[:, 1]
    grid = torch.stack((x / side * 2 - 1, y / side * 2 - 1), dim=-1)
    return F.grid_sample(batch.clips[:, t + 1], grid, mode="nearest", align_corners=False)


@pytest.mark.parametrize("config", [{}, PANNING], ids=["still camera", "panning camera"])
def test_flow_carries_frame_t_onto_frame_t_plus_1(config):
    batch = generate_clips(40, seed=2, noise=0.0, **config)
    for t in (0, 3, 6):
        visible = ~batch.occlusion(t)
        err = (warp_back(batch, t) - batch.clips[:, t]).abs().amax(1)
        still = (batch.clips[:, t + 1] - batch.clips[:, t]).abs().amax(1)
        assert visible.float().mean() > 0.85
        assert err[visible].max() < 1e-6  # flat colours: the nearest pixel is the same surface
        assert still[visible].mean() > 0  # and the frames did change


def test_background_flow_is_the_camera_pan():
    batch = generate_clips(10, seed=5, **PANNING)
    flow, background = batch.flow(2), batch.visible_slot(2) == 0
    for i in range(len(batch)):
        assert torch.equal(
            flow[i][:, background[i]],
            batch.camera[i, :, None].float().expand(2, int(background[i].sum())),
        )


def test_object_flow_is_the_motion_of_its_centre():
    batch = generate_clips(10, seed=6, distractors=0, noise=0.0)
    flow, slot = batch.flow(1), batch.visible_slot(1)
    # at the centre pixel of the actor, the flow is the centre's displacement (scaling adds
    # at most half a pixel times the size change there)
    cx, cy = batch.center[:, 1, 0].floor().long().unbind(-1)
    got = flow[torch.arange(10), :, cy, cx]
    want = batch.center[:, 2, 0] - batch.center[:, 1, 0]
    assert (slot[torch.arange(10), cy, cx] == 1).all()
    assert torch.allclose(got, want, atol=0.1)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="frames"):
        MotionConfig(frames=1)
    with pytest.raises(ValueError, match="stay in the frame"):
        MotionConfig(max_speed=4.0)
    with pytest.raises(ValueError, match="no field"):
        generate_clips(2, speed=3)
    with pytest.raises(ValueError, match="labels"):
        generate_clips(2, labels=torch.tensor([0, 9]))
