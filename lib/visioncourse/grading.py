"""Grading where the verdict is made outside the student's process.

A chapter's tests call ``expect_close(label, got, expected, ...)``. For grading, each test is
rewritten twice from the autograder's test files (trusted side, ``tools/course.py``):

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
When the expected value is itself computed from the student's code (a consistency check such
as "the same seed gives the same sample"), both values come from the sandbox: the key marks
such a check ``tainted``.

    python -m visioncourse.grading NOTEBOOK TESTS.py [--key KEY_TESTS.py]   # in the sandbox
"""

from __future__ import annotations

import argparse
import ast
import base64
import io
import json
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any

import torch

from . import exercises

EXPECTS = ("expect_close", "expect_equal", "expect_same_regions")
FRAME = "@@visioncourse-grading "  # a line on stdout: FRAME + kind + " " + base64(torch.save)
CHECK_CELL = re.compile(r"""grader\.check\(\s*["'](\w+)["']\s*\)""")

# ----------------------------------------------------------------------------- rewriting tests


def parse_test_file(text: str) -> tuple[float, list[tuple[ast.FunctionDef, bool]]]:
    """An otter test file -> (points, [(test function, hidden)]) in file order."""
    tree = ast.parse(text)
    points, tests = 1.0, []
    for node in tree.body:
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["points"]:
            points = float(ast.literal_eval(node.value))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            hidden = any(kw.arg == "hidden" and ast.literal_eval(kw.value)
                         for d in node.decorator_list if isinstance(d, ast.Call)
                         for kw in d.keywords)  # fmt: skip
            node.decorator_list = []
            tests.append((node, hidden))
    return points, tests


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


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


def student_derived(fn: ast.FunctionDef) -> set[str]:
    """Names in a test whose value may come from the student's code: the test's parameters and
    whatever is assigned (or appended to) from an expression that uses one of them."""
    tainted = {a.arg for a in fn.args.args}
    while True:
        before = len(tainted)
        for node in ast.walk(fn):
            pairs = []
            if isinstance(node, ast.Assign):
                pairs = [(t, node.value) for t in node.targets]
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr)) and node.value:
                pairs = [(node.target, node.value)]
            elif isinstance(node, (ast.For, ast.comprehension)):
                pairs = [(node.target, node.iter)]
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                pairs = [(node.optional_vars, node.context_expr)]
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and isinstance(node.func.value, ast.Name)):  # fmt: skip
                pairs = [(node.func.value, node)]  # lst.append(f(x)), t.copy_(f(x))
            for target, value in pairs:
                if _names(value) & tainted:
                    tainted |= _names(target)
        if len(tainted) == before:
            return tainted


class _Rewrite(ast.NodeTransformer):
    def __init__(self, tainted: set[str], key: bool) -> None:
        self.tainted, self.key = tainted, key

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        kind = _callee(node)
        if kind is None:
            return node
        expected = _expected(node)
        tainted = expected is not None and bool(_names(expected) & self.tainted)
        if self.key:  # _expect("expect_close", tainted, <the original arguments>)
            head = [ast.Constant(kind), ast.Constant(tainted)]
            return ast.Call(ast.Name("_expect", ast.Load()), head + node.args, node.keywords)
        args = [_got(node)] + ([expected] if tainted else [])
        return ast.Call(ast.Name("_record", ast.Load()), args, [])


def _drop_dead_stores(fn: ast.FunctionDef) -> None:
    """Remove assignments to plain names that nothing reads any more (what only computed an
    expected value), until none is left; imports stay (they are not answers)."""
    while True:
        loaded = {
            n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        removed = False
        for node in ast.walk(fn):
            for field in ("body", "orelse", "finalbody"):
                stmts = getattr(node, field, None)
                if not isinstance(stmts, list):
                    continue
                keep = [s for s in stmts if not (isinstance(s, ast.Assign) and all(
                    isinstance(t, (ast.Name, ast.Tuple)) and not (_names(t) & loaded)
                    for t in s.targets))]  # fmt: skip
                if len(keep) != len(stmts):
                    setattr(node, field, keep or [ast.Pass()])
                    removed = True
        if not removed:
            return


def rewrite_tests(test_files: dict[str, str], key: bool) -> str:
    """Source of one module holding every exercise's tests, rewritten for the key run
    (``key=True``) or for the sandbox, and ``EXERCISES = {exercise: [test names]}``."""
    parts, exercises_ = [], {}
    for exercise, text in sorted(test_files.items()):
        _, tests = parse_test_file(text)
        exercises_[exercise] = []
        for fn, _hidden in tests:
            fn = _Rewrite(student_derived(fn), key).visit(fn)
            if not key:
                _drop_dead_stores(fn)
            fn.name = f"{exercise}__{fn.name}"
            exercises_[exercise].append(fn.name)
            parts.append(ast.unparse(ast.fix_missing_locations(fn)))
    return "\n\n".join(parts) + f"\n\nEXERCISES = {exercises_!r}\n"


# ----------------------------------------------------------------------------- data across


def to_data(value: Any, depth: int = 0) -> Any:
    """``value`` as something ``torch.load(weights_only=True)`` can read back: tensors (on
    the CPU, detached), numbers, strings, None and lists/tuples/dicts of them. Anything else
    becomes a description of it, so the verdict can say "should return a tensor, not a X"."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.to_dense() if value.layout != torch.strided else value.clone()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):  # numpy.float64 is a float: keep what the test saw
        return float(value)
    if isinstance(value, (list, tuple)) and depth < 8:
        items = [to_data(v, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict) and depth < 8 and all(isinstance(k, str) for k in value):
        return {k: to_data(v, depth + 1) for k, v in value.items()}
    return {"__object__": type(value).__name__[:80], "repr": exercises._short(value)}


class _Described:
    """Stands in, on the trusted side, for an object that could not cross as data."""


def from_data(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"__object__", "repr"}:
        if value["__object__"] == "ellipsis":
            return ...
        text = str(value["repr"])
        cls = type(
            str(value["__object__"]) or "object", (_Described,), {"__repr__": lambda self: text}
        )
        return cls()
    if isinstance(value, list):
        return [from_data(v) for v in value]
    if isinstance(value, tuple):
        return tuple(from_data(v) for v in value)
    if isinstance(value, dict):
        return {k: from_data(v) for k, v in value.items()}
    return value


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
                frames.append((kind, torch.load(io.BytesIO(base64.b64decode(blob, validate=True)),
                                                weights_only=True)))  # fmt: skip
            except Exception:  # a damaged or forged frame is data we cannot read: skip it
                continue
    return frames


# ----------------------------------------------------------------------------- inside the sandbox


def _where(err: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.startswith("<")]
    return f" in `{frames[-1].line}`" if frames and frames[-1].line else ""


def _recorders(record: dict):
    """The ``_record`` (sandbox version) and ``_expect`` (key version) of one test's run."""

    def _record(got, *expected):
        if expected:
            record["expected"][len(record["gots"])] = to_data(expected[0])
        record["gots"].append(to_data(got))

    def _expect(kind, tainted, label, got=None, expected=None, **options):
        _record(got, *([expected] if tainted else []))
        record["key"].append({"kind": kind, "tainted": tainted, "label": label,
                              "expected": to_data(expected), "options": to_data(options)})  # fmt: skip

    return _record, _expect


def run_tests(module: dict, user_ns: dict, exercise: str, key: bool) -> dict:
    """Run one exercise's rewritten tests against the notebook's functions; returns per test
    what was recorded (and, with ``key``, the expected values and options)."""
    results = {}
    for name in module["EXERCISES"][exercise]:
        fn = module[name]
        record: dict[str, Any] = {"gots": [], "expected": {}, "error": None, "key": []}
        module["_record"], module["_expect"] = _recorders(record)
        params = fn.__code__.co_varnames[: fn.__code__.co_argcount]
        missing = [p for p in params if p not in user_ns]
        if missing:
            record["error"] = f"`{missing[0]}` is not defined: its cell did not run or was renamed"
        else:
            try:
                fn(*(user_ns[p] for p in params))
            except BaseException as err:  # the student's code may raise anything, even exit
                record["error"] = f"{type(err).__name__}: {str(err)[:500]}{_where(err)}"
        if not key:
            del record["key"]
        results[name.split("__", 1)[1]] = record
    return results


def run_notebook(notebook: Path, tests: Path, key_tests: Path | None = None) -> None:
    """Execute every code cell of ``notebook`` in an IPython shell; after a cell that calls
    ``grader.check("exN_M")`` and again at the end, run that exercise's tests and print a
    ``record`` frame (so an exercise checked before a late crash or ``os._exit`` still counts).
    With ``key_tests`` (the master's run) also print the ``key`` frame of each exercise."""
    from IPython.core.interactiveshell import InteractiveShell

    cells = json.loads(notebook.read_text())["cells"]
    modules = {}
    for kind, path in (("record", tests), ("key", key_tests)):
        if path is not None:
            modules[kind] = {"__name__": "grading_tests"}
            exec(compile(path.read_text(), "<grading tests>", "exec"), modules[kind])
    if key_tests is not None:  # a check the rewrite missed would be judged in here: refuse
        for name in EXPECTS:
            setattr(exercises, name, _untransformed(name))
    shell = InteractiveShell.instance()
    home = os.getcwd()
    stdout = sys.stdout
    names = modules["record"]["EXERCISES"]

    def emit(exercise: str) -> None:
        for kind, module in modules.items():
            os.chdir(home)  # the student's working directory does not matter to the tests
            payload = {"exercise": exercise,
                       "tests": run_tests(module, shell.user_ns, exercise, kind == "key")}  # fmt: skip
            stdout.write("\n" + encode_frame(kind, payload) + "\n")
            stdout.flush()

    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        shell.run_cell(source, store_history=False)
        for exercise in CHECK_CELL.findall(source):
            if exercise in names:
                emit(exercise)
    for exercise in names:
        emit(exercise)


def _untransformed(name: str):
    def fail(*args, **kwargs):
        raise RuntimeError(f"{name} called directly by a test the grading rewrite did not see")

    return fail


# ----------------------------------------------------------------------------- the verdict


def check_position(position: dict, got: Any, expected: Any) -> str | None:
    """None when ``got`` passes one recorded check of the key, else the feedback message."""
    check = getattr(exercises, position["kind"])
    options = from_data(position["options"])
    try:
        check(position["label"], from_data(got), expected, **options)
    except AssertionError as err:
        return str(err)
    except Exception as err:  # a value the check cannot even compare
        return f"{position['label']}: could not compare the value ({type(err).__name__}: {err})"
    return None


def judge_test(key_positions: list[dict], record: dict | None) -> str | None:
    """None when a test passes, else why not; ``record`` is what the sandbox sent back."""
    if record is None:
        return "this test did not run (the notebook stopped before it)"
    gots, sent_expected = record.get("gots", []), record.get("expected", {})
    for k, position in enumerate(key_positions):
        if k >= len(gots):
            return f"your code raised {record['error']}" if record.get("error") else (
                "the test stopped before all its checks ran")  # fmt: skip
        if position["tainted"]:
            if k not in sent_expected:
                return "a value this check needs did not come back"
            expected = from_data(sent_expected[k])
        else:
            expected = from_data(position["expected"])
        problem = check_position(position, gots[k], expected)
        if problem:
            return problem
    return None


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
        if hidden.get(name):  # say what and why, not the hidden expected value
            shown = [line for line in shown if not line.strip().startswith("expected:")]
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
