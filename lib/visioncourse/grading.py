"""Grading where the verdict is made outside the student's process.

A chapter's tests call ``expect_close(label, got, expected, ...)``. For grading, each test is
rewritten twice from the chapter's master (trusted side, ``tools/course.py``):

* the **key** version, run once on the master (the solutions): every ``expect_*`` call records
  the expected value and its options; the key stays with the instructor;
* the **sandbox** version, run on a submission: every ``expect_*`` call becomes
  ``_record(got)``, the expected value and every statement that only computed it are gone, so
  neither the code nor the memory of the student's process holds a hidden answer.

``run_notebook`` executes a notebook in an in-process IPython shell (no Jupyter kernel, so
no kernel/client message to wait on forever) and prints what the tests recorded as frames on
its standard output: serialised tensors, numbers and strings, never a score or a pass/fail
flag. ``score_exercise`` (trusted side) loads them with ``torch.load(weights_only=True)``
and compares them with the key using the same ``expect_*`` functions the students see.
Every expected value comes from the key, also where a test compares the student's code with
itself (``after[1:]`` against ``memory[1:]``): the key holds the master's value on the same
inputs.

    python -m visioncourse.grading NOTEBOOK TESTS.py [--key KEY_TESTS.py]   # in the sandbox
"""

from __future__ import annotations

import argparse
import ast
import base64
import copy
import io
import json
import os
import re
import sys
import traceback
import zipfile
from pathlib import Path
from typing import Any

import torch

from . import exercises
from .runtime import seed_everything

EXPECTS = ("expect_close", "expect_equal", "expect_same_regions")
FRAME = "@@visioncourse-grading "  # a line on stdout: FRAME + kind + " " + base64(torch.save)
CHECK_CELL = re.compile(r"""grader\.check\(\s*["'](\w+)["']\s*\)""")

# ----------------------------------------------------------------------------- rewriting tests


def master_tests(text: str) -> dict[str, dict]:
    """A chapter master (jupytext percent format, otter's assign markers) -> exercise name ->
    {"points": float, "tests": [(test function, hidden)]}: every ``def test_...`` between an
    exercise's ``# BEGIN QUESTION`` and ``# END QUESTION``, hidden when its cell starts with
    ``# HIDDEN``."""
    lines = text.splitlines()
    exercise, points, where = None, 1.0, {}
    for number, line in enumerate(lines, 1):
        if line.startswith("# name: ") and number > 1 and "BEGIN QUESTION" in lines[number - 2]:
            exercise, points = line.split(":", 1)[1].strip(), 1.0
        elif line.startswith("# points: ") and exercise:
            points = float(line.split(":", 1)[1])
        elif line.strip() == "# # END QUESTION":
            exercise = None
        where[number] = (exercise, points)
    chapter: dict[str, dict] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            exercise, points = where[node.lineno]
            if exercise is None:
                continue
            hidden = lines[node.lineno - 2].strip() == "# HIDDEN"
            entry = chapter.setdefault(exercise, {"points": points, "tests": []})
            entry["tests"].append((node, hidden))
    return chapter


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _callee(call: ast.Call) -> str | None:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return name if name in EXPECTS else None


def _expected(call: ast.Call) -> ast.expr | None:
    if len(call.args) > 2:
        return call.args[2]
    return next((kw.value for kw in call.keywords if kw.arg == "expected"), None)


def _got(call: ast.Call) -> ast.expr:
    if len(call.args) > 1:
        return call.args[1]
    return next(kw.value for kw in call.keywords if kw.arg == "got")


class _Rewrite(ast.NodeTransformer):
    """``expect_X(label, got, expected, **options)`` -> ``_expect("expect_X", label, got,
    expected, **options)`` (key) or ``_record(got)`` (sandbox)."""

    def __init__(self, key: bool) -> None:
        self.key = key

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        kind = _callee(node)
        if kind is None:
            return node
        if self.key:
            args = [ast.Constant(kind)] + node.args
            return ast.Call(ast.Name("_expect", ast.Load()), args, node.keywords)
        return ast.Call(ast.Name("_record", ast.Load()), [_got(node)], [])


def _pairs(stmt: ast.stmt) -> list[tuple[ast.expr, ast.expr]] | None:
    """(target, value) pairs of ``a, b = x, y`` or ``for a, b in zip(x, y)``, whose parts a
    slice may keep or drop one by one; None for any other statement."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.For) and isinstance(stmt.iter, ast.Call):
        if not (isinstance(stmt.iter.func, ast.Name) and stmt.iter.func.id == "zip"):
            return None
        target, value = stmt.target, ast.Tuple(stmt.iter.args, ast.Load())
        if stmt.iter.keywords:
            return None
    elif isinstance(stmt, ast.For) and isinstance(stmt.iter, (ast.List, ast.Tuple)):
        rows, target = stmt.iter.elts, stmt.target  # for a, want in ((x, 1), (y, 2)): columns
        width = len(target.elts) if isinstance(target, ast.Tuple) else -1
        if not rows or any(not isinstance(r, ast.Tuple) or len(r.elts) != width for r in rows):
            return None
        value = ast.Tuple([ast.Tuple([r.elts[i] for r in rows], ast.Load()) for i in range(width)],
                          ast.Load())  # fmt: skip
    else:
        return None
    if not (isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)):
        return None
    if len(target.elts) != len(value.elts) or any(isinstance(e, ast.Starred) for e in value.elts):
        return None
    bound = _names(target)
    if any(_loads(v) & bound for v in value.elts):  # a, b = b, a: not separable
        return None
    return list(zip(target.elts, value.elts))


def _slice(fn: ast.FunctionDef) -> None:
    """Keep only what the sandbox needs: the statements that call the student's functions or
    ``_record``, and what those read, transitively. Everything that only computed an expected
    value goes, so no answer exists in the sandbox, not even in a local variable."""
    params = {a.arg for a in fn.args.args}

    def essential(stmt: ast.stmt) -> bool:
        for node in ast.walk(stmt):
            if isinstance(node, (ast.Raise, ast.Assert, ast.Import, ast.ImportFrom)):
                return True
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
                node.func.id in params or node.func.id == "_record"):  # fmt: skip
                return True
        return False

    local = params | {
        n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }

    def stores(node: ast.AST) -> set[str]:
        out = {
            n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        for t in ast.walk(node):  # masks[0, 1] = True changes masks
            if isinstance(t, (ast.Subscript, ast.Attribute)) and isinstance(t.ctx, ast.Store):
                out |= _names(t.value)
        return out

    def side_effect(stmt: ast.stmt) -> bool | set[str]:
        """A bare expression: the locals its calls change (``lst.append(x)``,
        ``model.eval(), ref.eval()``), or True when it may change anything
        (``torch.manual_seed(0)``); False when it calls nothing."""
        if not isinstance(stmt, ast.Expr):
            return False
        calls = [c for c in ast.walk(stmt.value) if isinstance(c, ast.Call)]
        receivers = {c.func.value.id for c in calls if isinstance(c.func, ast.Attribute)
                     and isinstance(c.func.value, ast.Name) and c.func.value.id in local}  # fmt: skip
        if not calls:
            return False
        return True if len(receivers) < len(calls) else receivers

    needed: set[str] = set()
    kept: set[int] = set()

    def visit(stmts: list[ast.stmt]) -> bool:
        """Mark what to keep in ``stmts`` (last to first); True when anything is kept."""
        any_kept = False
        for stmt in reversed(stmts):
            children = [getattr(stmt, f) for f in ("body", "orelse", "finalbody")
                        if isinstance(getattr(stmt, f, None), list)]  # fmt: skip
            handlers = [h.body for h in getattr(stmt, "handlers", [])]
            inner = any([visit(block) for block in children + handlers])
            pairs = _pairs(stmt)
            if isinstance(stmt, ast.FunctionDef | ast.ClassDef):
                keep = essential(stmt) or stmt.name in needed
                if keep:
                    needed.update(_loads(stmt))
            elif children or handlers:  # for / while / if / with / try
                keep = inner or essential_header(stmt) or bool(header_stores(stmt) & needed)
                if keep:
                    if pairs is not None:  # the columns prune keeps (at least the first)
                        live = [(t, v) for t, v in pairs if stores(t) & needed or essential(v)]
                        needed.update(*(_loads(v) for _, v in live or pairs[:1]))
                    else:
                        needed.update(_loads(header(stmt)))
            elif pairs is not None:
                live = [(t, v) for t, v in pairs if stores(t) & needed or essential(v)]
                keep = bool(live)
                for _, v in live:
                    needed.update(_loads(v))
            else:
                changes = side_effect(stmt)
                keep = essential(stmt) or bool(stores(stmt) & needed) or changes is True or (
                    bool(changes) and bool(changes & needed))  # fmt: skip
                if keep:
                    needed.update(
                        _loads(stmt) | (stores(stmt) if isinstance(stmt, ast.AugAssign) else set())
                    )
            if keep:
                kept.add(id(stmt))
                any_kept = True
        return any_kept

    def header(stmt: ast.stmt) -> ast.AST:
        parts = [getattr(stmt, f) for f in ("target", "iter", "test") if getattr(stmt, f, None)]
        parts += [i for i in getattr(stmt, "items", [])]
        return ast.Tuple([p for p in parts if isinstance(p, ast.expr)] + [
            i.context_expr for i in parts if isinstance(i, ast.withitem)], ast.Load())  # fmt: skip

    def header_stores(stmt: ast.stmt) -> set[str]:
        return stores(header(stmt)) | {n.id for i in getattr(stmt, "items", []) if i.optional_vars
                                       for n in ast.walk(i.optional_vars) if isinstance(n, ast.Name)}  # fmt: skip

    def essential_header(stmt: ast.stmt) -> bool:
        return essential(ast.Expr(header(stmt)))

    before = None
    while before != (len(needed), len(kept)):  # a later statement may need an earlier one
        before = (len(needed), len(kept))
        visit(fn.body)

    def prune(stmts: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for stmt in stmts:
            if id(stmt) not in kept:
                continue
            for field in ("body", "orelse", "finalbody"):
                if isinstance(getattr(stmt, field, None), list) and not isinstance(
                    stmt, ast.FunctionDef | ast.ClassDef):  # fmt: skip
                    block = prune(getattr(stmt, field))
                    setattr(stmt, field, block or ([ast.Pass()] if field == "body" else []))
            for handler in getattr(stmt, "handlers", []):
                handler.body = prune(handler.body) or [ast.Pass()]
            pairs = _pairs(stmt)
            if pairs is not None:
                live = [(t, v) for t, v in pairs if stores(t) & needed or essential(v)]
                live = live or pairs[:1]  # a loop that records without its variables
                if len(live) < len(pairs):  # a, b = x, y -> a = x; zip(x, y) -> x
                    one = len(live) == 1
                    targets = live[0][0] if one else ast.Tuple([t for t, _ in live], ast.Store())
                    values = [v for _, v in live]
                    if isinstance(stmt, ast.For) and isinstance(stmt.iter, ast.Call):
                        stmt.target = targets
                        stmt.iter = values[0] if one else ast.Call(stmt.iter.func, values, [])
                    elif isinstance(stmt, ast.For):  # keep the live columns of the rows
                        stmt.target = targets
                        rows = [list(r) for r in zip(*(v.elts for v in values))]
                        stmt.iter = ast.List([r[0] if one else ast.Tuple(r, ast.Load()) for r in rows],
                                             ast.Load())  # fmt: skip
                    else:
                        stmt.targets = [targets]
                        stmt.value = values[0] if one else ast.Tuple(values, ast.Load())
            out.append(stmt)
        return out

    fn.body = prune(fn.body) or [ast.Pass()]


def answers_left(original: ast.FunctionDef, sliced: ast.FunctionDef) -> set[str]:
    """Variables that ``original`` reads only in expected values (or in the condition of an
    ``if``/``while``) and that ``sliced`` still assigns: answers the sandbox would hold. What
    the student's own calls return, and loop indices, are not answers."""
    params = {a.arg for a in original.args.args}
    in_answers, in_guards, student, indices = set(), set(), set(), set()
    for node in ast.walk(original):
        if isinstance(node, ast.Call) and _callee(node) and _expected(node) is not None:
            in_answers |= {id(n) for n in ast.walk(_expected(node))}
        elif isinstance(node, (ast.If, ast.While)):
            in_guards |= {id(n) for n in ast.walk(node.test)}
        elif isinstance(node, (ast.Assign, ast.AugAssign)) and any(
            isinstance(c, ast.Call) and getattr(c.func, "id", None) in params
            for c in ast.walk(node.value)):  # fmt: skip
            student |= {n.id for t in getattr(node, "targets", [getattr(node, "target", None)]) for n in ast.walk(t)
                        if isinstance(n, ast.Name)}  # fmt: skip
        elif (isinstance(node, ast.For) and isinstance(node.iter, ast.Call)
              and getattr(node.iter.func, "id", "") == "enumerate" and isinstance(node.target, ast.Tuple)):  # fmt: skip
            indices |= _names(node.target.elts[0])
    loads = [
        n for n in ast.walk(original) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    ]
    answers = {n.id for n in loads if id(n) in in_answers}
    elsewhere = {n.id for n in loads if id(n) not in in_answers and id(n) not in in_guards}
    stored = {
        n.id for n in ast.walk(sliced) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    return (answers - elsewhere - student - indices) & stored


def rewrite_tests(chapter: dict[str, dict], key: bool) -> str:
    """Source of one module holding every exercise's tests (``master_tests``), rewritten for
    the key run (``key=True``) or for the sandbox, and ``EXERCISES = {exercise: [names]}``."""
    parts, exercises_ = [], {}
    for exercise, entry in sorted(chapter.items()):
        exercises_[exercise] = []
        for original, hidden in entry["tests"]:
            fn = _Rewrite(key).visit(copy.deepcopy(original))
            if not key:
                _slice(fn)
                if hidden and (left := answers_left(original, fn)):
                    raise ValueError(f"{original.name}: the sandbox version still computes "
                                     f"{', '.join(sorted(left))}, read only by expected values: "
                                     "compute expected values inline or in their own statements")  # fmt: skip
            fn.name = f"{exercise}__{fn.name}"
            exercises_[exercise].append(fn.name)
            parts.append(ast.unparse(ast.fix_missing_locations(fn)))
    return "\n\n".join(parts) + f"\n\nEXERCISES = {exercises_!r}\n"


# ----------------------------------------------------------------------------- data across

MAX_ELEMENTS = 1_000_000  # per tensor that crosses back; a test's values are far smaller
MAX_FRAME_BYTES = 16 * 2**20  # what one frame may unpack to


def _type_name(value: Any) -> str:
    """The class name, read without running any code the class may define."""
    return str(type.__dict__["__name__"].__get__(type(value), type))[:80]


def to_data(value: Any, depth: int = 0) -> Any:
    """``value`` as something ``torch.load(weights_only=True)`` can read back: tensors (on
    the CPU, detached), numbers, strings, None, dtypes, devices, sizes and lists/tuples/dicts
    of them. Only exact built-in types cross (a subclass could run code while it is copied);
    anything else becomes its class name, so the verdict can say "should return a tensor, not
    a X"."""
    kind = type(value)
    if kind is torch.Tensor or kind is torch.nn.Parameter:
        with torch._C.DisableTorchFunction():
            value = torch.Tensor.detach(value).cpu()
            return value.to_dense() if value.layout != torch.strided else value.clone()
    if value is None or kind in (bool, int, float, str, torch.dtype, torch.device, torch.Size):
        return value
    if kind in (list, tuple) and depth < 8:
        items = [to_data(v, depth + 1) for v in value]
        return items if kind is list else tuple(items)
    if kind is dict and depth < 8 and all(type(k) is str for k in value):
        return {k: to_data(v, depth + 1) for k, v in value.items()}
    if value is ...:
        return {"__object__": "ellipsis"}
    if kind.__module__ == "numpy" and hasattr(kind, "item") and getattr(value, "ndim", None) == 0:
        return to_data(value.item(), depth + 1)  # numpy.int64(336) is the number 336
    if isinstance(value, float):  # numpy.float64 is a float: the test saw a number
        return float.__float__(value)
    return {"__object__": _type_name(value)}


class _Described:
    """Stands in, on the trusted side, for an object that could not cross as data."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<a {self.name} object>"


def from_data(value: Any) -> Any:
    """What ``to_data`` sent, as the checks expect it; a description becomes an object whose
    class is named like the student's (for the "not a X" message)."""
    if type(value) is dict and set(value) == {"__object__"}:
        name = str(value["__object__"])[:80]
        if name == "ellipsis":
            return ...
        safe = name if name.isidentifier() else "object"
        return type(safe, (_Described,), {})(name)
    if type(value) is list:
        return [from_data(v) for v in value]
    if type(value) is tuple:
        return tuple(from_data(v) for v in value)
    if type(value) is dict:
        return {k: from_data(v) for k, v in value.items()}
    return value


def _small(value: Any, depth: int = 0) -> bool:
    """Every tensor in ``value`` is at most ``MAX_ELEMENTS`` (a forged frame can describe a
    huge expanded tensor in a few bytes) and nothing is nested absurdly deep."""
    if depth > 16:
        return False
    if isinstance(value, torch.Tensor):  # and no expanded view of a small storage
        stored = value.untyped_storage().nbytes()
        return value.numel() <= MAX_ELEMENTS and stored >= value.numel() * value.element_size()
    if isinstance(value, (list, tuple)):
        return all(_small(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_small(v, depth + 1) for v in value.values())
    return True


def encode_frame(kind: str, payload: Any) -> str:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return f"{FRAME}{kind} {base64.b64encode(buffer.getvalue()).decode()}"


def parse_frames(output: str) -> list[tuple[str, Any]]:
    """Every readable frame in a run's output, in order; anything else is ignored."""
    frames = []
    for line in output.splitlines():
        if line.startswith(FRAME):
            try:
                kind, blob = line[len(FRAME) :].split(" ", 1)
                raw = base64.b64decode(blob, validate=True)
                with zipfile.ZipFile(io.BytesIO(raw)) as archive:  # torch.save stores, never packs
                    entries = archive.infolist()
                    if any(e.compress_type != zipfile.ZIP_STORED for e in entries) or sum(
                        e.file_size for e in entries) > MAX_FRAME_BYTES:  # fmt: skip
                        continue
                data = torch.load(io.BytesIO(raw), weights_only=True)
                if _small(data):
                    frames.append((kind, data))
            except Exception:  # a damaged or forged frame is data we cannot read: skip it
                continue
    return frames


def records(frames: list[tuple[str, Any]]) -> dict[str, list[dict]]:
    """Exercise -> the well-formed records the sandbox sent for it (test name -> {"gots": list,
    "error": str or None}); anything shaped otherwise is dropped."""
    out: dict[str, list[dict]] = {}
    for kind, payload in frames:
        if (
            kind != "record"
            or type(payload) is not dict
            or type(payload.get("exercise")) is not str
        ):
            continue
        tests = payload.get("tests")
        if type(tests) is not dict:
            continue
        clean = {name: {"gots": record["gots"], "error": record["error"][:1000] if record.get("error") else None}
                 for name, record in tests.items()
                 if type(name) is str and type(record) is dict and type(record.get("gots")) is list
                 and type(record.get("error")) in (str, type(None))}  # fmt: skip
        out.setdefault(payload["exercise"], []).append(clean)
    return out


# ----------------------------------------------------------------------------- inside the sandbox


def _where(err: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.startswith("<")]
    return f" in `{frames[-1].line}`" if frames and frames[-1].line else ""


def _recorders(record: dict):
    """The ``_record`` (sandbox version) and ``_expect`` (key version) of one test's run."""

    def _record(got):
        record["gots"].append(to_data(got))

    def _expect(kind, label, got=None, expected=None, **options):
        _record(got)
        record["key"].append({"kind": kind, "label": label, "expected": to_data(expected),
                              "options": to_data(options)})  # fmt: skip

    return _record, _expect


def run_tests(module: dict, user_ns: dict, exercise: str, key: bool) -> dict:
    """Run one exercise's rewritten tests against the notebook's functions; returns per test
    what was recorded (and, with ``key``, the expected values and options)."""
    results = {}
    for name in module["EXERCISES"][exercise]:
        fn = module[name]
        record: dict[str, Any] = {"gots": [], "error": None, "key": []}
        module["_record"], module["_expect"] = _recorders(record)
        seed_everything(0)  # a test's unseeded draws do not depend on what ran before it
        params = fn.__code__.co_varnames[: fn.__code__.co_argcount]
        missing = [p for p in params if p not in user_ns]
        if missing:
            record["error"] = f"`{missing[0]}` is not defined: its cell did not run or was renamed"
        else:
            try:
                fn(*(user_ns[p] for p in params))
            except BaseException as err:  # the student's code may raise anything, even exit
                record["error"] = f"{_type_name(err)}: {_message(err)}{_where(err)}"
        if not key:
            del record["key"]
        results[name.split("__", 1)[1]] = record
    return results


def _message(err: BaseException) -> str:
    try:
        return str(err)[:500]
    except Exception:  # a student's exception whose str() raises
        return "(no message)"


def _frame(kind: str, payload: dict) -> str:
    """The frame of one exercise; a test whose values cannot be saved is sent as an error."""
    try:
        return encode_frame(kind, payload)
    except Exception as err:
        tests = {name: {"gots": [], "error": f"its values could not be sent back ({_type_name(err)})"}
                 for name in payload["tests"]}  # fmt: skip
        return encode_frame(kind, {"exercise": payload["exercise"], "tests": tests})


class _Emitter:
    """Runs an exercise's rewritten tests against a namespace and prints their frames."""

    def __init__(self, tests: str, key_tests: str | None, user_ns: dict) -> None:
        self.modules = {}
        for kind, source in (("record", tests), ("key", key_tests)):
            if source is not None:
                self.modules[kind] = {"__name__": "grading_tests"}
                exec(compile(source, "<grading tests>", "exec"), self.modules[kind])
        self.names = list(self.modules["record"]["EXERCISES"])
        self.user_ns, self.home, self.stdout = user_ns, os.getcwd(), sys.stdout

    def emit(self, exercise: str) -> None:
        import random

        originals = {name: getattr(exercises, name) for name in EXPECTS}
        if "key" in self.modules:  # a check the rewrite missed would be judged in here: refuse
            for name in EXPECTS:
                setattr(exercises, name, _untransformed(name))

        import numpy as np

        # the tests seed their own generators; the notebook's random streams and working
        # directory are left as they were, so later cells run as they did for the student
        state = random.getstate(), np.random.get_state()  # noqa: NPY002 (the legacy global stream)
        here, threads = os.getcwd(), torch.get_num_threads()
        torch.set_num_threads(1)  # the key and the sandbox compute alike, whatever the machine
        try:
            with torch.random.fork_rng(devices=[]):
                for kind, module in self.modules.items():
                    os.chdir(self.home)
                    tests = run_tests(module, self.user_ns, exercise, kind == "key")
                    frame = _frame(kind, {"exercise": exercise, "tests": tests})
                    self.stdout.write("\n" + frame + "\n")
                    self.stdout.flush()
        finally:
            torch.set_num_threads(threads)
            for name, check in originals.items():
                setattr(exercises, name, check)
        random.setstate(state[0])
        np.random.set_state(state[1])  # noqa: NPY002
        try:
            os.chdir(here)
        except OSError:
            pass


def cell_source(cell: dict) -> str:
    """A notebook cell's source as one string (nbformat stores a list of lines or a string)."""
    source = cell.get("source", "")
    return "".join(map(str, source)) if isinstance(source, list) else str(source)


def run_notebook(notebook: Path, tests: Path, key_tests: Path | None = None) -> None:
    """Execute every code cell of ``notebook`` in an IPython shell; after a cell that calls
    ``grader.check("exN_M")`` and again at the end, run that exercise's tests and print a
    ``record`` frame (so an exercise checked before a late crash or ``os._exit`` still counts).
    With ``key_tests`` (the master's run) also print the ``key`` frame of each exercise."""
    from IPython.core.interactiveshell import InteractiveShell

    cells = json.loads(notebook.read_text())["cells"]
    shell = InteractiveShell.instance()
    emitter = _Emitter(tests.read_text(), key_tests and key_tests.read_text(), shell.user_ns)
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)
        shell.run_cell(source, store_history=False)
        for exercise in CHECK_CELL.findall(source):
            if exercise in emitter.names:
                emitter.emit(exercise)
    for exercise in emitter.names:
        emitter.emit(exercise)


def print_key(tests: str, key_tests: str) -> None:
    """In a kernel that has just run a master top to bottom: print every exercise's record
    and key frames (``tools/site.py execute`` appends a cell calling this, so the chapters'
    keys are recorded, and checked, by the run that tests the masters anyway)."""
    from IPython import get_ipython

    emitter = _Emitter(tests, key_tests, get_ipython().user_ns)
    for exercise in emitter.names:
        emitter.emit(exercise)


def _untransformed(name: str):
    def fail(*args, **kwargs):
        raise RuntimeError(f"{name} called directly by a test the grading rewrite did not see")

    return fail


# ----------------------------------------------------------------------------- the verdict


def check_position(position: dict, got: Any, expected: Any) -> str | None:
    """None when ``got`` passes one recorded check of the key, else the feedback message."""
    try:
        check = getattr(exercises, position["kind"])
        check(position["label"], from_data(got), expected, **from_data(position["options"]))
    except AssertionError as err:
        return str(err)
    except Exception as err:  # a value the check cannot even compare
        return f"{position['label']}: could not compare the value ({type(err).__name__})"
    return None


def judge_test(key_positions: list[dict], record: dict | None) -> str | None:
    """None when a test passes, else why not. ``key_positions``: the checks the master's run
    made, in order; ``record``: what the sandbox sent back (``gots`` in the same order, and
    the error that stopped the test, if any). Every check must get its value and pass, and
    the test must end without an error."""
    if not key_positions:
        return "this test has no recorded check (a grading setup error): to be reviewed"
    if record is None:
        return "this test did not run (the notebook stopped before it)"
    gots, error = record.get("gots", []), record.get("error")
    for k, position in enumerate(key_positions):
        if k >= len(gots):
            return (
                f"your code raised {error}"
                if error
                else "the test stopped before all its checks ran"
            )
        problem = check_position(position, gots[k], from_data(position["expected"]))
        if problem:
            return problem
    return f"your code raised {error}" if error else None


def score_exercise(key: dict, records: list[dict], points: float,
                   hidden: dict[str, bool]) -> tuple[float, str]:  # fmt: skip
    """Points for one exercise and its feedback. ``key``: test name -> recorded positions;
    ``records``: every record the sandbox sent for this exercise (the best one counts);
    ``hidden``: test name -> whether it is hidden (its feedback does not show the answer)."""
    best = None
    for tests in records or [{}]:
        verdicts = {name: judge_test(positions, tests.get(name)) for name, positions in key.items()}
        passed = sum(v is None for v in verdicts.values())
        if best is None or passed > best[0]:
            best = (passed, verdicts)
    passed, verdicts = best
    lines = []
    for name, problem in verdicts.items():
        if problem is None:
            lines.append(f"  ✅ {name}")
            continue
        shown = problem.splitlines()
        if hidden.get(name):  # say what and why, not the hidden expected value (or its shape)
            shown = [re.sub(r", expected \(.*?\)$", "", line) for line in shown
                     if not line.strip().startswith("expected:")]  # fmt: skip
        head = f"  ❌ {name}{' (hidden)' if hidden.get(name) else ''}"
        lines.append("\n".join([head] + ["     " + line for line in shown]))
    return points * passed / max(len(key), 1), "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a notebook and its rewritten tests.")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("tests", type=Path)
    parser.add_argument("--key", type=Path, help="the key version of the tests (master's run)")
    args = parser.parse_args(argv)
    run_notebook(args.notebook, args.tests, args.key)


if __name__ == "__main__":
    main()
