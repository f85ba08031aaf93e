"""The shapes world: a seeded, vectorised generator of small scenes with exact labels.

A scene is drawn in two steps, so later chapters can reuse the first one:

1. ``sample_scene`` draws the *parameters* of every object (class, colour, size, aspect
   ratio, centre) as tensors of shape ``(n, K)``, with ``K = max_objects`` slots per image;
2. ``render`` turns parameters into pixels, instance masks, boxes and the semantic mask.

Videos (move the centres over time), flow pairs (render twice with a known displacement) and
question/answer pairs (read the attributes) are all functions of the same ``Scene``.

Everything is batched torch on the device you pass: no Python loop per image or per pixel
(the only loops run over the K object slots, K <= 12).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cached_property

import torch
import torch.nn.functional as F
from torch import Tensor

SHAPE_NAMES = ("circle", "square", "triangle", "diamond")
COLOR_NAMES = ("red", "green", "blue", "yellow", "magenta")
COLOR_RGB = (
    (0.90, 0.15, 0.15),
    (0.15, 0.75, 0.20),
    (0.20, 0.35, 0.95),
    (0.95, 0.85, 0.15),
    (0.85, 0.25, 0.85),
)
SIZE_NAMES = ("small", "large")
# Per-class aspect-ratio priors, as people are tall and cars are wide: the centre of each
# class's log(width / height), in units of log(elongation). Circles are drawn as ellipses
# lying flat, squares as standing rectangles, triangles and diamonds around 1:1.
ASPECT_PRIOR = (0.6, -0.6, 0.0, 0.0)
MIN_SIDE = 3  # pixels: the shortest side an object's box may have
ASPECT_JITTER = 0.4  # half-width of the uniform spread around the prior, same units
BACKGROUNDS = ("plain", "noise", "texture")
MAX_SLOTS = 12


def checked_replace(config, changes: dict):
    """``dataclasses.replace`` that names the fields it does not know instead of a TypeError."""
    known = {f.name for f in fields(config)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(
            f"{type(config).__name__} has no field(s) {unknown}; fields are {sorted(known)}"
        )
    return replace(config, **changes)


@dataclass(frozen=True)
class ShapesConfig:
    """Parameters of the shapes world. Sizes are fractions of the image side.

    Attributes:
        image_size: side H = W of the square images, in pixels.
        min_objects, max_objects: objects per image (uniform in between, at most 8).
        num_shapes: shape classes used, the first ones of ``SHAPE_NAMES`` (3 or 4).
        num_colors: colours used, the first ones of ``COLOR_NAMES`` (1 to 5).
        min_size, max_size: size of an object's box as a fraction of ``image_size``: the
            geometric mean of its width and height (its side when it is square).
        elongation: the largest aspect ratio (width:height or height:width) the class priors
            reach; 1 gives the first edition's world where every box is a square. With the
            default 3, circles become wide ellipses (1.25:1 to 3:1), squares standing
            rectangles (1:3 to 1:1.25) and triangles vary around 1:1 (1:1.55 to 1.55:1).
            Small objects are less elongated where needed: no side is under ``MIN_SIDE``
            (3) pixels, and none is longer than the image.
        max_overlap: largest IoU allowed between two objects' (continuous) boxes; 0 keeps
            them apart, 1 lets them overlap freely (the later object occludes the earlier one).
            An object that finds no place within the limit is dropped, so a crowded config
            can give fewer than ``min_objects`` objects (never fewer than one).
        background: ``plain`` (flat grey), ``noise`` (grainy) or ``texture`` (blotchy).
        clutter: distractor specks per image, painted under the objects.
        noise: standard deviation of the pixel noise added to every image.
        color_jitter: how far an object's colour may wander from its named colour.
    """

    image_size: int = 64
    min_objects: int = 1
    max_objects: int = 3
    num_shapes: int = 3
    num_colors: int = 3
    min_size: float = 0.2
    max_size: float = 0.45
    elongation: float = 3.0
    max_overlap: float = 0.0
    background: str = "plain"
    clutter: int = 0
    noise: float = 0.02
    color_jitter: float = 0.08

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(f"ShapesConfig: {msg}")

        if self.image_size < 8:
            bad(f"image_size must be at least 8 pixels; got {self.image_size}")
        if not 1 <= self.min_objects <= self.max_objects <= MAX_SLOTS:
            bad(
                f"need 1 <= min_objects <= max_objects <= {MAX_SLOTS}; "
                f"got {self.min_objects}, {self.max_objects}"
            )
        if not 3 <= self.num_shapes <= len(SHAPE_NAMES):
            bad(f"num_shapes must be between 3 and {len(SHAPE_NAMES)}; got {self.num_shapes}")
        if not 1 <= self.num_colors <= len(COLOR_NAMES):
            bad(f"num_colors must be between 1 and {len(COLOR_NAMES)}; got {self.num_colors}")
        if not 0 < self.min_size <= self.max_size <= 1:
            bad(f"need 0 < min_size <= max_size <= 1; got {self.min_size}, {self.max_size}")
        if not 1 <= self.elongation <= 6:
            bad(f"elongation must be in [1, 6]; got {self.elongation}")
        if self.min_size * self.image_size < MIN_SIDE:
            bad(f"objects would be under {MIN_SIDE} pixels wide: raise min_size or image_size")
        if not 0 <= self.max_overlap <= 1:
            bad(f"max_overlap must be in [0, 1]; got {self.max_overlap}")
        if self.background not in BACKGROUNDS:
            bad(f"background must be one of {BACKGROUNDS}; got {self.background!r}")
        if self.clutter < 0 or self.noise < 0 or self.color_jitter < 0:
            bad("clutter, noise and color_jitter must be >= 0")

    def replace(self, **changes) -> ShapesConfig:
        """A copy with some fields changed (and checked again)."""
        return checked_replace(self, changes)

    @property
    def shape_names(self) -> tuple[str, ...]:
        return SHAPE_NAMES[: self.num_shapes]

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names by label: 0 is the background, as in torchvision's detectors."""
        return ("background",) + self.shape_names

    @property
    def color_names(self) -> tuple[str, ...]:
        return COLOR_NAMES[: self.num_colors]


@dataclass
class Scene:
    """Object parameters for n images with K slots; slots with ``present`` False are empty.

    Present slots come first in every row. Painting order is slot order: a later slot
    occludes an earlier one.
    """

    present: Tensor  # (n, K) bool
    shape: Tensor  # (n, K) long, index into SHAPE_NAMES
    color: Tensor  # (n, K) long, index into COLOR_NAMES
    rgb: Tensor  # (n, K, 3) float, the jittered colour actually painted
    radius: Tensor  # (n, K) float, sqrt(half-width * half-height) of the object, in pixels
    center: Tensor  # (n, K, 2) float, (cx, cy) in pixels
    aspect: Tensor | None = None  # (n, K) float, width / height; None means all 1 (squares)

    def __post_init__(self) -> None:
        if self.aspect is None:
            self.aspect = torch.ones_like(self.radius)

    @property
    def half_sizes(self) -> Tensor:
        """(n, K, 2): the half-width and half-height of each object, in pixels."""
        return _half_sizes(self.radius, self.aspect)

    def __getitem__(self, idx) -> Scene:
        """The scenes of some images: ``idx`` is a slice, a list or tensor of indices, or a
        mask (an int would drop the image dimension: use ``scene[i : i + 1]``)."""
        return Scene(*(getattr(self, f.name)[idx] for f in fields(self)))

    @property
    def labels(self) -> Tensor:
        """(n, K) long: shape class + 1 for present slots, 0 (background) for empty ones."""
        return torch.where(self.present, self.shape + 1, torch.zeros_like(self.shape))


def _generator(seed: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed))


def _uniform(shape, lo, hi, gen, device) -> Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=gen, device=device)


def _half_sizes(radius: Tensor, aspect: Tensor) -> Tensor:
    root = aspect.sqrt()
    return torch.stack((radius * root, radius / root), dim=-1)


def _extent_boxes(center: Tensor, half: Tensor) -> Tensor:
    """Continuous boxes (..., 4) from centres (..., 2) and half-sizes (..., 2)."""
    return torch.cat((center - half, center + half), dim=-1)


def _aspects(shape: Tensor, radius: Tensor, cfg: ShapesConfig, gen, device) -> Tensor:
    """Width / height per object from its class prior, kept inside the image."""
    log_e = torch.log(torch.tensor(cfg.elongation, device=device))
    prior = torch.tensor(ASPECT_PRIOR, device=device)[shape]
    spread = _uniform(shape.shape, -ASPECT_JITTER, ASPECT_JITTER, gen, device)
    aspect = torch.exp(((prior + spread) * log_e).clamp(-log_e, log_e))
    # Both sides 2r * sqrt(a) and 2r / sqrt(a) must fit in the image, a <= (side / 2r)^2, and
    # be at least MIN_SIDE pixels long, a <= (2r / MIN_SIDE)^2; the same bounds hold for 1 / a.
    limit = torch.minimum((cfg.image_size / (2 * radius)) ** 2, (2 * radius / MIN_SIDE) ** 2)
    return torch.minimum(torch.maximum(aspect, 1 / limit), limit)


def sample_scene(n: int, config: ShapesConfig, gen: torch.Generator, device) -> Scene:
    """Draw the parameters of ``n`` scenes (see ``Scene``)."""
    cfg, K, side = config, config.max_objects, config.image_size
    count = torch.randint(cfg.min_objects, K + 1, (n, 1), generator=gen, device=device)
    present = torch.arange(K, device=device)[None, :] < count
    shape = torch.randint(0, cfg.num_shapes, (n, K), generator=gen, device=device)
    color = torch.randint(0, cfg.num_colors, (n, K), generator=gen, device=device)
    palette = torch.tensor(COLOR_RGB, device=device)[color]
    jitter = _uniform((n, K, 3), -cfg.color_jitter, cfg.color_jitter, gen, device)
    rgb = (palette + jitter).clamp(0, 1)
    radius = _uniform((n, K), cfg.min_size * side / 2, cfg.max_size * side / 2, gen, device)
    # elongation 1 draws nothing, so the square world's random stream stays as it was
    aspect = _aspects(shape, radius, cfg, gen, device) if cfg.elongation > 1 else None
    half = _half_sizes(radius, aspect if aspect is not None else torch.ones_like(radius))

    # Place objects slot by slot. Each slot draws CANDIDATES centres at once and keeps the
    # first one whose box overlaps no earlier object by more than max_overlap (vectorised
    # over images); an object with no fitting candidate is dropped. Slot 0 always fits, so
    # every image keeps at least one object.
    candidates = 1 if cfg.max_overlap >= 1 else 16
    u = torch.rand((n, K, candidates, 2), generator=gen, device=device)
    h = half[:, :, None]
    options = h + u * (side - 2 * h)  # (n, K, C, 2), every box inside the image
    center = options[:, :, 0].clone()
    area = (2 * half).prod(-1)  # (n, K)
    for k in range(1, K if candidates > 1 else 0):
        boxes_k = _extent_boxes(options[:, k], half[:, k, None])  # (n, C, 4)
        placed = _extent_boxes(center[:, :k], half[:, :k])  # (n, k, 4)
        lt = torch.max(boxes_k[:, :, None, :2], placed[:, None, :, :2])
        rb = torch.min(boxes_k[:, :, None, 2:], placed[:, None, :, 2:])
        inter = (rb - lt).clamp(min=0).prod(-1)  # (n, C, k)
        area_k = area[:, k, None, None]
        area_j = area[:, None, :k]
        iou = inter / (area_k + area_j - inter)
        clash = ((iou > cfg.max_overlap) & present[:, None, :k]).any(-1)  # (n, C)
        fits = ~clash
        first = fits.to(torch.uint8).argmax(-1)  # first fitting candidate (0 if none fits)
        center[:, k] = options[torch.arange(n, device=device), k, first]
        present[:, k] &= fits.any(-1)
    # Keep present slots first so that row i's objects are slots 0..count_i - 1.
    order = torch.argsort((~present).to(torch.uint8), dim=1, stable=True)
    take = lambda t: torch.gather(t, 1, order.view(n, K, *([1] * (t.dim() - 2))).expand_as(t))  # noqa: E731
    return Scene(
        present=take(present),
        shape=take(shape),
        color=take(color),
        rgb=take(rgb),
        radius=take(radius),
        center=take(center),
        aspect=None if aspect is None else take(aspect),
    )


def _separable(scene: Scene, image_size: int) -> tuple[Tensor, Tensor]:
    """Every shape is the set of pixels where ``along_x[x] <= along_y[y]``.

    Returns along_x (n, K, 1, W) and along_y (n, K, H, 1). One broadcast comparison then
    rasterises all slots at once, and a slot's box follows from the two vectors alone.
    Absent slots get along_y = -1, which no pixel satisfies. An elongated object is its
    square shape stretched: x offsets are divided by sqrt(aspect), y offsets multiplied.
    """
    device = scene.center.device
    coords = torch.arange(image_size, device=device, dtype=torch.float32) + 0.5  # pixel centres
    root = scene.aspect.sqrt()[..., None]
    dx = (coords - scene.center[..., 0, None]).abs() / root  # (n, K, W)
    dy = (coords - scene.center[..., 1, None]) * root  # (n, K, H)
    r = scene.radius[..., None]
    kind = scene.shape[..., None]
    is_circle = kind == 0
    along_x = torch.where(is_circle, dx * dx, dx)
    along_y = torch.where(
        is_circle,
        r * r - dy * dy,  # circle: dx^2 <= r^2 - dy^2
        torch.where(
            kind == 1,
            r.expand_as(dy),  # square: |dx| <= r
            torch.where(kind == 2, (dy + r) / 2, r - dy.abs()),  # triangle, apex up / diamond
        ),
    )
    inside_rows = (dy.abs() <= r) & scene.present[..., None]
    along_y = torch.where(inside_rows, along_y, torch.full_like(along_y, -1.0))
    return along_x[..., None, :], along_y[..., :, None]


def shape_masks(scene: Scene, image_size: int) -> Tensor:
    """Full (amodal) masks of every slot: (n, K, H, W) bool, empty for absent slots."""
    along_x, along_y = _separable(scene, image_size)
    return along_x <= along_y


def _separable_boxes(along_x: Tensor, along_y: Tensor) -> Tensor:
    """Tight pixel boxes of the amodal masks, (n, K, 4), without touching the H x W grid:
    column x is used iff along_x[x] <= max_y along_y, row y iff min_x along_x <= along_y[y]."""
    cols = along_x[..., 0, :] <= along_y[..., 0].amax(-1, keepdim=True)  # (n, K, W)
    rows = along_x[..., 0, :].amin(-1, keepdim=True) <= along_y[..., 0]  # (n, K, H)
    return _edges_to_boxes(cols, rows)


def _edges_to_boxes(cols: Tensor, rows: Tensor) -> Tensor:
    W, H = cols.shape[-1], rows.shape[-1]
    x1 = cols.to(torch.uint8).argmax(-1)
    x2 = W - cols.flip(-1).to(torch.uint8).argmax(-1)
    y1 = rows.to(torch.uint8).argmax(-1)
    y2 = H - rows.flip(-1).to(torch.uint8).argmax(-1)
    boxes = torch.stack((x1, y1, x2, y2), dim=-1).float()
    return boxes * cols.any(-1, keepdim=True)


def masks_to_pixel_boxes(masks: Tensor) -> Tensor:
    """Tight boxes enclosing whole pixels: masks (..., H, W) bool -> (..., 4) xyxy float.

    Unlike ``torchvision.ops.masks_to_boxes`` (inclusive pixel indices), x2 and y2 are the
    far edges of the last pixel, so a one-pixel mask has area 1. Empty masks give zeros.
    """
    return _edges_to_boxes(masks.any(dim=-2), masks.any(dim=-1))


_NOISE_BANKS: dict[tuple[int, str], Tensor] = {}


def _noise_bank(image_size: int, device: torch.device, size: int = 64) -> Tensor:
    """``size`` fixed standard-normal noise images (size, 3, H, W), made once per device.

    Drawing fresh Gaussian noise for every pixel costs more than drawing the whole scene;
    picking one of 64 fixed noise fields per image (seeded choice, random flips) looks the
    same to a network and keeps the generator fast and still deterministic.
    """
    key = (image_size, str(device))
    if key not in _NOISE_BANKS:
        gen = _generator(1234, device)
        _NOISE_BANKS[key] = torch.randn(
            (size, 3, image_size, image_size), generator=gen, device=device
        )
    return _NOISE_BANKS[key]


def _add_noise(images: Tensor, std: float, gen: torch.Generator) -> Tensor:
    """Add noise field ``(offset + i) % 64`` of the bank to image i, in place.

    The offset is drawn from ``gen``; a broadcast add over chunks of 64 images avoids
    materialising a per-image copy of the noise.
    """
    n, side = images.shape[0], images.shape[-1]
    bank = _noise_bank(side, images.device)
    offset = int(torch.randint(0, bank.shape[0], (1,), generator=gen, device=images.device))
    bank = bank.roll(-offset, 0)
    full = n - n % bank.shape[0]
    if full:
        images[:full].view(-1, *bank.shape).add_(bank, alpha=std)
    if n > full:
        images[full:].add_(bank[: n - full], alpha=std)
    return images


def _background(base: Tensor, cfg: ShapesConfig, gen: torch.Generator) -> Tensor:
    """Non-plain backgrounds around the grey level ``base`` (n, 1, 1, 1): (n, 3, H, W)."""
    n, side, device = base.shape[0], cfg.image_size, base.device
    if cfg.background == "noise":
        return _add_noise(base.expand(n, 3, side, side).clone(), 0.08, gen)
    # texture: low-frequency colour blotches, upsampled from a coarse random grid
    coarse = torch.rand((n, 3, max(side // 8, 2), max(side // 8, 2)), generator=gen, device=device)
    blotches = F.interpolate(coarse, size=(side, side), mode="bilinear", align_corners=False)
    return blotches.sub_(0.5).mul_(0.35).add_(base)


def _paint_clutter(images: Tensor, cfg: ShapesConfig, gen: torch.Generator) -> Tensor:
    """Small square specks in random colours: things that are not objects."""
    n, side, device = images.shape[0], cfg.image_size, images.device
    c = cfg.clutter
    specks = Scene(
        present=torch.ones((n, c), dtype=torch.bool, device=device),
        shape=torch.ones((n, c), dtype=torch.long, device=device),
        color=torch.zeros((n, c), dtype=torch.long, device=device),
        rgb=torch.rand((n, c, 3), generator=gen, device=device),
        radius=_uniform((n, c), 0.5, 1.5, gen, device),
        center=_uniform((n, c, 2), 0, side, gen, device),
    )
    return _paint(images, shape_masks(specks, side), specks.rgb)


def _paint(images: Tensor, masks: Tensor, rgb: Tensor) -> Tensor:
    for k in range(masks.shape[1]):  # slot order is painting order
        images = torch.where(masks[:, k, None], rgb[:, k, :, None, None], images)
    return images


@dataclass
class DetectionBatch:
    """Images with their objects, padded to K slots per image (empty slots: label 0, zero
    box, empty mask) — the format of the shapes world and of the real-photo loaders:

    * ``images`` (n, 3, H, W) float in [0, 1];
    * ``boxes`` (n, K, 4) xyxy float, in pixel-edge coordinates;
    * ``labels`` (n, K) long, 1..num_classes, 0 for empty slots; objects fill the first slots;
    * ``masks`` (n, K, H, W) bool, visible pixels of each instance;
    * ``semantic`` (n, H, W) long, the label of the object seen at each pixel, 0 elsewhere.

    ``targets()`` gives torchvision's per-image dicts.
    """

    images: Tensor
    boxes: Tensor
    labels: Tensor
    masks: Tensor
    semantic: Tensor

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def present(self) -> Tensor:
        return self.labels > 0

    @property
    def num_objects(self) -> Tensor:
        return self.present.sum(1)

    def targets(self) -> list[dict[str, Tensor]]:
        """Per image ``{"boxes": (k, 4), "labels": (k,), "masks": (k, H, W) uint8}``: the
        target format of torchvision's detection models."""
        counts = self.num_objects.tolist()
        return [
            {
                "boxes": self.boxes[i, :c],
                "labels": self.labels[i, :c],
                "masks": self.masks[i, :c].to(torch.uint8),
            }
            for i, c in enumerate(counts)
        ]


@dataclass
class ShapesBatch(DetectionBatch):
    """One batch of the shapes world (the fields of ``DetectionBatch``, boxes enclosing each
    whole shape), plus the scene that drew it; ``captions`` gives a sentence per image."""

    scene: Scene
    config: ShapesConfig

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names, index 0 = background (as ``PhotoBatch.classes``)."""
        return self.config.classes

    def to(self, device) -> ShapesBatch:
        move = lambda t: t.to(device)  # noqa: E731
        scene = Scene(**{f.name: move(getattr(self.scene, f.name)) for f in fields(Scene)})
        return ShapesBatch(
            move(self.images), move(self.boxes), move(self.labels), move(self.masks),
            move(self.semantic), scene, self.config,
        )  # fmt: skip

    @cached_property
    def captions(self) -> list[str]:
        """One grounded sentence per image, e.g. "a small red circle left of a large blue
        square and a small green triangle": the first object is placed relative to the second
        by the larger offset between their centres."""
        return captions(self.scene, self.config)


def _size_words(scene: Scene, cfg: ShapesConfig) -> Tensor:
    middle = (cfg.min_size + cfg.max_size) / 2 * cfg.image_size / 2
    return (scene.radius >= middle).long()


def relation_words(scene: Scene, a: int = 0, b: int = 1) -> list[str]:
    """Where slot ``a`` is relative to slot ``b`` in each image: left of/right of/above/below."""
    d = scene.center[:, a] - scene.center[:, b]
    horizontal = d[:, 0].abs() >= d[:, 1].abs()
    words = torch.where(horizontal, torch.where(d[:, 0] < 0, 0, 1), torch.where(d[:, 1] < 0, 2, 3))
    names = ("left of", "right of", "above", "below")
    return [names[w] for w in words.tolist()]


def captions(scene: Scene, cfg: ShapesConfig) -> list[str]:
    """Sentences from the grammar: object [relation object] [and object]*."""
    present = scene.present.tolist()
    shapes, colors, sizes = (
        scene.shape.tolist(),
        scene.color.tolist(),
        _size_words(scene, cfg).tolist(),
    )
    relations = relation_words(scene) if scene.present.shape[1] > 1 else None
    out = []
    for i, row in enumerate(present):
        phrases = [
            f"a {SIZE_NAMES[sizes[i][k]]} {COLOR_NAMES[colors[i][k]]} {SHAPE_NAMES[shapes[i][k]]}"
            for k in range(sum(row))
        ]
        text = phrases[0]
        if len(phrases) > 1:
            text += f" {relations[i]} {phrases[1]}"
        for extra in phrases[2:]:
            text += f" and {extra}"
        out.append(text)
    return out


def render(scene: Scene, config: ShapesConfig, gen: torch.Generator) -> ShapesBatch:
    """Pixels, masks, boxes and semantic labels for ``scene``; ``gen`` draws the noise."""
    cfg, n = config, scene.present.shape[0]
    device = scene.center.device
    side, K = cfg.image_size, scene.present.shape[1]
    along_x, along_y = _separable(scene, side)
    amodal = along_x <= along_y  # shape_masks, sharing the vectors with the boxes below
    # Which slot is seen at each pixel (0: background): the last slot covering it wins.
    slot_ids = torch.arange(1, K + 1, device=device, dtype=torch.uint8)[None, :, None, None]
    seen = (amodal * slot_ids).amax(1)  # (n, H, W) uint8
    visible = seen[:, None] == slot_ids
    seen = seen.long().view(n, 1, side * side)
    labels = scene.labels
    semantic = torch.gather(F.pad(labels, (1, 0)), 1, seen[:, 0]).view(n, side, side)
    # Paint by table lookup: entry 0 is the background, entry k the colour of slot k.
    base = _uniform((n, 1, 1, 1), 0.05, 0.3, gen, device)  # background grey level
    table = torch.cat((base[:, :, 0].expand(n, 3, 1), scene.rgb.transpose(1, 2)), dim=2)
    images = torch.gather(table, 2, seen.expand(n, 3, -1)).view(n, 3, side, side)
    if cfg.background != "plain" or cfg.clutter:
        backdrop = (
            base.expand(n, 3, side, side)
            if cfg.background == "plain"
            else _background(base, cfg, gen)
        )
        if cfg.clutter:
            backdrop = _paint_clutter(backdrop, cfg, gen)
        images = torch.where(seen.view(n, 1, side, side) > 0, images, backdrop)
    if cfg.noise:
        images = _add_noise(images, cfg.noise, gen)
    return ShapesBatch(
        images=images.clamp_(0, 1),
        boxes=_separable_boxes(along_x, along_y),
        labels=labels,
        masks=visible,
        semantic=semantic,
        scene=scene,
        config=cfg,
    )


def generate(
    n: int, config: ShapesConfig | None = None, *, seed: int = 0, device="cpu", **overrides
) -> ShapesBatch:
    """Generate ``n`` shapes-world images. Same (n, config, seed, device) -> same batch.

    ``overrides`` change config fields for this call: ``generate(8, max_objects=1)``.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int; got {n!r}")
    config = config or ShapesConfig()
    if overrides:
        config = config.replace(**overrides)
    device = torch.device(device)
    gen = _generator(seed, device)
    scene = sample_scene(n, config, gen, device)
    return render(scene, config, gen)
