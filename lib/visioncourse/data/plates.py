"""The plate world: short codes printed on a plate, seen in many degraded low-resolution frames.

A **code** is ``length`` characters from ``CHARS``. Its clean high-resolution (HR) plate is
composed by tensor indexing into a **glyph bank**: every character drawn once with the
DejaVu Sans Bold font that ships with matplotlib (rendered by PIL, then cached). Each frame of
a sequence sees the same plate through its own degradation:

1. a random **affine jitter** (rotation, zoom, shear, shift) — the camera or the car moves;
2. a **motion blur** along a random direction, of a random length in HR pixels;
3. **downsampling** by ``scale`` (the mean of each ``scale × scale`` block: area sampling);
4. a random change of **contrast and brightness**, and Gaussian **noise**.

Everything is vectorised over the batch (no Python loop per image or pixel), every random
number comes from one seeded ``torch.Generator`` on the CPU, so the same (n, config, seed)
gives the same data on every device. Images are grey levels in [0, 1], shaped
``(N, 1, H, W)``; sequences ``(N, T, 1, h, w)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

CHARS = "0123456789ABCEHKMPTX"  # 20 classes: digits and letters common on plates


@dataclass(frozen=True)
class PlateConfig:
    """Parameters of the plate world. Lengths are in HR pixels; angles in degrees.

    Attributes:
        length: characters per code.
        height, width: the HR plate (both divisible by ``scale``).
        scale: downsampling factor from HR to the low-resolution frames.
        rotation, shear: largest absolute rotation and shear of the affine jitter.
        zoom: the jitter's scale lies in ``[1 - zoom, 1 + zoom]``.
        shift: largest absolute shift in x and y.
        blur: ``(lo, hi)`` range of the motion-blur length (0: no blur).
        noise: ``(lo, hi)`` range of the noise's standard deviation, per frame.
        contrast: frames scale the plate's contrast by a factor in ``[1 - contrast, 1]``.
    """

    length: int = 5
    height: int = 32
    width: int = 128
    scale: int = 4
    rotation: float = 4.0
    shear: float = 4.0
    zoom: float = 0.08
    shift: float = 3.0
    blur: tuple[float, float] = (0.0, 6.0)
    noise: tuple[float, float] = (0.02, 0.08)
    contrast: float = 0.5

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ValueError(f"length must be at least 1; got {self.length}")
        if self.scale < 1 or self.height % self.scale or self.width % self.scale:
            raise ValueError(
                f"height and width must be divisible by scale; got {self.height}×{self.width}, "
                f"scale {self.scale}"
            )
        if self.width < self.length * 8 or self.height < 12:
            raise ValueError(f"a {self.height}×{self.width} plate is too small for {self.length} characters")  # fmt: skip
        for name in ("blur", "noise"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must be a range (lo, hi) with 0 <= lo <= hi; got {(lo, hi)}")  # fmt: skip
        if not 0 <= self.contrast < 1:
            raise ValueError(f"contrast must be in [0, 1); got {self.contrast}")

    @property
    def low_res(self) -> tuple[int, int]:
        """(h, w) of a low-resolution frame."""
        return self.height // self.scale, self.width // self.scale


def checked_config(config: PlateConfig | None = None, **changes) -> PlateConfig:
    """``config`` (default ``PlateConfig()``) with ``changes``; unknown names raise."""
    config = config or PlateConfig()
    known = {f.name for f in fields(PlateConfig)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(f"unknown PlateConfig fields {unknown}; known: {sorted(known)}")
    return replace(config, **changes)


# ----------------------------------------------------------------------------- codes


def encode(codes: list[str] | str) -> Tensor:
    """Strings of ``CHARS`` -> ``(N, L)`` long tensor of class indices (equal lengths)."""
    if isinstance(codes, str):
        codes = [codes]
    if len({len(c) for c in codes}) > 1:
        raise ValueError("all codes must have the same length")
    bad = sorted({ch for c in codes for ch in c if ch not in CHARS})
    if bad:
        raise ValueError(f"characters {bad} are not in CHARS = {CHARS!r}")
    return torch.tensor([[CHARS.index(ch) for ch in c] for c in codes], dtype=torch.long)


def decode(indices: Tensor) -> list[str]:
    """``(N, L)`` class indices (or ``(N, L, C)`` scores: their arg-max) -> list of strings."""
    if indices.dim() == 3:
        indices = indices.argmax(-1)
    if indices.dim() != 2:
        raise ValueError(f"indices must be (N, L) or (N, L, C); got {tuple(indices.shape)}")
    return ["".join(CHARS[i] for i in row) for row in indices.tolist()]


def random_codes(n: int, length: int, generator: torch.Generator) -> Tensor:
    """``(n, length)`` uniform random class indices."""
    return torch.randint(len(CHARS), (n, length), generator=generator)


# ----------------------------------------------------------------------------- glyphs


def font_path() -> str:
    """The bold DejaVu Sans font file that ships with matplotlib."""
    import matplotlib

    return f"{matplotlib.get_data_path()}/fonts/ttf/DejaVuSans-Bold.ttf"


@lru_cache(maxsize=8)
def _glyph_bank(height: int, width: int) -> Tensor:
    from PIL import Image, ImageDraw, ImageFont

    size = 96  # render large, then shrink by area averaging
    font = ImageFont.truetype(font_path(), size)
    canvas = (size * 2, size * 2)
    images = []
    for ch in CHARS:
        image = Image.new("L", canvas, 0)
        ImageDraw.Draw(image).text((size // 2, size // 4), ch, fill=255, font=font)
        images.append(
            torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).view(*canvas[::-1])
        )
    ink = torch.stack(images).float() / 255  # (C, 2·size, 2·size)
    rows = ink.amax((0, 2)).nonzero()[:, 0]
    top, bottom = (
        rows.min().item(),
        rows.max().item() + 1,
    )  # one box for all glyphs: a common baseline
    columns = [(g.amax(0) > 0).nonzero()[:, 0] for g in ink]
    half = (
        max(int(c.max() - c.min() + 1) for c in columns) // 2 + 1
    )  # cells as wide as the widest glyph
    centres = [(c.min() + c.max() + 1) // 2 for c in columns]  # each glyph centred in its cell
    bank = torch.stack([g[top:bottom, m - half : m + half] for g, m in zip(ink, centres)])[:, None]
    return F.interpolate(bank, size=(height, width), mode="area")[:, 0].clamp(0, 1)


def glyph_bank(height: int, width: int) -> Tensor:
    """Every character of ``CHARS`` rendered once: ``(C, height, width)`` ink in [0, 1]
    (1 = fully inked). Cached; a copy is returned, so callers may modify it."""
    if height < 4 or width < 3:
        raise ValueError(f"glyphs need at least 4×3 pixels; got {height}×{width}")
    return _glyph_bank(int(height), int(width)).clone()


def render(codes: Tensor, config: PlateConfig | None = None) -> Tensor:
    """Clean HR plates of ``codes (N, L)``: ``(N, 1, height, width)`` grey levels.

    A light plate with a dark frame, the characters dark, side by side in equal cells —
    composed by indexing the glyph bank (no loop over plates)."""
    config = config or PlateConfig()
    if codes.dim() != 2 or codes.shape[1] != config.length:
        raise ValueError(f"codes must be (N, {config.length}); got {tuple(codes.shape)}")
    if codes.numel() and (codes.min() < 0 or codes.max() >= len(CHARS)):
        raise ValueError(f"codes must be class indices in [0, {len(CHARS)})")
    h, w, n_chars = config.height, config.width, config.length
    glyph_h = round(h * 0.62)
    cell_w = (w - 2 * round(h * 0.25)) // n_chars
    glyph_w = round(cell_w * 0.86)
    bank = glyph_bank(glyph_h, glyph_w).to(codes.device)
    ink = bank[codes]  # (N, L, gh, gw)
    ink = F.pad(ink, ((cell_w - glyph_w) // 2, cell_w - glyph_w - (cell_w - glyph_w) // 2))
    ink = ink.permute(0, 2, 1, 3).reshape(len(codes), glyph_h, n_chars * cell_w)
    top, left = (h - glyph_h) // 2, (w - n_chars * cell_w) // 2
    ink = F.pad(ink, (left, w - left - n_chars * cell_w, top, h - top - glyph_h))
    frame = torch.ones(h, w, device=codes.device)
    edge = max(1, h // 16)
    frame[edge:-edge, edge:-edge] = 0
    plate = 0.9 - 0.8 * torch.maximum(ink, frame)
    return plate[:, None]


# ----------------------------------------------------------------------------- degradation


def _uniform(shape, lo: float, hi: float, generator: torch.Generator) -> Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=generator)


def affine_jitter(images: Tensor, config: PlateConfig, generator: torch.Generator) -> Tensor:
    """Each image of ``(N, 1, H, W)`` through its own random rotation, zoom, shear and shift
    (bilinear sampling; outside the plate the border is repeated)."""
    n, _, h, w = images.shape
    rot = torch.deg2rad(_uniform(n, -config.rotation, config.rotation, generator))
    shear = torch.deg2rad(_uniform(n, -config.shear, config.shear, generator))
    zoom = _uniform(n, 1 - config.zoom, 1 + config.zoom, generator)
    shift = _uniform((n, 2), -config.shift, config.shift, generator)
    # in pixel units, then normalised: affine_grid maps output coords to input coords
    cos, sin, tan = torch.cos(rot), torch.sin(rot), torch.tan(shear)
    a = torch.stack(
        (torch.stack((cos, -sin + tan * cos), -1), torch.stack((sin, cos + tan * sin), -1)), 1
    )
    a = a / zoom[:, None, None]
    size = torch.tensor([w / 2, h / 2])
    matrix = a / size[None, :, None] * size[None, None, :]  # pixels -> normalised coordinates
    translation = -shift / size
    theta = torch.cat((matrix, translation[:, :, None]), 2).to(images)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def motion_kernels(lengths: Tensor, angles: Tensor, size: int | None = None) -> Tensor:
    """Linear motion-blur kernels: a segment of ``lengths (N,)`` pixels through the centre at
    ``angles (N,)`` radians, anti-aliased, each kernel summing to 1.

    Returns:
        Tensor[N, size, size], ``size`` odd (by default just enough for the longest).
    """
    if lengths.dim() != 1 or angles.shape != lengths.shape:
        raise ValueError(f"lengths and angles must be (N,); got {tuple(lengths.shape)} and {tuple(angles.shape)}")  # fmt: skip
    if (lengths < 0).any():
        raise ValueError("lengths must be non-negative")
    if size is None:
        size = 2 * math.ceil(float(lengths.max()) / 2 if len(lengths) else 0) + 3
    if size % 2 == 0:
        raise ValueError(f"size must be odd; got {size}")
    r = torch.arange(size, dtype=torch.float32, device=lengths.device) - size // 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    dx, dy = torch.cos(angles)[:, None, None], torch.sin(angles)[:, None, None]
    along = x * dx + y * dy
    across = (-x * dy + y * dx).abs()
    half = lengths[:, None, None] / 2
    weight = (1 - across).clamp(min=0) * (half + 0.5 - along.abs()).clamp(0, 1)
    centre = ((x == 0) & (y == 0)).to(weight)
    weight = torch.where(half > 0, weight, centre)  # length 0: exactly no blur
    return weight / weight.sum((1, 2), keepdim=True)


def motion_blur(images: Tensor, lengths: Tensor, angles: Tensor) -> Tensor:
    """Blur each image of ``(N, 1, H, W)`` with its own motion kernel (one grouped
    convolution; the border is repeated)."""
    n, c, h, w = images.shape
    if c != 1 or lengths.shape != (n,):
        raise ValueError(f"images must be (N, 1, H, W) with N lengths; got {tuple(images.shape)}")
    kernels = motion_kernels(lengths.float().cpu(), angles.float().cpu()).to(images)
    k = kernels.shape[-1]
    padded = F.pad(images.reshape(1, n, h, w), (k // 2,) * 4, mode="replicate")
    return F.conv2d(padded, kernels[:, None], groups=n).reshape(n, 1, h, w)


def downsample(images: Tensor, scale: int) -> Tensor:
    """Area downsampling: the mean of each ``scale × scale`` block."""
    return F.avg_pool2d(images, scale) if scale > 1 else images


def _photometric(images: Tensor, config: PlateConfig, generator: torch.Generator) -> Tensor:
    n = len(images)
    contrast = _uniform(n, 1 - config.contrast, 1.0, generator).to(images)[:, None, None, None]
    level = _uniform(n, -0.1, 0.1, generator).to(images)[:, None, None, None]
    sigma = _uniform(n, *config.noise, generator).to(images)[:, None, None, None]
    noise = torch.randn(images.shape, generator=generator).to(images)
    return ((images - 0.5) * contrast + 0.5 + level + sigma * noise).clamp(0, 1)


def degrade(hr: Tensor, config: PlateConfig, generator: torch.Generator) -> Tensor:
    """One low-resolution frame per HR plate ``(N, 1, H, W)`` -> ``(N, 1, H/s, W/s)``:
    affine jitter, motion blur, downsampling, contrast and noise, each drawn per frame."""
    n = len(hr)
    moved = affine_jitter(hr, config, generator)
    lengths = _uniform(n, *config.blur, generator)
    angles = _uniform(n, 0.0, math.pi, generator)
    return _photometric(
        downsample(motion_blur(moved, lengths, angles), config.scale), config, generator
    )


# ----------------------------------------------------------------------------- datasets


@dataclass
class PlateSequences:
    """``codes (N, L)`` long, ``plates (N, 1, H, W)`` clean HR plates, ``frames (N, T, 1, h, w)``
    degraded low-resolution frames of each plate."""

    codes: Tensor
    plates: Tensor
    frames: Tensor

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def strings(self) -> list[str]:
        return decode(self.codes)


def plate_sequences(n: int, frames: int, config: PlateConfig | None = None, seed: int = 0,
                    device: torch.device | str = "cpu") -> PlateSequences:  # fmt: skip
    """``n`` random codes, each seen in ``frames`` independently degraded low-res frames."""
    config = config or PlateConfig()
    if n < 0 or frames < 1:
        raise ValueError(f"need n >= 0 and frames >= 1; got n={n}, frames={frames}")
    g = torch.Generator().manual_seed(int(seed))
    codes = random_codes(n, config.length, g)
    plates = render(codes, config)
    hr = plates.repeat_interleave(frames, 0)  # (n·T, 1, H, W), the frames of a plate together
    low = degrade(hr, config, g).view(n, frames, 1, *config.low_res)
    return PlateSequences(codes.to(device), plates.to(device), low.to(device))


@dataclass
class BlurPairs:
    """Aligned images of the same plates for super-resolution and deblurring.

    ``hr`` (N, 1, H, W): the sharp HR target (the plate after its affine jitter);
    ``hr_blurred``: it, motion-blurred; ``lr``: ``hr`` downsampled, with noise;
    ``lr_clean``: ``hr`` downsampled, no noise; ``lr_blurred``: ``hr_blurred`` downsampled,
    with the same noise as ``lr``; ``blur (N,)``: each blur's length in HR pixels; ``codes``.
    """

    codes: Tensor
    hr: Tensor
    hr_blurred: Tensor
    lr: Tensor
    lr_clean: Tensor
    lr_blurred: Tensor
    blur: Tensor

    def __len__(self) -> int:
        return len(self.codes)


def blur_pairs(n: int, config: PlateConfig | None = None, seed: int = 0, noise: float = 0.02,
               blur: Tensor | None = None, device: torch.device | str = "cpu") -> BlurPairs:  # fmt: skip
    """``n`` jittered HR plates and their blurred / low-resolution versions.

    ``blur`` (N,) fixes each blur length (HR pixels); by default they are drawn from
    ``config.blur``. ``noise`` is the standard deviation of the Gaussian noise of the LR
    inputs (no contrast change here: the target's grey levels must be recoverable).
    """
    config = config or PlateConfig()
    g = torch.Generator().manual_seed(int(seed))
    codes = random_codes(n, config.length, g)
    hr = affine_jitter(render(codes, config), config, g)
    lengths = (
        _uniform(n, *config.blur, g)
        if blur is None
        else torch.as_tensor(blur, dtype=torch.float32).expand(n)
    )
    angles = _uniform(n, 0.0, math.pi, g)
    hr_blurred = motion_blur(hr, lengths, angles)
    lr_clean = downsample(hr, config.scale)
    noise_map = noise * torch.randn(lr_clean.shape, generator=g)
    lr = (lr_clean + noise_map).clamp(0, 1)
    lr_blurred = (downsample(hr_blurred, config.scale) + noise_map).clamp(0, 1)
    out = [t.to(device) for t in (codes, hr, hr_blurred, lr, lr_clean, lr_blurred, lengths.clone())]
    return BlurPairs(*out)
