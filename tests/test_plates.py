"""The plate world: seeded, shaped, decodable, and its degradations do what they say."""

import math

import pytest
import torch

from visioncourse.data import plates

SMALL = plates.PlateConfig(height=16, width=64, scale=2, shift=1.5, blur=(0.0, 3.0))


def test_sequences_are_deterministic_and_shaped():
    a = plates.plate_sequences(6, 4, SMALL, seed=3)
    b = plates.plate_sequences(6, 4, SMALL, seed=3)
    assert torch.equal(a.frames, b.frames) and torch.equal(a.codes, b.codes)
    assert (
        a.codes.shape == (6, 5)
        and a.plates.shape == (6, 1, 16, 64)
        and a.frames.shape == (6, 4, 1, 8, 32)
    )
    assert 0 <= a.frames.min() and a.frames.max() <= 1
    other = plates.plate_sequences(6, 4, SMALL, seed=4)
    assert not torch.equal(a.frames, other.frames) and not torch.equal(a.codes, other.codes)


def test_frames_of_a_plate_differ_but_show_it():
    seq = plates.plate_sequences(3, 5, SMALL, seed=0)
    assert not torch.equal(seq.frames[:, 0], seq.frames[:, 1])  # each frame its own degradation
    clean = torch.nn.functional.avg_pool2d(seq.plates, 2)
    mean_frame = seq.frames.mean(1)
    own = (mean_frame - clean).abs().mean()
    swapped = (mean_frame - clean.roll(1, 0)).abs().mean()
    assert own < swapped  # frames resemble their own plate more than another one


def test_codes_encode_and_decode():
    codes = plates.encode(["0A9XT", "12345"])
    assert codes.shape == (2, 5) and plates.decode(codes) == ["0A9XT", "12345"]
    scores = torch.nn.functional.one_hot(codes, len(plates.CHARS)).float()
    assert plates.decode(scores) == ["0A9XT", "12345"]
    seq = plates.plate_sequences(4, 1, SMALL, seed=1)
    assert plates.encode(seq.strings).tolist() == seq.codes.tolist()
    with pytest.raises(ValueError, match="not in CHARS"):
        plates.encode(["AB?DE"])
    with pytest.raises(ValueError, match="same length"):
        plates.encode(["AB", "ABC"])


def test_glyph_bank_has_distinct_glyphs():
    bank = plates.glyph_bank(20, 14)
    assert bank.shape == (len(plates.CHARS), 20, 14) and 0 <= bank.min() and bank.max() <= 1
    flat = bank.flatten(1)
    distance = torch.cdist(flat, flat) + torch.eye(len(flat)) * 1e9
    assert distance.min() > 0.5  # no two characters look alike
    assert (flat.sum(1) > 5).all()  # every glyph has ink
    bank[0] = 0  # a copy: the cache is untouched
    assert plates.glyph_bank(20, 14)[0].sum() > 0


def test_render_changes_only_the_changed_character():
    cfg = plates.PlateConfig()
    a, b = plates.encode(["11111", "11811"])
    images = plates.render(torch.stack((a, b)), cfg)
    assert images.shape == (2, 1, 32, 128)
    differ = (images[0, 0] != images[1, 0]).any(0).nonzero()[:, 0]
    assert len(differ) > 0 and 50 < differ.float().mean() < 78  # the middle cell of 128 pixels
    with pytest.raises(ValueError, match="class indices"):
        plates.render(torch.full((1, 5), len(plates.CHARS)), cfg)


def test_motion_kernels_sum_to_one_and_point_along_the_angle():
    k = plates.motion_kernels(torch.tensor([0.0, 6.0, 6.0]), torch.tensor([0.0, 0.0, math.pi / 2]))
    assert torch.allclose(k.sum((1, 2)), torch.ones(3))
    c = k.shape[-1] // 2
    assert k[0, c, c] == 1  # no blur: the identity
    assert k[1, c].sum() > 0.99 and k[2, :, c].sum() > 0.99  # horizontal, then vertical


def test_blur_pairs_are_aligned():
    pairs = plates.blur_pairs(5, plates.PlateConfig(blur=(4.0, 12.0)), seed=2, noise=0.0)
    assert torch.allclose(torch.nn.functional.avg_pool2d(pairs.hr, 4), pairs.lr_clean)
    assert torch.allclose(pairs.lr, pairs.lr_clean)  # no noise asked
    assert pairs.hr.shape == (5, 1, 32, 128) and pairs.lr_blurred.shape == (5, 1, 8, 32)
    assert (pairs.blur >= 4).all() and (pairs.blur <= 12).all()
    assert (pairs.hr - pairs.hr_blurred).abs().mean() > 0.01  # blurred
    fixed = plates.blur_pairs(3, seed=2, blur=torch.tensor(0.0))
    assert torch.allclose(fixed.hr, fixed.hr_blurred, atol=1e-6)
    again = plates.blur_pairs(5, plates.PlateConfig(blur=(4.0, 12.0)), seed=2, noise=0.0)
    assert torch.equal(pairs.lr_blurred, again.lr_blurred)


def test_config_is_checked():
    with pytest.raises(ValueError, match="divisible"):
        plates.PlateConfig(height=30, scale=4)
    with pytest.raises(ValueError, match="range"):
        plates.PlateConfig(noise=(0.1, 0.0))
    with pytest.raises(ValueError, match="unknown"):
        plates.checked_config(colour=3)
    assert plates.checked_config(length=4).length == 4
