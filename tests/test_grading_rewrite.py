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
# %% [raw]
# # BEGIN QUESTION
# name: ex_1
# points: 2

# %%
# HIDDEN
def test_twice(double, beam):
    import torch
    from visioncourse.exercises import expect_close, expect_equal
    g = torch.Generator().manual_seed(0)
    x = torch.tensor([4321.0])
    answer, noise = torch.tensor([8642.0]), torch.rand(3, generator=g)
    total = answer.sum()
    expect_close("Ex 1", double(x + noise[:1] * 0), answer, inputs="hidden", atol=1e-3)
    out = double(x)
    expect_equal("Ex 1", float(out.sum()), float(total))
    for y, want, name in zip((x, 2 * x), (answer, 2 * answer), ("one", "two")):
        expect_close("Ex 1", double(y), want, hint=name)
    best, best_score = None, -1.0
    for seq in ([1], [2]):
        if sum(seq) > best_score:
            best, best_score = seq, float(sum(seq))

    def step(tokens):
        return torch.zeros(3)

    expect_equal("Ex 2", beam(step, 2), best)
    again = double(x)
    expect_equal("Ex 1", double(x).shape, again.shape)

# %% [raw]
# # END QUESTION

# %%
def test_outside_a_question(x):
    pass
"""


def test_the_sandbox_version_keeps_inputs_and_drops_answers():
    chapter = grading.master_tests(TEST_FILE)
    sandbox = grading.rewrite_tests(chapter, key=False)
    key = grading.rewrite_tests(chapter, key=True)
    assert "4321" in sandbox and "noise" in sandbox and "manual_seed" in sandbox  # inputs stay
    for answer in ("8642", "total", "answer", "want", "best", "best_score", "seq"):
        assert answer not in sandbox, answer  # what only computed an expected value goes
    assert "for y in (x, 2 * x):" in sandbox and "noise = torch.rand(3, generator=g)" in sandbox
    assert "def step(" in sandbox  # a function the student's code is given stays
    assert "again = double(x)" in sandbox  # a call of the student's code stays
    assert "expect_close(" not in sandbox and sandbox.count("_record(") == 5
    assert key.count("_expect(") == 5 and "_expect('expect_close', 'Ex 1'" in key
    assert "EXERCISES = {'ex_1': ['ex_1__test_twice']}" in sandbox
    assert chapter["ex_1"]["points"] == 2 and list(chapter) == ["ex_1"]
    assert [(fn.name, hidden) for fn, hidden in chapter["ex_1"]["tests"]] == [("test_twice", True)]


@pytest.mark.parametrize("master", MASTERS, ids=[m.stem[:2] for m in MASTERS])
def test_every_chapter_rewrites_with_one_record_per_check_and_no_answer(master):
    chapter = grading.master_tests(master.read_text())
    sandbox = ast.parse(grading.rewrite_tests(chapter, key=False))
    key = ast.parse(grading.rewrite_tests(chapter, key=True))
    original = {fn.name: fn for entry in chapter.values() for fn, _ in entry["tests"]}
    hidden = {fn.name for entry in chapter.values() for fn, h in entry["tests"] if h}
    in_master = [n.name for n in ast.parse(master.read_text()).body
                 if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]  # fmt: skip
    assert sorted(original) == sorted(in_master)  # every test belongs to an exercise
    for box, full in zip(sandbox.body[:-1], key.body[:-1]):
        calls = [c.func.id for c in ast.walk(box) if isinstance(c, ast.Call)
                 and isinstance(c.func, ast.Name)]  # fmt: skip
        assert not set(calls) & set(grading.EXPECTS), box.name
        checks = sum(isinstance(c, ast.Call) and getattr(c.func, "id", "") == "_expect"
                     for c in ast.walk(full))  # fmt: skip
        assert calls.count("_record") == checks > 0, box.name
        fn = original[box.name.split("__", 1)[1]]
        params = {a.arg for a in fn.args.args}
        box_source, fn_source = ast.unparse(box), ast.unparse(fn)
        answers = [grading._expected(c) for c in ast.walk(fn)
                   if isinstance(c, ast.Call) and grading._callee(c)]  # fmt: skip
        texts = [ast.unparse(e) for e in answers
                 if isinstance(e, (ast.Constant, ast.List, ast.Tuple, ast.Call))
                 and not grading._names(e) & params]  # fmt: skip
        for text in texts:  # an answer that is not also an input is gone
            if fn_source.count(text) == texts.count(text):
                assert text not in box_source, (box.name, text)
        if fn.name in hidden:  # rewrite_tests refuses a hidden test that keeps an answer
            assert not grading.answers_left(fn, box)


def test_a_hidden_test_that_would_keep_an_answer_is_refused():
    text = TEST_FILE.replace(
        "    best, best_score = None, -1.0",
        "    best, best_score = None, -1.0\n    if best is None and x.sum() > 0:\n        _ = double(x)",
    )
    with pytest.raises(ValueError, match="best"):
        grading.rewrite_tests(grading.master_tests(text), key=False)


def test_values_cross_as_data_and_objects_as_descriptions():
    value = {"t": torch.arange(3.0, requires_grad=True) * 2, "n": [1, 2.5, None, "s", (True,)], "dt": (torch.int64, torch.Size([2]), torch.device("cpu")),
             "module": torch.nn.Linear(2, 2), "dots": ...}  # fmt: skip
    frame = grading.encode_frame("record", grading.to_data(value))
    [(kind, back)] = grading.parse_frames("noise\n" + frame + "\nmore noise")
    back = grading.from_data(back)
    assert kind == "record" and torch.equal(back["t"], torch.tensor([0.0, 2.0, 4.0]))
    assert back["n"] == [1, 2.5, None, "s", (True,)] and back["dots"] is ...
    assert back["dt"] == (torch.int64, torch.Size([2]), torch.device("cpu"))
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
    key = [{"kind": "expect_close", "label": "Ex 1", "expected": torch.ones(2),
            "options": {"inputs": "hidden", "hint": None}},
           {"kind": "expect_equal", "label": "Ex 1", "expected": 5, "options": {}}]  # fmt: skip
    good = {"gots": [torch.ones(2), 5], "error": None}
    assert grading.judge_test(key, good) is None
    assert "wrong value" in grading.judge_test(key, {**good, "gots": [torch.zeros(2), 5]})
    assert "wrong value" in grading.judge_test(key, {**good, "gots": [torch.ones(2), 6]})
    assert "stopped before" in grading.judge_test(key, {"gots": [torch.ones(2)]})
    assert "ValueError: no" in grading.judge_test(key, {"gots": [], "error": "ValueError: no"})
    # a test that raised after its last check (ch06's "not differentiable") does not pass
    assert "Raised" in grading.judge_test(key, {**good, "error": "Raised"})
    assert "did not run" in grading.judge_test(key, None)
    assert "no recorded check" in grading.judge_test([], good)
    score, text = grading.score_exercise({"t": key}, [{"t": {"gots": [torch.zeros(2)]}}, {"t": good}],
                                         points=2, hidden={"t": True})  # fmt: skip
    assert score == 2 and "✅ t" in text  # the better record counts
    score, text = grading.score_exercise({"t": key}, [{"t": {"gots": [torch.zeros(2), 5]}}],
                                         points=2, hidden={"t": True})  # fmt: skip
    assert score == 0 and "wrong value" in text and "expected" not in text  # hidden: no answer


def test_malformed_or_huge_records_are_dropped():
    huge = torch.zeros(1).expand(10**12)  # a few bytes that claim 10^12 elements
    frames = [grading.encode_frame("record", payload) for payload in (
        {"exercise": "ex_1", "tests": {"t": {"gots": [huge], "error": None}}},
        {"exercise": "ex_1", "tests": {"t": {"gots": 3}, "u": "x", 5: {"gots": []}}},
        ["not", "a", "dict"],
        {"exercise": "ex_1", "tests": {"t": {"gots": [1], "error": None}}},
    )]  # fmt: skip
    sent = grading.records(grading.parse_frames("\n".join(frames)))
    assert sent == {"ex_1": [{}, {"t": {"gots": [1], "error": None}}]}


def test_objects_that_would_run_code_cross_as_names_only():
    class Sneaky(torch.Tensor):
        def detach(self):
            raise AssertionError("student code ran while its value was copied")

    class Loud:
        def __repr__(self):
            raise AssertionError("student code ran")

    sneaky = torch.ones(2).as_subclass(Sneaky)
    assert grading.to_data([sneaky, Loud()]) == [{"__object__": "Sneaky"}, {"__object__": "Loud"}]
    weird = grading.from_data({"__object__": "no\x00 such name"})
    assert repr(weird) == "<a no\x00 such name object>"


def test_a_loop_that_records_without_its_variables_still_runs():
    text = """
# %% [raw]
# # BEGIN QUESTION
# name: ex_1

# %%
# HIDDEN
def test_repeat(f):
    from visioncourse.exercises import expect_equal

    inputs, wants = [1, 2], [10, 20]
    for x, want in zip(inputs, wants):
        expect_equal("Ex 1", f(0), 0)

# %% [raw]
# # END QUESTION
"""
    source = grading.rewrite_tests(grading.master_tests(text), key=False)
    recorded, module = [], {}
    exec(compile(source, "<test>", "exec"), module)
    module["_record"] = recorded.append
    module["ex_1__test_repeat"](lambda x: x)
    assert recorded == [0, 0] and "20" not in source
