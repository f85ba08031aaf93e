"""Feedback for graded exercises, in the student's terms.

Tests in the chapter masters call ``expect_close`` / ``expect_equal``: on failure they raise
an ``AssertionError`` whose message names the exercise, the input, the expected and the
actual value, and a hint. Otter shows that message in ``grader.check`` and in the grading
report.

``use_or_reference`` lets a notebook go on when an exercise is unfinished: a later cell gets
the student's function if it works, else the library's reference, and says so.
"""

from __future__ import annotations

import ast
import inspect
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor


def _short(value: Any, limit: int = 300) -> str:
    if isinstance(value, torch.Tensor):
        shown = value.flatten()[:limit].tolist()  # never the whole of a huge tensor
        body = value.tolist() if value.numel() <= limit else f"{shown} ..."
        text = f"tensor{tuple(value.shape)} {value.dtype}: {body}"
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


def _not_done(exercise, got, inputs, expected, hint) -> None:
    """An unfinished exercise returns None (or the ``...`` placeholder): say so plainly."""
    if got is None or got is Ellipsis:
        _fail(exercise, "returned nothing: the exercise is not done yet", inputs, expected, got,
              "replace the `...` with your code and `return` the result")  # fmt: skip


def expect_close(exercise: str, got: Any, expected: Any, *, inputs: str | None = None,
                 hint: str | None = None, atol: float = 1e-5, rtol: float = 1e-5) -> None:  # fmt: skip
    """Check that ``got`` is a tensor (or number) equal to ``expected`` within tolerance."""
    expected_t = torch.as_tensor(expected)
    _not_done(exercise, got, inputs, expected, hint)
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
        _not_done(exercise, got, inputs, expected, hint)
        if not isinstance(got, torch.Tensor):
            _fail(exercise, f"should return a tensor, not a {type(got).__name__}", inputs,
                  expected, got, hint)  # fmt: skip
        if got.shape != expected.shape or not torch.equal(got.cpu(), expected.cpu()):
            _fail(exercise, "wrong value", inputs, expected, got, hint)
    else:
        _not_done(exercise, got, inputs, expected, hint)
        if got != expected:
            _fail(exercise, "wrong value", inputs, expected, got, hint)


class _NotDone(Exception):
    """Raised inside ``use_or_reference`` when the student's function returns None."""


def _caller_globals(depth: int = 2) -> dict:
    """The globals of the notebook (or module) that called into this file."""
    return sys._getframe(depth).f_globals


def use_or_reference(exercise: str, student: str | Callable | None, reference_fn: Callable,
                     *probe_args: Any, atol: float = 1e-4,
                     adapt: Callable[[Callable], Callable] | None = None) -> Callable:  # fmt: skip
    """Return the student's function if it agrees with ``reference_fn`` on ``probe_args``;
    otherwise print why and return ``reference_fn`` so the rest of the notebook can run.

    ``student`` is best given by *name* (``"masks_to_boxes"``): it is looked up in the
    notebook's globals, so a cell that was skipped gives the friendly fallback instead of a
    ``NameError``. ``adapt`` turns either function into one that returns a tensor to compare
    (a loss that returns a tuple, say); the function returned is never adapted.
    """
    if isinstance(student, str):
        student_fn = _caller_globals().get(student)
        undefined = f"(`{student}`) is not defined: run its cell above"
    else:
        student_fn, undefined = student, "is not defined"
    adapt = adapt or (lambda fn: fn)
    reason = None
    if not callable(student_fn):
        reason = undefined
    else:

        def watched(*args, **kwargs):  # an unfinished exercise returns None (or `...`)
            out = student_fn(*args, **kwargs)
            if out is None or out is Ellipsis:
                raise _NotDone
            return out

        try:
            got = adapt(watched)(*probe_args)
            if got is None or got is Ellipsis:
                reason = "is not done yet"
            else:
                want = torch.as_tensor(adapt(reference_fn)(*probe_args))
                got = torch.as_tensor(got)
                same = got.shape == want.shape and torch.allclose(
                    got.double().cpu(), want.double().cpu(), atol=atol, equal_nan=True
                )
                if not same:
                    reason = "does not pass its check yet"
        except _NotDone:
            reason = "is not done yet"
        except NameError as err:  # it calls another exercise whose cell has not run
            reason = f"needs something that is not defined yet ({err})"
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
    _not_done(exercise, got, inputs, expected, hint)
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


# ----------------------------------------------------------------------------- grader.check


@dataclass
class CheckResult:
    """What ``grader.check`` found for one exercise; shown as a short text in the notebook."""

    name: str
    passed: bool
    message: str

    def __repr__(self) -> str:
        return self.message

    def __bool__(self) -> bool:
        return self.passed


def _test_functions(path: Path) -> list[tuple[Callable, bool]]:
    """The test functions of one otter-format test file, each with its ``hidden`` flag.

    The file's ``from otter.test_files import test_case`` is replaced by a stand-in that only
    records the functions, so checking needs no otter install.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    tree.body = [
        node for node in tree.body
        if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("otter"))
    ]  # fmt: skip
    found: list[tuple[Callable, bool]] = []

    def test_case(points=None, hidden=False, **_):
        def record(fn):
            found.append((fn, bool(hidden)))
            return fn

        return record

    exec(compile(tree, str(path), "exec"), {"test_case": test_case, "__name__": path.stem})
    return found


def _where_it_failed(err: BaseException) -> str:
    """The last line of the student's own code in a traceback (a notebook cell), if any."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "ipykernel" in f.filename
              or f.filename.startswith("<")]  # fmt: skip
    return f" in `{frames[-1].line}`" if frames and frames[-1].line else ""


class Grader:
    """``grader.check("ex0_1")``: run one exercise's public tests and say what is wrong.

    A light stand-in for otter's ``Notebook.check`` that reads the same test files
    (``tests/<name>.py`` beside the notebook), so students need no grading install. It looks
    for the tests beside the notebook, then in the course checkout this package came from,
    then where the Colab setup cell puts the course; if none has them it says where they are
    and the notebook goes on. The instructor's grading does not use this class.
    """

    def __init__(self, chapter: str, tests_dir: str | Path | None = None,
                 repo: str | None = None) -> None:  # fmt: skip
        self.chapter, self.repo = chapter, repo
        self._tests_dir = Path(tests_dir) if tests_dir is not None else None

    def tests_dir(self, name: str | None = None) -> Path | None:
        """The first folder that holds this chapter's public tests (of exercise ``name``, if
        given). Looked up on every check, so a notebook that changed directory still finds
        them, and a ``tests/`` folder of something else is passed over."""
        if self._tests_dir is not None:
            return self._tests_dir
        checkout = Path(__file__).resolve().parents[2]  # lib/visioncourse -> the repository
        for folder in (Path.cwd() / "tests",
                       checkout / "course" / "student" / self.chapter / "tests",
                       Path("/content/course/course/student") / self.chapter / "tests"):  # fmt: skip
            if (folder / f"{name}.py").is_file() if name else any(folder.glob("ex*.py")):
                return folder
        return None

    def check(self, name: str) -> CheckResult:
        """Run the public tests of exercise ``name`` against the notebook's functions."""
        return self._check(name, _caller_globals())

    def check_all(self) -> list[CheckResult]:
        """``check`` every exercise whose tests are found."""
        notebook, folder = _caller_globals(), self.tests_dir()
        names = sorted(p.stem for p in folder.glob("*.py")) if folder is not None else []
        return [self._check(name, notebook) for name in names]

    def _check(self, name: str, notebook: dict) -> CheckResult:
        folder = self.tests_dir(name)
        path = folder / f"{name}.py" if folder is not None else None
        if path is None or not path.is_file():
            where = f"course/student/{self.chapter}/tests/"
            source = f" of {self.repo}" if self.repo else " of the course repository"
            return CheckResult(name, False, (
                f"{name}: no public tests found, so this exercise cannot be checked here. They are "
                f"in {where}{source}: put that folder next to this notebook (or open the notebook "
                "from the course folder; on Colab, run the setup cell). The rest of the "
                "notebook runs without them."))  # fmt: skip
        try:
            tests = [fn for fn, hidden in _test_functions(path) if not hidden]
        except Exception as err:  # a damaged test file must not stop the notebook
            return CheckResult(name, False, f"{name}: could not read {path} ({err!r})")
        for test in tests:
            params = list(inspect.signature(test).parameters)
            missing = [p for p in params if p not in notebook]
            if missing:
                return CheckResult(name, False, (
                    f"{name}: `{missing[0]}` is not defined yet: run the cell that defines it "
                    "(just above), then check again."))  # fmt: skip
            try:
                test(*(notebook[p] for p in params))
            except AssertionError as err:
                return CheckResult(name, False, f"❌ {err}")
            except Exception as err:  # the student's code raised: say what and where
                return CheckResult(name, False, (
                    f"❌ {name}: your code raised {type(err).__name__}: {err}"
                    f"{_where_it_failed(err)}"))  # fmt: skip
        count = f"{len(tests)} public test{'s' * (len(tests) != 1)}"
        return CheckResult(name, True, (
            f"✅ {name}: {count} passed. Hidden tests may check more cases when you are "
            "graded."))  # fmt: skip
