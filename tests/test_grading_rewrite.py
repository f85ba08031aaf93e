"""The grading rewrite and the data that crosses back (visioncourse.grading), without running
a notebook: no hidden answer survives in what the sandbox sees, and the trusted side reads
only data."""

import ast
import io
import pickle
from pathlib import Path

import pytest
import torch

from visioncourse import grading

ROOT = Path(__file__).resolve().parent.parent
MASTERS = sorted((ROOT / "course").glob("[0-9][0-9]_*.py"))

TEST_FILE = """
from otter.test_files import test_case
points = 2

@test_case(points=None, hidden=True)
def test_twice(double):
    import torch
    from visioncourse.exercises import expect_close, expect_equal
    x = torch.tensor([4321.0])
    answer = torch.tensor([8642.0])
    total = answer.sum()
    expect_close("Ex 1", double(x), answer, inputs="hidden", atol=1e-3)
    out = double(x)
    expect_equal("Ex 1", float(out.sum()), float(total))
    again = double(x)
    expect_equal("Ex 1", double(x).shape, again.shape)
"""


def test_the_sandbox_version_keeps_inputs_and_drops_answers():
    sandbox = grading.rewrite_tests({"ex_1": TEST_FILE}, key=False)
    key = grading.rewrite_tests({"ex_1": TEST_FILE}, key=True)
    assert "4321" in sandbox and "8642" not in sandbox and "total" not in sandbox
    assert "expect_close(" not in sandbox and sandbox.count("_record(") == 3
    # a check of the student's code against itself keeps both sides (the key marks it)
    assert "_record(double(x).shape, again.shape)" in sandbox
    assert key.count("_expect(") == 3 and "'expect_close', False" in key
    assert "'expect_equal', True" in key
    assert "EXERCISES = {'ex_1': ['ex_1__test_twice']}" in sandbox
    points, tests = grading.parse_test_file(TEST_FILE)
    assert points == 2 and [(fn.name, hidden) for fn, hidden in tests] == [("test_twice", True)]


def master_tests(master: Path) -> str:
    """A master's test functions as one test file."""
    tree = ast.parse(master.read_text())
    return "\n\n".join(ast.unparse(n) for n in tree.body
                       if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))  # fmt: skip


@pytest.mark.parametrize("master", MASTERS, ids=[m.stem[:2] for m in MASTERS])
def test_every_chapter_rewrites_with_one_record_per_check_and_no_answer(master):
    text = master_tests(master)
    sandbox = ast.parse(grading.rewrite_tests({"all": text}, key=False))
    key = ast.parse(grading.rewrite_tests({"all": text}, key=True))
    original = {n.name: n for n in ast.parse(text).body}
    for box, full in zip(sandbox.body[:-1], key.body[:-1]):
        calls = [c.func.id for c in ast.walk(box) if isinstance(c, ast.Call)
                 and isinstance(c.func, ast.Name)]  # fmt: skip
        assert not set(calls) & set(grading.EXPECTS), box.name
        checks = sum(isinstance(c, ast.Call) and getattr(c.func, "id", "") == "_expect"
                     for c in ast.walk(full))  # fmt: skip
        assert calls.count("_record") == checks > 0, box.name
        fn = original[box.name.split("__", 1)[1]]
        tainted = grading.student_derived(fn)
        box_source, fn_source = ast.unparse(box), ast.unparse(fn)
        answers = [grading._expected(c) for c in ast.walk(fn)
                   if isinstance(c, ast.Call) and grading._callee(c)]  # fmt: skip
        texts = [ast.unparse(e) for e in answers
                 if isinstance(e, (ast.Constant, ast.List, ast.Tuple, ast.Call))
                 and not grading._names(e) & tainted]  # fmt: skip
        for text in texts:  # an answer that is not also an input is gone
            if fn_source.count(text) == texts.count(text):
                assert text not in box_source, (box.name, text)


def test_values_cross_as_data_and_objects_as_descriptions():
    value = {"t": torch.arange(3.0, requires_grad=True) * 2, "n": [1, 2.5, None, "s", (True,)],
             "module": torch.nn.Linear(2, 2), "dots": ...}  # fmt: skip
    frame = grading.encode_frame("record", grading.to_data(value))
    [(kind, back)] = grading.parse_frames("noise\n" + frame + "\nmore noise")
    back = grading.from_data(back)
    assert kind == "record" and torch.equal(back["t"], torch.tensor([0.0, 2.0, 4.0]))
    assert back["n"] == [1, 2.5, None, "s", (True,)] and back["dots"] is ...
    assert type(back["module"]).__name__ == "Linear" and "Linear" in repr(back["module"])
    message = grading.check_position(
        {"kind": "expect_close", "label": "Ex", "options": {}},
        grading.to_data(torch.nn.Linear(2, 2)),
        torch.zeros(2),
    )
    assert "should return a tensor, not a Linear" in message


class Payload:
    def __reduce__(self):
        return (print, ("pickle ran code",))


def test_frames_never_unpickle_code(capsys):
    buffer = io.BytesIO()
    torch.save(Payload(), buffer, pickle_protocol=2)
    import base64

    forged = grading.FRAME + "record " + base64.b64encode(buffer.getvalue()).decode()
    raw = grading.FRAME + "record " + base64.b64encode(pickle.dumps(Payload(), protocol=2)).decode()
    assert grading.parse_frames(forged + "\n" + raw) == []
    assert "pickle ran code" not in capsys.readouterr().out


def test_a_test_passes_only_when_every_check_gets_the_right_value():
    key = [{"kind": "expect_close", "tainted": False, "label": "Ex 1", "expected": torch.ones(2),
            "options": {"inputs": "hidden", "hint": None}},
           {"kind": "expect_equal", "tainted": True, "label": "Ex 1", "expected": 0,
            "options": {}}]  # fmt: skip
    good = {"gots": [torch.ones(2), 5], "expected": {1: 5}}
    assert grading.judge_test(key, good) is None
    assert "wrong value" in grading.judge_test(key, {**good, "gots": [torch.zeros(2), 5]})
    assert "wrong value" in grading.judge_test(key, {**good, "expected": {1: 6}})
    assert "stopped before" in grading.judge_test(key, {"gots": [torch.ones(2)]})
    assert "ValueError: no" in grading.judge_test(key, {"gots": [], "error": "ValueError: no"})
    assert "did not run" in grading.judge_test(key, None)
    score, text = grading.score_exercise({"t": key}, [{"t": {"gots": [torch.zeros(2)]}}, {"t": good}],
                                         points=2, hidden={"t": True})  # fmt: skip
    assert score == 2 and "✅ t" in text  # the better record counts
    score, text = grading.score_exercise({"t": key}, [{"t": {"gots": [torch.zeros(2), 5]}}],
                                         points=2, hidden={"t": True})  # fmt: skip
    assert score == 0 and "wrong value" in text and "expected" not in text  # hidden: no answer
