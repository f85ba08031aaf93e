"""Shapes-world throughput: ``python -m visioncourse.data.bench``.

The last line per device reads ``shapes world: <N> images/s (64x64, <device>)`` for the
default configuration; the line before it gives the cluttered, textured, overlapping world,
and the one before that the moving world (clips of 8 frames, 32x32, with a panning camera).
"""

from __future__ import annotations

import argparse
import time

import torch

from .motion import MotionConfig, generate_clips
from .shapes import ShapesConfig, generate


def _per_second(make, device: torch.device, seconds: float) -> float:
    """How many times per second ``make(seed)`` runs on ``device`` (after a warm-up)."""
    make(0)  # warm-up (allocations, CUDA context)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += 1
        make(done)
    sync()
    return done / (time.perf_counter() - start)


def images_per_second(
    config: ShapesConfig, device: torch.device, batch: int, seconds: float
) -> float:
    return batch * _per_second(
        lambda s: generate(batch, config, seed=s, device=device), device, seconds
    )


def clips_per_second(
    config: MotionConfig, device: torch.device, batch: int, seconds: float
) -> float:
    return batch * _per_second(
        lambda s: generate_clips(batch, config, seed=s, device=device), device, seconds
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    args = parser.parse_args(argv)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    plain = ShapesConfig(image_size=args.size)
    busy = plain.replace(max_objects=5, max_overlap=0.3, background="texture", clutter=6)
    for device in devices:
        batch = 1024 if device.type == "cpu" else 32768
        name = (
            f"{device.type}, {torch.get_num_threads()} threads"
            if device.type == "cpu"
            else torch.cuda.get_device_name(0)
        )
        moving = MotionConfig(camera=1, min_speed=0.8, max_speed=1.2, max_size=0.35)
        rate = clips_per_second(moving, device, batch // 8, args.seconds)
        print(
            f"  moving world: {rate:,.0f} clips/s = {rate * moving.frames:,.0f} frames/s "
            f"(8 frames of 32x32 with flow available, {name})"
        )
        rate = images_per_second(busy, device, batch, args.seconds)
        print(
            f"  cluttered/textured/overlapping: {rate:,.0f} images/s ({args.size}x{args.size}, {name})"
        )
        rate = images_per_second(plain, device, batch, args.seconds)
        print(f"shapes world: {rate:,.0f} images/s ({args.size}x{args.size}, {name})")


if __name__ == "__main__":
    main()
