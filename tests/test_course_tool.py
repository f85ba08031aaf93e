import importlib.util
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import torch

from visioncourse.grading import encode_frame

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("course_tool", ROOT / "tools" / "course.py")
course_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(course_tool)


def test_solution_lines_ignore_lines_the_notebook_uses_elsewhere(tmp_path):
    master = tmp_path / "99_demo.py"
    master.write_text(
        "with torch.no_grad():\n"
        "    y = f(\n"
        "    )\n"
        "def answer(x):\n"
        "    # BEGIN SOLUTION\n"
        "    with torch.no_grad():\n"
        "        secret = x.flip(0).cummax(0)\n"
        "    )\n"
        "    # END SOLUTION\n"
    )
    assert course_tool.solution_lines(master) == ["secret = x.flip(0).cummax(0)"]


def alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()  # a zombie is dead, just not reaped
    except FileNotFoundError:
        return False


def test_run_capped_kills_the_command_and_what_it_started(tmp_path):
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(600)\n"
    )
    finished, output = course_tool.run_capped([sys.executable, "-c", script], timeout=3)
    assert not finished and output == "started\n"  # what it printed before the kill is kept
    child = int(pid_file.read_text())
    for _ in range(50):  # SIGKILL is asynchronous; give the kernel a moment
        if not alive(child):
            break
        time.sleep(0.1)
    assert not alive(child)
    assert course_tool.run_capped([sys.executable, "-c", "print('hi')"], 60) == (True, "hi\n")


def test_run_capped_keeps_at_most_the_cap(monkeypatch):
    monkeypatch.setattr(course_tool, "MAX_OUTPUT_BYTES", 1000)
    script = "import sys\nfor _ in range(10000): sys.stdout.write('x' * 100)"
    finished, output = course_tool.run_capped([sys.executable, "-c", script], timeout=60)
    assert finished and output == "x" * 1000


def fake_chapter():
    """A chapter with one exercise, ex1_1 (2 points): one public test whose one check wants
    [1., 2.]."""
    check = {"kind": "expect_close", "label": "Exercise 1.1",
             "expected": torch.tensor([1.0, 2.0]), "options": {}}  # fmt: skip
    return SimpleNamespace(points={"ex1_1": 2.0}, hidden={"ex1_1": {"test_a": False}},
                           sandbox_tests="", key=lambda: {"ex1_1": {"test_a": [check]}})  # fmt: skip


def fake_run(records=(), finished=True, garbage=""):
    """Stands in for run_capped: prints ``records`` (got values for test_a) as frames."""

    def run(command, timeout, env=None, cwd=None):
        frames = [encode_frame("record", {"exercise": "ex1_1", "tests": {"test_a": {"gots": [g]}}})
                  for g in records]  # fmt: skip
        return finished, "\n".join([garbage, *frames, "Traceback ...\nRuntimeError: boom"])

    return run


def notebook_in(tmp_path) -> Path:
    notebook = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    return notebook


def grade_fake(tmp_path, monkeypatch, run):
    monkeypatch.setattr(course_tool, "run_capped", run)
    monkeypatch.setattr(course_tool, "make_cgroups", lambda memory_gb: [])
    return course_tool.grade_notebook(notebook_in(tmp_path), fake_chapter(), timeout=5)


def test_grade_notebook_scores_the_values_that_came_back(tmp_path, monkeypatch):
    right, wrong = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0])
    scores, text, review = grade_fake(tmp_path, monkeypatch, fake_run([right]))
    assert scores == {"ex1_1": 2.0} and "[ex1_1] 2/2" in text and review is None
    scores, text, review = grade_fake(tmp_path, monkeypatch, fake_run([wrong]))
    assert scores == {"ex1_1": 0.0} and "wrong value" in text and review is None
    # what a run sent before it hung counts
    scores, _, review = grade_fake(tmp_path, monkeypatch, fake_run([right], finished=False))
    assert scores == {"ex1_1": 2.0} and review == "did not finish within 5 s, twice"


def test_guesses_beyond_what_the_notebook_sends_are_not_read(tmp_path, monkeypatch):
    """A notebook without grader.check cells sends one record per exercise; a run that prints
    eleven (guessing the hidden answer) is scored on the first and flagged."""
    guesses = [torch.tensor([float(a), float(b)]) for a, b in zip(range(11), range(1, 12))]
    scores, text, review = grade_fake(tmp_path, monkeypatch, fake_run(guesses))
    assert scores == {"ex1_1": 0.0} and "more test results than the notebook makes" in review


def test_grade_notebook_retries_once_after_a_timeout(tmp_path, monkeypatch):
    attempts = iter([fake_run(finished=False), fake_run([torch.tensor([1.0, 2.0])])])
    scores, _, review = grade_fake(tmp_path, monkeypatch, lambda *a, **k: next(attempts)(*a, **k))
    assert scores == {"ex1_1": 2.0} and review is None and next(attempts, None) is None


def test_forged_frames_are_data_that_scores_nothing(tmp_path, monkeypatch):
    """Claims of a score, a pass or a made-up test are not values the key asks for."""
    forged = "\n".join([
        encode_frame("score", {"ex1_1": 50.0}),
        encode_frame("record", {"exercise": "ex1_1", "tests": {"test_a": {"gots": ["passed"]},
                                                               "test_made_up": {"gots": [1]}}}),
        encode_frame("record", {"exercise": "ex9_9", "tests": {"test_x": {"gots": [1]}}}),
        "@@visioncourse-grading record !!not base64!!",
    ])  # fmt: skip
    scores, text, review = grade_fake(tmp_path, monkeypatch, fake_run(garbage=forged))
    assert scores == {"ex1_1": 0.0} and "made_up" not in text and "ex9_9" not in text
    assert review is None  # one record came back, as the notebook makes; it was just wrong


def test_a_run_without_records_is_flagged_not_dropped(tmp_path, monkeypatch):
    scores, text, review = grade_fake(tmp_path, monkeypatch, fake_run())
    assert scores == {"ex1_1": 0.0} and review == "no test result came back"
    assert "until reviewed" in text and "RuntimeError: boom" in text


def test_links_folders_and_huge_files_are_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(
        course_tool, "run_capped", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran"))
    )
    link = tmp_path / "link.ipynb"
    link.symlink_to("/dev/zero")
    folder = tmp_path / "folder.ipynb"
    folder.mkdir()
    huge = tmp_path / "huge.ipynb"
    with huge.open("wb") as f:  # sparse: no disk used
        f.truncate(course_tool.MAX_NOTEBOOK_BYTES + 1)
    for path, why in ((link, "a link"), (folder, "not a regular file"), (huge, "over the")):
        scores, text, review = course_tool.grade_notebook(path, fake_chapter(), timeout=5)
        assert scores == {} and why in review and "not read" in text
    not_json = tmp_path / "script.ipynb"
    not_json.write_text("print('I am a script')")
    scores, text, review = course_tool.grade_notebook(not_json, fake_chapter(), timeout=5)
    assert review == "not a valid Jupyter notebook"


def test_grade_refuses_a_folder_without_student_folders(tmp_path, capsys):
    chapters = ["00_shapes_world", "01_boxes_iou"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no student folders, only nothing to grade" in course_tool.check_layout(empty, chapters)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "00_shapes_world.ipynb").write_text("{}")
    (flat / ".ipynb_checkpoints").mkdir()  # Jupyter's, not a student
    message = course_tool.check_layout(flat, chapters)
    assert "only 1 notebook(s) directly in it (00_shapes_world.ipynb)" in message
    assert f"{flat}/ada/00_shapes_world.ipynb" in message
    (flat / "ada").mkdir()
    (flat / "ada" / "homework.ipynb").write_text("{}")
    assert "holds a chapter notebook" in course_tool.check_layout(flat, chapters)
    (flat / "ada" / "01_boxes_iou.ipynb").write_text("{}")
    assert course_tool.check_layout(flat, chapters) is None
    assert "is not a folder" in course_tool.check_layout(tmp_path / "nowhere", chapters)
    try:
        course_tool.grade(empty)
    except SystemExit as stop:
        assert "expected one folder per student" in str(stop)
    else:
        raise AssertionError("grade() accepted an empty folder")
    assert not (empty / "gradebook.csv").exists()
