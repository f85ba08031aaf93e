import importlib.util
import json
import sys
import time
from pathlib import Path

import nbformat

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


def test_run_killable_kills_the_command_and_what_it_started(tmp_path):
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(600)\n"
    )
    finished, output = course_tool.run_killable([sys.executable, "-c", script], timeout=3)
    assert not finished and output == ""
    child = int(pid_file.read_text())
    for _ in range(50):  # SIGKILL is asynchronous; give the kernel a moment
        if not alive(child):
            break
        time.sleep(0.1)
    assert not alive(child)
    assert course_tool.run_killable([sys.executable, "-c", "print('hi')"], 60) == (True, "hi\n")


def fake_otter(write_results: bool, finished: bool, tests=None):
    """Stands in for run_killable: optionally writes otter's results.json, then 'hangs'."""
    tests = tests or [{"name": "ex1_1", "score": 2.0, "max_score": 2.0, "output": "passed"}]

    def run(command, timeout):
        if write_results:
            out = Path(command[command.index("-o") + 1])
            (out / "results.json").write_text(json.dumps({"tests": tests}))
        return finished, "Traceback ...\nRuntimeError: boom\n"

    return run


def autograder(tmp_path) -> Path:
    """An autograder zip with one exercise, ex1_1, worth 2 points."""
    import zipfile

    path = tmp_path / "ag.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("tests/ex1_1.py", "OK_FORMAT = False\nname = 'ex1_1'\npoints = 2\n")
    return path


def notebook_in(tmp_path) -> Path:
    notebook = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    return notebook


def test_grade_notebook_keeps_results_written_before_a_hang(tmp_path, monkeypatch):
    notebook, zip_path = notebook_in(tmp_path), autograder(tmp_path)
    monkeypatch.setattr(course_tool, "run_killable", fake_otter(write_results=True, finished=False))
    scores, text, review = course_tool.grade_notebook(notebook, zip_path, timeout=5)
    assert scores == {"ex1_1": 2.0} and "[ex1_1] 2/2" in text and review is None

    monkeypatch.setattr(course_tool, "run_killable", fake_otter(False, finished=False))
    scores, text, review = course_tool.grade_notebook(notebook, zip_path, timeout=5)
    assert scores == {} and review == "did not finish within 5 s, twice"
    assert "scored 0 until reviewed" in text
    monkeypatch.setattr(course_tool, "run_killable", fake_otter(False, finished=True))
    scores, text, review = course_tool.grade_notebook(notebook, zip_path, timeout=5)
    assert scores == {} and "could not run" in text and "RuntimeError: boom" in text and review


def test_grade_notebook_retries_once_after_a_timeout(tmp_path, monkeypatch):
    notebook, zip_path = notebook_in(tmp_path), autograder(tmp_path)
    attempts = iter([fake_otter(False, finished=False), fake_otter(True, finished=True)])
    monkeypatch.setattr(course_tool, "run_killable", lambda *args: next(attempts)(*args))
    scores, _, _ = course_tool.grade_notebook(notebook, zip_path, timeout=5)
    assert scores == {"ex1_1": 2.0} and next(attempts, None) is None


def test_reported_scores_are_clamped_and_unknown_tests_ignored(tmp_path, monkeypatch):
    """A notebook that writes its own results (50 points on a 2-point exercise, a made-up
    exercise, a negative score elsewhere) gets what the master allows, no more."""
    notebook, zip_path = notebook_in(tmp_path), autograder(tmp_path)
    forged = [{"name": "ex1_1", "score": 50.0}, {"name": "ex9_9", "score": 100.0}]
    monkeypatch.setattr(course_tool, "run_killable", fake_otter(True, True, tests=forged))
    scores, text, review = course_tool.grade_notebook(notebook, zip_path, timeout=5)
    assert scores == {"ex1_1": 2.0} and "ex9_9" not in text and review is None
    assert course_tool.clamp_scores({"ex1_1": -3.0}, {"ex1_1": 2.0}) == {"ex1_1": 0.0}


def test_a_run_without_scored_exercises_is_flagged_not_dropped(tmp_path, monkeypatch):
    notebook, zip_path = notebook_in(tmp_path), autograder(tmp_path)
    monkeypatch.setattr(course_tool, "run_killable", fake_otter(True, True, tests=[{"name": "x"}]))
    scores, text, review = course_tool.grade_notebook(notebook, zip_path, timeout=5)
    assert scores == {} and review == "no scored exercise" and "until reviewed" in text


def test_links_folders_and_huge_files_are_refused_unread(tmp_path, monkeypatch):
    zip_path = autograder(tmp_path)
    monkeypatch.setattr(
        course_tool, "run_killable", lambda *a: (_ for _ in ()).throw(AssertionError("ran"))
    )
    link = tmp_path / "link.ipynb"
    link.symlink_to("/dev/zero")
    folder = tmp_path / "folder.ipynb"
    folder.mkdir()
    huge = tmp_path / "huge.ipynb"
    with huge.open("wb") as f:  # sparse: no disk used
        f.truncate(course_tool.MAX_NOTEBOOK_BYTES + 1)
    for path, why in ((link, "a link"), (folder, "not a regular file"), (huge, "over the")):
        scores, text, review = course_tool.grade_notebook(path, zip_path, timeout=5)
        assert scores == {} and why in review and "not read" in text


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
