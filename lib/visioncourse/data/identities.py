"""Object identities for metric learning: a fine-grained variant of the shapes world.

An identity is a (shape, hue) pair: ``HUES`` hues evenly spaced around the colour wheel
times the shape classes, so neighbouring identities differ by a small step of hue. Two
images of one identity differ in everything else (size, position, brightness, background,
clutter, noise), as two photos of one person do. Identities with an even hue index are
the ones a model may train on; the odd ones, between them, are never seen in training.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .shapes import SHAPE_NAMES, ShapesConfig, render, sample_scene

HUES = 24
NUM_IDENTITIES = HUES * len(SHAPE_NAMES)


def hue_to_rgb(hue: Tensor, saturation: float = 0.85, value: float = 0.9) -> Tensor:
    """HSV -> RGB for hues in [0, 1): Tensor[N] -> Tensor[N, 3]."""
    k = (torch.tensor([5.0, 3.0, 1.0], device=hue.device) + hue[:, None] * 6) % 6
    return value - value * saturation * torch.clamp(torch.minimum(k, 4 - k), 0, 1)


def identity_parts(ids: Tensor) -> tuple[Tensor, Tensor]:
    """(shape index, hue index) of each identity."""
    return ids // HUES, ids % HUES


def seen_in_training(ids: Tensor) -> Tensor:
    """True for the identities a model may train on (even hue index)."""
    return identity_parts(ids)[1] % 2 == 0


def sample_identities(n: int, seen: bool, seed: int = 0, device="cpu") -> Tensor:
    """``n`` identity labels drawn uniformly from the seen (or the unseen) half."""
    pool = torch.arange(NUM_IDENTITIES, device=device)
    pool = pool[seen_in_training(pool) == seen]
    g = torch.Generator(device=device).manual_seed(seed)
    return pool[torch.randint(len(pool), (n,), generator=g, device=device)]


def identity_images(ids: Tensor, image_size: int = 20, seed: int = 0,
                    config: ShapesConfig | None = None) -> Tensor:  # fmt: skip
    """One image (Tensor[N, 3, S, S] in [0, 1]) of each identity in ``ids`` (Tensor[N] long).

    The object's hue is the identity's; its brightness is scaled by a factor between 0.78
    and 1.14 and its colour moved by a little noise, so two neighbouring hues can look alike. Everything else comes from the
    shapes world with ``config`` (by default a textured background with two clutter specks).
    """
    config = config or ShapesConfig(image_size=image_size, max_objects=1, num_shapes=4,
                                    min_size=0.4, max_size=0.8, background="texture",
                                    clutter=2, noise=0.04, elongation=1)  # fmt: skip
    if config.max_objects != 1:
        raise ValueError("identity_images: config must have max_objects=1 (one object per image)")
    device = ids.device
    g = torch.Generator(device=device).manual_seed(seed)
    scene = sample_scene(len(ids), config, g, device)
    shape, hue = identity_parts(ids)
    scene.shape[:, 0] = shape
    brightness = 0.78 + 0.36 * torch.rand(len(ids), 1, generator=g, device=device)
    rgb = hue_to_rgb(hue.float() / HUES) * brightness
    rgb = rgb + 0.03 * torch.randn(len(ids), 3, generator=g, device=device)
    scene.rgb[:, 0] = rgb.clamp(0, 1)
    return render(scene, config, g).images
