"""grader.check without otter: finding the public tests, running them, and what it says."""

import linecache
import textwrap

import pytest
import torch

from visioncourse.exercises import Grader, expect_equal, use_or_reference

TEST_FILE = """\
from otter.test_files import test_case

OK_FORMAT = False

name = "ex9_1"
points = 2

@test_case(points=None, hidden=False)
def test_double(double):
    import torch
    from visioncourse.exercises import expect_close
    expect_close("Exercise 9.1 (double)", double(torch.tensor([1.0, 2.0])), [2.0, 4.0],
                 inputs="[1, 2]", hint="multiply by 2")

@test_case(points=None, hidden=True)
def test_never_public(double):
    raise AssertionError("a hidden test ran in grader.check")
"""


def notebook(code: str) -> dict:
    """Run ``code`` as a notebook cell does: at the top level of a namespace of its own, with
    its source in linecache as IPython keeps it (so tracebacks show the cell's lines)."""
    name = f"<cell {abs(hash(code))}>"
    source = textwrap.dedent(code)
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    namespace = {"Grader": Grader}
    exec(compile(source, name, "exec"), namespace)
    return namespace


@pytest.fixture
def chapter(tmp_path, monkeypatch):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "ex9_1.py").write_text(TEST_FILE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_passes_a_right_answer_and_skips_hidden_tests(chapter):
    nb = notebook("""
        def double(x):
            return 2 * x
        result = Grader("99_demo").check("ex9_1")
    """)
    result = nb["result"]
    assert result.passed and "ex9_1: 1 public test passed" in repr(result)


def test_check_message_comes_first_and_names_input_expected_hint(chapter):
    nb = notebook("""
        def double(x):
            return x + 1
        result = Grader("99_demo").check("ex9_1")
    """)
    text = repr(nb["result"])
    assert text.startswith("❌ Exercise 9.1 (double): wrong value")
    for part in ("input:    [1, 2]", "expected: [2.0, 4.0]", "hint:     multiply by 2"):
        assert part in text
    assert "expect_close(" not in text  # no source line before the message


def test_check_says_not_done_undefined_and_where_code_raised(chapter):
    nb = notebook("""
        def double(x): ...
        unfinished = Grader("99_demo").check("ex9_1")
        del double
        undefined = Grader("99_demo").check("ex9_1")
        def double(x):
            return x[5]
        raising = Grader("99_demo").check("ex9_1")
    """)
    assert "not done yet" in repr(nb["unfinished"])
    assert "`double` is not defined yet" in repr(nb["undefined"])
    text = repr(nb["raising"])
    assert "your code raised IndexError" in text and "return x[5]" in text


def test_check_without_tests_says_where_they_are(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grader = Grader("99_demo", repo="https://example.org/course")
    result = grader.check("ex9_1")
    assert not result.passed
    assert "course/student/99_demo/tests/ of https://example.org/course" in repr(result)


def test_check_finds_the_chapter_tests_from_anywhere(tmp_path, monkeypatch):
    """After a chdir, or in a folder whose tests/ is something else's, the chapter's tests
    are still found (here: in the course checkout this package is installed from)."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_unrelated.py").write_text("")
    monkeypatch.chdir(tmp_path)
    nb = notebook("""
        result = Grader("00_shapes_world").check("ex0_1")
    """)
    assert "`class_pixel_fractions` is not defined yet" in repr(nb["result"])


def test_check_all_checks_every_exercise(chapter):
    nb = notebook("""
        def double(x):
            return x * 2
        results = Grader("99_demo").check_all()
    """)
    results = nb["results"]
    assert [r.name for r in results] == ["ex9_1"] and all(results)


def test_expect_equal_says_not_done_for_none():
    with pytest.raises(AssertionError, match="not done yet"):
        expect_equal("Ex", None, torch.tensor([1]))
    with pytest.raises(AssertionError, match="not done yet"):
        expect_equal("Ex", None, 3)


def reference(x):
    return x * 2


def test_use_or_reference_by_name_survives_a_skipped_cell(capsys):
    assert use_or_reference("Exercise 9.1", "never_defined", reference, torch.ones(2)) is reference
    assert "(`never_defined`) is not defined: run its cell above" in capsys.readouterr().out


def twice(x):
    return x + x


def test_use_or_reference_by_name_and_adapt():
    assert use_or_reference("Exercise 9.1", "twice", reference, torch.ones(2)) is twice

    def as_pair(fn):  # e.g. a loss that returns (value, parts): compare the value only
        return lambda x: (fn(x), "parts")[0]

    chosen = use_or_reference("Exercise 9.1", twice, reference, torch.ones(2), adapt=as_pair)
    assert chosen is twice  # the function itself, not its adapted probe


def test_checks_every_committed_public_test_file():
    """Every student test file that otter assign wrote is readable by Grader (its test
    functions found, none hidden), so `grader.check` works in every chapter."""
    from pathlib import Path

    from visioncourse.exercises import _test_functions

    root = Path(__file__).resolve().parent.parent
    files = sorted((root / "course" / "student").glob("*/tests/*.py"))
    assert len(files) >= 8
    for path in files:
        found = _test_functions(path)
        assert found and not any(hidden for _, hidden in found), path


def test_use_or_reference_says_not_done_before_adapting(capsys):
    def unfinished(x): ...

    def first(fn):  # like chapter 03's labels_of: would raise on None
        return lambda x: fn(x)[0]

    def reference_pair(x):
        return x, "extra"

    chosen = use_or_reference(
        "Exercise 9.2", unfinished, reference_pair, torch.ones(2), adapt=first
    )
    assert chosen is reference_pair and "Exercise 9.2 is not done yet" in capsys.readouterr().out
