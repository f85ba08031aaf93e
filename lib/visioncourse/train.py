"""A small training loop for data generated on the fly, with tqdm progress and timing."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from visioncourse.runtime import autocast_dtype


@dataclass
class History:
    """What ``fit`` measured: the loss at every step and the wall-clock time."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    images: int = 0

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0

    def smoothed(self, window: int = 20) -> list[float]:
        """Running mean of the loss over ``window`` steps, for plots."""
        out, total = [], 0.0
        for i, value in enumerate(self.losses):
            total += value - (self.losses[i - window] if i >= window else 0.0)
            out.append(total / min(i + 1, window))
        return out


def fit(model: torch.nn.Module, batches: Callable[[int], tuple], loss_fn: Callable[..., torch.Tensor],
        steps: int, lr: float = 1e-3, weight_decay: float = 0.0, desc: str = "training",
        progress: bool = True, amp: bool = False) -> History:  # fmt: skip
    """Train ``model`` for ``steps`` steps of AdamW with a cosine learning-rate decay.

    Args:
        batches: ``step -> (inputs, *targets)``; ``inputs`` is a batch tensor on the model's
            device, or a tuple of arguments for the model whose first one is the batch (a
            detector's ``(images, targets)``, say).
        loss_fn: ``(model(inputs), *targets) -> scalar loss``.
        amp: mixed precision on a GPU, in the type ``runtime.autocast_dtype`` picks for it:
            bfloat16 from compute capability 8.0, float16 with a gradient scaler below (a T4);
            ignored on the CPU. Weights stay float32.
    Returns:
        History: per-step loss, seconds and images seen.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=steps, pct_start=0.15
    )
    history = History()
    device = next(model.parameters()).device
    dtype = autocast_dtype(device) if amp else None
    # float16 gradients underflow without loss scaling; bfloat16 has float32's range.
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
    model.train()
    start = time.perf_counter()
    # leave=True: a closed notebook bar would leave an empty output area behind; the finished
    # bar shows the steps, the time and the last loss instead.
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=True)
    for step in bar:
        inputs, *targets = batches(step)
        args = inputs if isinstance(inputs, tuple) else (inputs,)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = loss_fn(model(*args), *targets)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"{desc}: the loss became {loss.item()} at step {step}; lower lr"
            )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        schedule.step()
        history.losses.append(loss.item())
        history.images += len(args[0])
        if step % 20 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{history.smoothed()[-1]:.3f}")
    history.seconds = time.perf_counter() - start
    model.eval()
    return history


@contextmanager
def timer():
    """``with timer() as t: ...`` then ``t.seconds``; waits for the GPU before reading."""

    class _T:
        seconds = 0.0

    t = _T()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    try:
        yield t
    finally:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t.seconds = time.perf_counter() - start
