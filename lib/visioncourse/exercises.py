"""Feedback for graded exercises, in the student's terms.

Tests in the chapter masters call ``expect_close`` / ``expect_equal``: on failure they raise
an ``AssertionError`` whose message names the exercise, the input, the expected and the
actual value, and a hint. Otter shows that message in ``grader.check`` and in the grading
report.

``use_or_reference`` lets a notebook go on when an exercise is unfinished: a later cell gets
the student's function if it works, else the library's reference, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


def _short(value: Any, limit: int = 300) -> str:
    if isinstance(value, torch.Tensor):
        text = f"tensor{tuple(value.shape)} {value.dtype}: {value.tolist()}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def feedback(exercise: str, message: str, *, inputs: str | None = None, expected: Any = None,
             got: Any = None, hint: str | None = None) -> str:  # fmt: skip
    """Compose one feedback message (shown to students)."""
    lines = [f"{exercise}: {message}"]
    if inputs is not None:
        lines.append(f"  input:    {inputs}")
    if expected is not None:
        lines.append(f"  expected: {_short(expected)}")
    lines.append(f"  got:      {_short(got)}")
    if hint:
        lines.append(f"  hint:     {hint}")
    return "\n".join(lines)


def _fail(exercise, message, inputs, expected, got, hint) -> None:
    raise AssertionError(
        feedback(exercise, message, inputs=inputs, expected=expected, got=got, hint=hint)
    )


def expect_close(exercise: str, got: Any, expected: Any, *, inputs: str | None = None,
                 hint: str | None = None, atol: float = 1e-5, rtol: float = 1e-5) -> None:  # fmt: skip
    """Check that ``got`` is a tensor (or number) equal to ``expected`` within tolerance."""
    expected_t = torch.as_tensor(expected)
    if got is None or got is Ellipsis:
        _fail(exercise, "returned nothing: the exercise is not done yet", inputs, expected, got,
              hint or "replace the `...` with your code and `return` the result")  # fmt: skip
    if isinstance(got, (int, float)) and not isinstance(got, bool):
        got_t = torch.tensor(float(got))
    elif isinstance(got, torch.Tensor):
        got_t = got
    else:
        _fail(exercise, f"should return a tensor, not a {type(got).__name__}", inputs,
              expected, got, hint)  # fmt: skip
    if got_t.shape != expected_t.shape:
        _fail(exercise, f"wrong shape {tuple(got_t.shape)}, expected {tuple(expected_t.shape)}",
              inputs, expected, got, hint)  # fmt: skip
    ok = torch.allclose(got_t.double().cpu(), expected_t.double().cpu(), atol=atol, rtol=rtol,
                        equal_nan=True)  # fmt: skip
    if not ok:
        _fail(exercise, "wrong value", inputs, expected, got, hint)


def expect_equal(exercise: str, got: Any, expected: Any, *, inputs: str | None = None,
                 hint: str | None = None) -> None:  # fmt: skip
    """Check exact equality (tensors element-wise, with matching shape)."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            _fail(exercise, "should return a tensor", inputs, expected, got, hint)
        if got.shape != expected.shape or not torch.equal(got.cpu(), expected.cpu()):
            _fail(exercise, "wrong value", inputs, expected, got, hint)
    elif got != expected:
        _fail(exercise, "wrong value", inputs, expected, got, hint)


def use_or_reference(exercise: str, student_fn: Callable | None, reference_fn: Callable,
                     *probe_args: Any, atol: float = 1e-4) -> Callable:  # fmt: skip
    """Return ``student_fn`` if it agrees with ``reference_fn`` on ``probe_args``; otherwise
    print why and return ``reference_fn`` so the rest of the notebook can run."""
    reason = None
    if not callable(student_fn):
        reason = "is not defined"
    else:
        try:
            got = student_fn(*probe_args)
            if got is None or got is Ellipsis:
                reason = "is not done yet"
            else:
                got, want = torch.as_tensor(got), torch.as_tensor(reference_fn(*probe_args))
                same = got.shape == want.shape and torch.allclose(got.double().cpu(), want.double().cpu(), atol=atol,
                                      equal_nan=True)  # fmt: skip
                if not same:
                    reason = "does not pass its check yet"
        except Exception as err:  # a half-written exercise may raise anything
            reason = f"raised {type(err).__name__}: {err}"
    if reason is None:
        return student_fn
    print(f"{exercise} {reason} — using the reference so you can continue.")
    return reference_fn


def expect_same_regions(exercise: str, got: Any, expected: Tensor, *, inputs: str | None = None,
                        hint: str | None = None) -> None:  # fmt: skip
    """Check that label map ``got`` splits the foreground (label > 0) into the same regions as
    ``expected``, whatever ids it gives them (0 must stay the background)."""
    if not isinstance(got, torch.Tensor):
        _fail(exercise, "should return a tensor", inputs, expected, got, hint)
    if got.shape != expected.shape:
        _fail(exercise, f"wrong shape {tuple(got.shape)}, expected {tuple(expected.shape)}",
              inputs, expected, got, hint)  # fmt: skip
    if not torch.equal(got.cpu() > 0, expected.cpu() > 0):
        _fail(exercise, "the foreground (ids > 0) is wrong", inputs, expected, got, hint)
    fg = expected.cpu() > 0
    a, b = got.cpu()[fg], expected.cpu()[fg]
    pairs = len(torch.unique(torch.stack((a, b)), dim=1).T) if fg.any() else 0
    if not pairs == len(torch.unique(a)) == len(torch.unique(b)):
        _fail(exercise, "wrong regions: some are merged or split", inputs, expected, got, hint)
