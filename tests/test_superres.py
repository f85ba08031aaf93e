"""visioncourse.superres against PyTorch, torchmetrics and scikit-image."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from visioncourse import superres


@pytest.mark.parametrize(
    ("r", "shape"), [(2, (2, 8, 3, 5)), (3, (1, 18, 4, 2)), (4, (3, 16, 2, 3)), (1, (1, 2, 3, 3))]
)
def test_pixel_shuffle_equals_torch(r, shape):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(r))
    assert torch.equal(superres.pixel_shuffle(x, r), nn.PixelShuffle(r)(x))
    assert torch.equal(superres.pixel_unshuffle(superres.pixel_shuffle(x, r), r), x)
    y = torch.randn(2, 3, 4 * r, 2 * r)
    assert torch.equal(superres.pixel_unshuffle(y, r), nn.PixelUnshuffle(r)(y))


def test_pixel_shuffle_places_channels_in_the_block():
    x = torch.arange(4.0).view(1, 4, 1, 1)  # channels 0..3 -> the 2×2 block, row by row
    assert superres.pixel_shuffle(x, 2).flatten().tolist() == [0.0, 1.0, 2.0, 3.0]
    assert superres.pixel_shuffle(x, 2)[0, 0].tolist() == [[0.0, 1.0], [2.0, 3.0]]


def test_pixel_shuffle_rejects_bad_input():
    with pytest.raises(ValueError, match="divisible"):
        superres.pixel_shuffle(torch.zeros(1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match="N, C"):
        superres.pixel_shuffle(torch.zeros(4, 2, 2), 2)
    with pytest.raises(ValueError, match="divisible"):
        superres.pixel_unshuffle(torch.zeros(1, 1, 5, 4), 2)


def test_psnr_equals_torchmetrics_and_scikit_image():
    from skimage.metrics import peak_signal_noise_ratio
    from torchmetrics.image import PeakSignalNoiseRatio

    g = torch.Generator().manual_seed(0)
    target = torch.rand(3, 1, 16, 20, generator=g)
    pred = (target + 0.05 * torch.randn(target.shape, generator=g)).clamp(0, 1)
    ours = superres.psnr(pred, target)
    assert torch.allclose(
        ours.float(), PeakSignalNoiseRatio(data_range=1.0)(pred, target), atol=1e-4
    )
    assert ours.item() == pytest.approx(
        peak_signal_noise_ratio(target.numpy(), pred.numpy(), data_range=1.0), abs=1e-6
    )
    per = superres.psnr(pred, target, per_image=True)
    want = [
        peak_signal_noise_ratio(t.numpy(), p.numpy(), data_range=1.0) for p, t in zip(pred, target)
    ]
    assert per.shape == (3,) and np.allclose(per.numpy(), want, atol=1e-6)
    assert superres.psnr(pred * 255, target * 255, data_range=255.0).item() == pytest.approx(
        ours.item(), abs=1e-6
    )


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_equals_scikit_image(channels):
    from skimage.metrics import structural_similarity

    g = torch.Generator().manual_seed(channels)
    target = torch.rand(2, channels, 24, 30, generator=g)
    pred = (target + 0.1 * torch.randn(target.shape, generator=g)).clamp(0, 1)
    ours = superres.ssim(pred, target)
    want = [structural_similarity(t.numpy(), p.numpy(), gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                  data_range=1.0, channel_axis=0) for p, t in zip(pred, target)]  # fmt: skip
    assert ours.shape == (2,) and np.allclose(ours.numpy(), want, atol=1e-6)
    assert torch.allclose(superres.ssim(target, target), torch.ones(2, dtype=torch.float64))


def test_ssim_is_close_to_but_not_torchmetrics():
    from torchmetrics.image import StructuralSimilarityIndexMeasure

    g = torch.Generator().manual_seed(5)
    target = torch.rand(1, 1, 32, 32, generator=g)
    pred = (target + 0.05 * torch.randn(target.shape, generator=g)).clamp(0, 1)
    theirs = StructuralSimilarityIndexMeasure(data_range=1.0)(pred, target).item()
    ours = superres.ssim(pred, target).item()
    assert (
        abs(ours - theirs) < 0.05 and abs(ours - theirs) > 1e-6
    )  # padding differs: valid vs reflect


def test_ssim_rejects_small_images_and_other_shapes():
    with pytest.raises(ValueError, match="window"):
        superres.ssim(torch.zeros(1, 1, 8, 20), torch.zeros(1, 1, 8, 20))
    with pytest.raises(ValueError, match="same shape"):
        superres.psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9))
    with pytest.raises(ValueError, match="odd"):
        superres.gaussian_window(10)


def test_aggregate_frames_mean_and_max_with_a_mask():
    f = torch.tensor([[[1.0, -2.0], [3.0, 4.0], [100.0, 100.0]]])  # (1, 3, 2)
    mask = torch.tensor([[True, True, False]])
    assert superres.aggregate_frames(f, "avg", mask).tolist() == [[2.0, 1.0]]
    assert superres.aggregate_frames(f, "max", mask).tolist() == [[3.0, 4.0]]
    assert torch.allclose(superres.aggregate_frames(f, "avg"), torch.tensor([[104 / 3, 102 / 3]]))
    neg = -torch.ones(1, 2, 1)  # a masked-out zero must not win the max of negative features
    assert superres.aggregate_frames(neg, "max", torch.tensor([[True, False]])).item() == -1.0
    with pytest.raises(ValueError, match="how"):
        superres.aggregate_frames(f, "median")
    with pytest.raises(ValueError, match="at least one"):
        superres.aggregate_frames(f, "avg", torch.zeros(1, 3, dtype=torch.bool))


def test_voting_counts_frames_and_breaks_ties_by_probability():
    probs = torch.tensor(
        [[[[0.6, 0.4]], [[0.1, 0.9]], [[0.45, 0.55]]]]
    )  # (1, 3, 1, 2): votes 0, 1, 1
    assert superres.majority_vote(probs).tolist() == [[1]]
    assert superres.average_predictions(probs).argmax(-1).tolist() == [[1]]
    two = torch.tensor([[True, True, False]])  # one vote each: the summed probability decides
    assert superres.majority_vote(probs, two).tolist() == [[1]]
    assert superres.majority_vote(probs[:, [0, 2]]).tolist() == [[0]]  # 0.6 + 0.45 > 0.4 + 0.55
    assert torch.allclose(superres.average_predictions(probs, two), torch.tensor([[[0.35, 0.65]]]))


def test_gated_fusion_weights_the_deblurring_features():
    sr, db = torch.ones(2, 3, 4, 4), torch.full((2, 3, 4, 4), 2.0)
    gate = torch.zeros(2, 1, 4, 4)
    gate[:, :, 0, 0] = -0.5
    out = superres.gated_fusion(sr, db, gate)
    assert out[:, :, 0, 0].eq(0).all() and out[:, :, 1:].eq(1).all()
    with pytest.raises(ValueError, match="gate"):
        superres.gated_fusion(sr, db, torch.zeros(2, 2, 4, 4))


def test_bicubic_and_parameter_count():
    x = torch.rand(2, 1, 4, 6)
    assert superres.bicubic(x, 4).shape == (2, 1, 16, 24)
    assert superres.count_parameters(nn.Conv2d(2, 3, 3)) == 2 * 3 * 9 + 3
