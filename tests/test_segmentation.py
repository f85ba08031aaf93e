"""visioncourse.segmentation: Dice loss, connected components (against scipy) and mask
pasting (against a direct per-pixel computation and torchvision's Mask R-CNN pasting)."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
import torch.nn.functional as F

from visioncourse.segmentation import (
    connected_components,
    dice_loss,
    paste_masks,
    unet_decoder_stage,
)


def test_dice_loss_matches_per_class_formula_and_trains():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, generator=g, requires_grad=True)
    target = torch.randint(0, 2, (2, 4, 5), generator=g)  # class 2 absent
    probs = logits.detach().softmax(1)
    per_class = [
        (2 * (probs[:, c] * (target == c)).sum() + 1)
        / (probs[:, c].sum() + (target == c).sum() + 1)
        for c in range(3)
    ]
    loss = dice_loss(logits, target)
    assert loss.item() == pytest.approx(1 - torch.stack(per_class).mean().item(), abs=1e-6)
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    perfect = F.one_hot(target, 3).permute(0, 3, 1, 2).float() * 50
    # A perfect prediction scores 1 on the absent class thanks to eps, 0 without it.
    assert dice_loss(perfect, target).item() == pytest.approx(0.0, abs=1e-6)
    assert dice_loss(perfect, target, eps=0.0).item() == pytest.approx(1 / 3, abs=1e-6)
    with pytest.raises(ValueError, match="need logits"):
        dice_loss(logits[0], target)


@pytest.mark.parametrize("density", [0.3, 0.5, 0.7])
def test_connected_components_match_scipy(density):
    g = torch.Generator().manual_seed(int(density * 10))
    masks = torch.rand(4, 19, 23, generator=g) < density
    masks[0] = False  # an empty image
    ours = connected_components(masks)
    for mask, labels in zip(masks, ours):
        expected, _ = ndi.label(mask.numpy())  # 4-connectivity, raster-order numbering
        np.testing.assert_array_equal(labels.numpy(), expected)
    assert torch.equal(connected_components(masks[1]), ours[1])  # one (H, W) image
    with pytest.raises(ValueError, match="masks must be"):
        connected_components(masks[None])


def test_connected_components_follow_a_spiral():
    # A long winding region needs many propagation rounds; it must still be one region.
    mask = torch.zeros(9, 9, dtype=torch.bool)
    mask[0, :] = mask[:, 8] = mask[8, :] = mask[2:, 0] = mask[2, :7] = mask[2:7, 6] = True
    mask[6, 2:7] = mask[4:7, 2] = mask[4, 2:5] = True
    labels = connected_components(mask)
    assert labels.max() == 1 and torch.equal(labels > 0, mask)


def test_paste_masks_matches_per_pixel_bilinear_sampling():
    g = torch.Generator().manual_seed(7)
    masks = torch.rand(3, 5, 5, generator=g, dtype=torch.float64)
    boxes = torch.tensor([[2.0, 3.0, 9.0, 7.5], [-2.0, 0.5, 4.0, 11.0], [5.2, 5.2, 6.0, 9.0]], dtype=torch.float64)  # fmt: skip
    got = paste_masks(masks, boxes, (12, 10))
    m = masks.shape[-1]

    def sample(mask, u, v):  # bilinear with zeros outside the M x M grid
        value = 0.0
        for uu, wu in ((np.floor(u), 1 - (u - np.floor(u))), (np.floor(u) + 1, u - np.floor(u))):
            for vv, wv in (
                (np.floor(v), 1 - (v - np.floor(v))),
                (np.floor(v) + 1, v - np.floor(v)),
            ):
                if 0 <= uu < m and 0 <= vv < m:
                    value += wu * wv * mask[int(vv), int(uu)].item()
        return value

    for k, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        for y in range(12):
            for x in range(10):
                u = (x + 0.5 - x1) / (x2 - x1) * m - 0.5
                v = (y + 0.5 - y1) / (y2 - y1) * m - 0.5
                assert got[k, y, x].item() == pytest.approx(sample(masks[k], u, v), abs=1e-9)
    with pytest.raises(ValueError, match="need masks"):
        paste_masks(masks[0], boxes, (12, 10))


def test_paste_masks_agrees_with_torchvision_on_smooth_masks():
    from torchvision.models.detection.roi_heads import paste_masks_in_image

    # Discs drawn on a 28 x 28 grid, pasted into 64 x 64 images at various boxes: both
    # pastings binarised at 0.5 cover nearly the same pixels. torchvision keeps Detectron's
    # inclusive-pixel boxes (one pixel wider and taller than ours) and rounds them to whole
    # pixels, so the two differ by about a pixel along the outline.
    yy, xx = torch.meshgrid(torch.arange(28) + 0.5, torch.arange(28) + 0.5, indexing="ij")
    disc = (((xx - 14) ** 2 + (yy - 14) ** 2).sqrt() < 11).float()
    masks = F.avg_pool2d(disc[None, None], 3, 1, 1)[0].expand(4, 28, 28)
    boxes = torch.tensor([[4.0, 6.0, 30.0, 40.0], [20.0, 20.0, 60.0, 36.0], [0.0, 0.0, 64.0, 64.0], [33.0, 5.0, 47.0, 19.0]])  # fmt: skip
    ours = paste_masks(masks, boxes, (64, 64)) > 0.5
    theirs = paste_masks_in_image(masks[:, None], boxes, (64, 64))[:, 0] > 0.5
    iou = (ours & theirs).sum((1, 2)) / (ours | theirs).sum((1, 2))
    assert (iou > 0.8).all() and iou.mean() > 0.9, iou
    sides = (boxes[:, 2:] - boxes[:, :2]).sum(1)
    assert ((ours ^ theirs).sum((1, 2)) <= sides + 2).all()  # about one outline's worth


def test_unet_decoder_stage_crops_the_centre_and_puts_the_upsampled_map_first():
    up = torch.nn.Upsample(scale_factor=2)
    x = torch.arange(4.0).view(1, 1, 2, 2)
    skip = torch.arange(49.0).view(1, 1, 7, 7)
    out = unet_decoder_stage(x, skip, up, torch.nn.Identity())
    assert out.shape == (1, 2, 4, 4)
    assert torch.equal(out[:, 0], up(x)[:, 0])
    assert torch.equal(out[0, 1], skip[0, 0, 1:5, 1:5])  # (7 - 4) // 2 = 1
    # equal sizes: nothing is cropped, and the block sees both
    block = torch.nn.Conv2d(2, 1, 1, bias=False)
    torch.nn.init.ones_(block.weight)
    same = unet_decoder_stage(x, skip[..., :4, :4], up, block)
    assert torch.equal(same, up(x) + skip[..., :4, :4])
    with pytest.raises(ValueError, match="smaller"):
        unet_decoder_stage(x, skip[..., :3, :3], up, torch.nn.Identity())
