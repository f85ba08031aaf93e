"""Where the notebook runs: device, fast/full mode, seeding and the setup banner.

Every chapter starts with ``rt = setup()`` and takes its sizes from one ``sizes(...)`` call,
so the same code runs as a 90-second CPU lesson (fast) or a longer GPU run (full).
"""

from __future__ import annotations

import os
import platform
import random
import sys
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch

MODES = ("fast", "full", "auto")
MODE_ENV = "COURSE_MODE"


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def get_device() -> torch.device:
    """The best device visible: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def get_mode(mode: str | None = None) -> str:
    """Resolve the course mode: ``fast`` or ``full``.

    ``mode`` defaults to the ``COURSE_MODE`` environment variable, then ``auto``. ``auto``
    means full when a CUDA GPU is visible (the only device the full-mode budgets assume) and
    fast otherwise.
    """
    raw = mode if mode is not None else os.environ.get(MODE_ENV, "auto")
    value = str(raw).strip().lower()
    if value not in MODES:
        raise ValueError(f"{MODE_ENV} must be one of {', '.join(MODES)}; got {raw!r}")
    if value == "auto":
        return "full" if torch.cuda.is_available() else "fast"
    return value


def sizes(fast: dict, full: dict, mode: str | None = None) -> SimpleNamespace:
    """Pick this notebook's sizes (data, epochs, image size...) for the current mode.

    Both dicts must have the same keys, so switching mode never leaves a size undefined.
    """
    if set(fast) != set(full):
        missing = sorted(set(fast) ^ set(full))
        raise ValueError(f"fast and full sizes must have the same keys; differ on {missing}")
    chosen = fast if get_mode(mode) == "fast" else full
    return SimpleNamespace(**chosen)


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The mixed-precision type for training on ``device``, or None for full float32.

    bfloat16 on CUDA GPUs of compute capability 8.0 and up (A100, H100, RTX 30xx...): it
    needs no loss scaling. float16 below that (the T4 of free Colab, V100), which has no
    native bfloat16 and needs a gradient scaler. None on the CPU and elsewhere: autocast
    there is slower than float32 for these small networks.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return None
    major, _ = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU generator with that seed."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds code that uses the legacy global RNG
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass(frozen=True)
class Runtime:
    mode: str
    device: torch.device
    seed: int
    threads: int

    @property
    def fast(self) -> bool:
        return self.mode == "fast"

    def banner(self) -> str:
        where = "Colab" if in_colab() else platform.node() or "local"
        gpu = f" ({torch.cuda.get_device_name(0)})" if self.device.type == "cuda" else ""
        return (
            f"mode: {self.mode} | device: {self.device}{gpu} | torch {torch.__version__} | "
            f"{self.threads} CPU threads | seed {self.seed} | {where}"
        )


def setup(seed: int = 0, mode: str | None = None, quiet: bool = False) -> Runtime:
    """Seed everything, resolve mode and device, and print one line saying so."""
    seed_everything(seed)
    rt = Runtime(
        mode=get_mode(mode), device=get_device(), seed=seed, threads=torch.get_num_threads()
    )
    if not quiet:
        print(rt.banner())
    return rt


DOWNLOAD_ENV = "COURSE_DOWNLOAD"


def pretrained_weights(weights) -> tuple[bool, str]:
    """Whether a chapter may use torchvision pretrained ``weights`` (a weights enum member)
    without surprising anyone: True when the file is already in torch's cache, or when the
    user allowed downloads with ``COURSE_DOWNLOAD=1``. Also returns where the file lives (or
    would), so a chapter can tell the user where to put it. Never downloads anything itself.
    """
    path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(weights.url))
    return os.path.exists(path) or os.environ.get(DOWNLOAD_ENV) == "1", path
