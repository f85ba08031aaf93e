"""The shapes world in motion: clips whose label is defined by how an object moves, and the
exact optical flow between consecutive frames.

A clip holds one **actor**, whose motion gives the label, and optional **distractors** that
drift at random. The label is a direction of motion or a change of size; every class has an
opposite (``left`` ↔ ``right``, ``approaching`` ↔ ``receding``, ...), and a clip played
backwards is a clip of the opposite class: the set of frames alone cannot tell the two apart,
only their order can. The camera may pan by whole pixels per frame, moving the (textured)
background and every object with it.

Everything is generated in batches with tensor operations, on the CPU or the GPU, and the same
(n, config, seed, device) gives the same clips. Objects are rasterised by the image world's
renderer, so a clip's frames look like its images.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

from .shapes import (
    COLOR_RGB,
    Scene,
    ShapesConfig,
    _add_noise,
    _generator,
    _separable,
    _separable_boxes,
    _uniform,
    checked_replace,
)
from .shapes import (
    _background as _texture,
)

MOTION_CLASSES = ("left", "right", "up", "down", "approaching", "receding")
OPPOSITE = torch.tensor([1, 0, 3, 2, 5, 4])  # the class of a clip played backwards


@dataclass(frozen=True)
class MotionConfig:
    """Parameters of the moving world. Sizes are fractions of the image side, speeds pixels
    per frame.

    Attributes:
        frames: T, frames per clip (at least 2).
        image_size: side H = W of every frame.
        distractors: objects besides the actor, drifting at random (0 to 3).
        num_shapes, num_colors: as in ``ShapesConfig``.
        min_size, max_size: the actor's side in the middle frame.
        min_speed, max_speed: the actor's speed along its direction (left/right/up/down).
        growth: per-frame size factor of an approaching actor (a receding one shrinks by
            its inverse); its translation is then a slow drift of at most ``max_drift``.
        max_drift: speed of the actor across its direction, and of the distractors.
        camera: largest camera pan per frame, whole pixels in x and y (0: a still camera).
        noise: pixel noise of every frame.
    """

    frames: int = 8
    image_size: int = 32
    distractors: int = 1
    num_shapes: int = 4
    num_colors: int = 5
    min_size: float = 0.25
    max_size: float = 0.4
    min_speed: float = 1.0
    max_speed: float = 2.0
    growth: float = 1.08
    max_drift: float = 0.4
    camera: int = 0
    noise: float = 0.02

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(f"MotionConfig: {msg}")

        if self.frames < 2:
            bad(f"frames must be at least 2; got {self.frames}")
        if not 0 <= self.distractors <= 3:
            bad(f"distractors must be between 0 and 3; got {self.distractors}")
        if not 0 < self.min_size <= self.max_size < 1:
            bad(f"need 0 < min_size <= max_size < 1; got {self.min_size}, {self.max_size}")
        if not 0 < self.min_speed <= self.max_speed:
            bad(f"need 0 < min_speed <= max_speed; got {self.min_speed}, {self.max_speed}")
        if self.growth <= 1:
            bad(f"growth must be above 1; got {self.growth}")
        if self.max_drift < 0 or self.camera < 0 or self.noise < 0:
            bad("max_drift, camera and noise must be >= 0")
        travel = (self.max_speed + self.camera) * (self.frames - 1)
        largest = self.max_size * self.growth ** ((self.frames - 1) / 2)
        if travel + largest * self.image_size > self.image_size:
            bad("objects cannot stay in the frame: lower max_speed, max_size, growth or frames, "
                "or raise image_size")  # fmt: skip

    def replace(self, **changes) -> MotionConfig:
        """A copy with some fields changed (and checked again)."""
        return checked_replace(self, changes)


@dataclass
class ClipBatch:
    """n clips of T frames with K = 1 + distractors objects; slot 0 is the actor.

    * ``clips`` (n, T, 3, H, W) float in [0, 1];
    * ``labels`` (n,) long, index into ``MOTION_CLASSES``;
    * ``boxes`` (n, T, K, 4) xyxy pixel-edge boxes of the full (amodal) objects;
    * ``center`` (n, T, K, 2) and ``radius`` (n, T, K): the objects' motion, in pixels, in
      image coordinates (camera included);
    * ``camera`` (n, 2) long: the pan per frame (the background's flow), pixels.
    """

    clips: Tensor
    labels: Tensor
    boxes: Tensor
    center: Tensor
    radius: Tensor
    shape: Tensor  # (n, K) long
    camera: Tensor
    config: MotionConfig

    def __len__(self) -> int:
        return self.clips.shape[0]

    def scene(self, t: int) -> Scene:
        """The objects of frame t as an image-world ``Scene`` (present slots: all K)."""
        n, K = self.shape.shape
        rgb = torch.zeros(n, K, 3, device=self.clips.device)
        return Scene(present=torch.ones_like(self.shape, dtype=torch.bool), shape=self.shape,
                     color=torch.zeros_like(self.shape), rgb=rgb, radius=self.radius[:, t],
                     center=self.center[:, t])  # fmt: skip

    def visible_slot(self, t: int) -> Tensor:
        """(n, H, W) long: which object is seen at each pixel of frame t, 0 for the
        background, k + 1 for slot k (later slots are painted over earlier ones)."""
        along_x, along_y = _separable(self.scene(t), self.config.image_size)
        inside = along_x <= along_y  # (n, K, H, W)
        ids = torch.arange(1, inside.shape[1] + 1, device=inside.device)[None, :, None, None]
        return (inside * ids).amax(1)

    def flow(self, t: int) -> Tensor:
        """Exact optical flow from frame t to frame t + 1: (n, 2, H, W), (dx, dy) in pixels
        at every pixel centre of frame t, as torchvision's flow models output it. A pixel of
        object k at p moves to ``c' + (r'/r)(p − c)``; the background moves with the camera."""
        return self._flow(t, self.visible_slot(t))

    def _flow(self, t: int, slot: Tensor) -> Tensor:
        n, side = len(self), self.config.image_size
        coords = torch.arange(side, device=self.clips.device, dtype=torch.float32) + 0.5
        p = torch.stack(torch.meshgrid(coords, coords, indexing="xy"))  # (2, H, W): x, y
        c0, c1 = self.center[:, t], self.center[:, t + 1]  # (n, K, 2)
        s = (self.radius[:, t + 1] / self.radius[:, t])[..., None, None, None]  # (n, K, 1, 1, 1)
        moved = c1[..., None, None] + s * (p - c0[..., None, None])  # (n, K, 2, H, W)
        per_object = moved - p
        background = self.camera.float()[:, :, None, None].expand(n, 2, side, side)
        flows = torch.cat((background[:, None], per_object), dim=1)  # (n, 1 + K, 2, H, W)
        return flows.gather(1, slot[:, None, None].expand(n, 1, 2, side, side))[:, 0]

    def occlusion(self, t: int) -> Tensor:
        """(n, H, W) bool: pixels of frame t whose point is not visible in frame t + 1 —
        it leaves the image, or lands (nearest pixel) on another object or on the background
        where it was an object (and the reverse)."""
        n, side = len(self), self.config.image_size
        slot = self.visible_slot(t)  # (n, H, W)
        flow = self._flow(t, slot)
        coords = torch.arange(side, device=flow.device, dtype=torch.float32)
        target_x = (coords[None, None, :] + flow[:, 0]).round().long()
        target_y = (coords[None, :, None] + flow[:, 1]).round().long()
        outside = (target_x < 0) | (target_x >= side) | (target_y < 0) | (target_y >= side)
        index = target_y.clamp(0, side - 1) * side + target_x.clamp(0, side - 1)
        seen_next = (
            self.visible_slot(t + 1).view(n, -1).gather(1, index.view(n, -1)).view(n, side, side)
        )
        return outside | (seen_next != slot)

    def reversed(self) -> ClipBatch:
        """The same clips played backwards, labelled with the opposite classes."""
        return ClipBatch(
            clips=self.clips.flip(1), labels=OPPOSITE.to(self.labels.device)[self.labels],
            boxes=self.boxes.flip(1), center=self.center.flip(1), radius=self.radius.flip(1),
            shape=self.shape, camera=-self.camera, config=self.config,
        )  # fmt: skip

    def to(self, device) -> ClipBatch:
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in moved.items():
            if isinstance(value, Tensor):
                moved[name] = value.to(device)
        return ClipBatch(**moved)


def _background(n: int, side: int, pad: int, gen: torch.Generator, device) -> Tensor:
    """One textured backdrop per clip (the image world's texture), larger than a frame by
    ``pad`` on every side."""
    base = _uniform((n, 1, 1, 1), 0.05, 0.3, gen, device)
    return _texture(base, ShapesConfig(image_size=side + 2 * pad, background="texture"), gen)


def generate_clips(n: int, config: MotionConfig | None = None, *, seed: int = 0, device="cpu",
                   labels: Tensor | None = None, **overrides) -> ClipBatch:  # fmt: skip
    """``n`` clips of the moving shapes world, classes balanced at random (or ``labels``).

    ``overrides`` change config fields for this call: ``generate_clips(8, frames=4)``.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int; got {n!r}")
    cfg = config or MotionConfig()
    if overrides:
        cfg = cfg.replace(**overrides)
    device = torch.device(device)
    gen = _generator(seed, device)
    T, side, K = cfg.frames, cfg.image_size, 1 + cfg.distractors
    if labels is None:
        labels = torch.randint(len(MOTION_CLASSES), (n,), generator=gen, device=device)
    labels = labels.to(device)
    if labels.shape != (n,) or labels.min() < 0 or labels.max() >= len(MOTION_CLASSES):
        raise ValueError(f"labels must be (n,) class indices below {len(MOTION_CLASSES)}")
    t = torch.arange(T, device=device, dtype=torch.float32) - (T - 1) / 2  # time around the middle

    # sizes: the middle frame's radius, then growth or shrinkage for the size classes
    radius_mid = _uniform((n, K), cfg.min_size * side / 2, cfg.max_size * side / 2, gen, device)
    log_growth = torch.zeros(n, K, device=device)
    log_growth[:, 0] = torch.where(labels == 4, 1.0, torch.where(labels == 5, -1.0, 0.0))
    log_growth = log_growth * torch.log(torch.tensor(cfg.growth, device=device))
    radius = radius_mid[:, None] * torch.exp(log_growth[:, None] * t[None, :, None])  # (n, T, K)

    # velocities: the actor's direction from its label, drift for everything else
    velocity = _uniform((n, K, 2), -cfg.max_drift, cfg.max_drift, gen, device)
    speed = _uniform((n,), cfg.min_speed, cfg.max_speed, gen, device)
    direction = torch.tensor([[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0], [0, 0]],
                             device=device, dtype=torch.float32)[labels]  # fmt: skip
    along = direction != 0
    velocity[:, 0] = torch.where(along, direction * speed[:, None], velocity[:, 0])

    # the camera pans by whole pixels: in the image, everything moves by the pan as well
    camera = torch.randint(-cfg.camera, cfg.camera + 1, (n, 2), generator=gen, device=device)
    seen_velocity = velocity + camera[:, None].float()

    # centres: anywhere that keeps every frame's object inside the image
    r_max = radius.amax(1)  # (n, K)
    reach = seen_velocity.abs() * (T - 1) / 2  # (n, K, 2) how far it travels from the middle
    low, high = r_max[..., None] + reach, side - r_max[..., None] - reach
    middle = low + torch.rand((n, K, 2), generator=gen, device=device) * (high - low).clamp(min=0)
    center = middle[:, None] + seen_velocity[:, None] * t[None, :, None, None]  # (n, T, K, 2)

    shape = torch.randint(0, cfg.num_shapes, (n, K), generator=gen, device=device)
    color = torch.randint(0, cfg.num_colors, (n, K), generator=gen, device=device)
    rgb = torch.tensor(COLOR_RGB, device=device)[color]

    # render all n·T frames at once: objects by the image world's rasteriser, painted over a
    # backdrop that the camera pans across
    flat = Scene(
        present=torch.ones((n * T, K), dtype=torch.bool, device=device),
        shape=shape.repeat_interleave(T, 0), color=color.repeat_interleave(T, 0),
        rgb=rgb.repeat_interleave(T, 0), radius=radius.reshape(n * T, K),
        center=center.reshape(n * T, K, 2),
    )  # fmt: skip
    along_x, along_y = _separable(flat, side)
    inside = along_x <= along_y  # (n·T, K, H, W)
    pad = cfg.camera * (T - 1)
    backdrop = _background(n, side, pad, gen, device)
    # frame t shows the window whose origin moves against the pan: objects and background
    # then share the camera's motion
    offset = pad - camera[:, None] * torch.arange(T, device=device)[None, :, None]  # (n, T, 2)
    rows = offset[..., 1, None] + torch.arange(side, device=device)  # (n, T, H)
    cols = offset[..., 0, None] + torch.arange(side, device=device)  # (n, T, W)
    frames = backdrop[:, None].expand(n, T, 3, *backdrop.shape[-2:])
    frames = frames.gather(3, rows[:, :, None, :, None].expand(n, T, 3, side, backdrop.shape[-1]))
    frames = frames.gather(4, cols[:, :, None, None, :].expand(n, T, 3, side, side))
    frames = frames.reshape(n * T, 3, side, side)
    for k in range(K):  # slot order is painting order
        frames = torch.where(inside[:, k, None], flat.rgb[:, k, :, None, None], frames)
    if cfg.noise:
        frames = _add_noise(frames.contiguous(), cfg.noise, gen)
    return ClipBatch(
        clips=frames.clamp_(0, 1).view(n, T, 3, side, side),
        labels=labels,
        boxes=_separable_boxes(along_x, along_y).view(n, T, K, 4),
        center=center,
        radius=radius,
        shape=shape,
        camera=camera,
        config=cfg,
    )
