"""End to end: grade a folder of submissions with otter and check the gradebook (slow)."""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = [sys.executable, str(ROOT / "tools" / "course.py")]
pytestmark = pytest.mark.notebook


def solution_notebook(chapter: str, dest: Path) -> None:
    """The master with its solutions, tagged with the assignment name as student notebooks are."""
    subprocess.run([sys.executable, "-m", "jupytext", "--to", "ipynb", "-q", "-o", str(dest),
                    str(ROOT / "course" / f"{chapter}.py")], check=True)  # fmt: skip
    nb = json.loads(dest.read_text())
    nb["metadata"]["otter"] = {"assignment_name": chapter}
    dest.write_text(json.dumps(nb))


def student_notebook(chapter: str) -> dict:
    return json.loads((ROOT / "course" / "student" / chapter / f"{chapter}.ipynb").read_text())


def fill_in(nb: dict, function: str, body: str) -> dict:
    """Replace the `...` body of one exercise function, as a student would."""
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and src.startswith(f"def {function}("):
            cell["source"] = re.sub(r"\n    \.\.\.", "\n" + body, src)
    return nb


def master_points(chapter: str) -> float:
    """Points of a chapter, read from its master's `# points: N` question headers."""
    text = (ROOT / "course" / f"{chapter}.py").read_text()
    return sum(float(p) for p in re.findall(r"^# points: ([0-9.]+)$", text, flags=re.M))


def read_gradebook(folder: Path) -> dict:
    with (folder / "gradebook.csv").open() as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_grading_a_class(tmp_path):
    ch0, ch1 = "00_shapes_world", "01_boxes_iou"
    (tmp_path / "ada").mkdir()  # perfect on both chapters
    solution_notebook(ch0, tmp_path / "ada" / f"{ch0}.ipynb")
    solution_notebook(ch1, tmp_path / "ada" / f"{ch1}.ipynb")
    (tmp_path / "bo").mkdir()  # partial: only exercise 0.3 done
    partial = fill_in(
        student_notebook(ch0),
        "objects_per_class",
        "    return F.one_hot(labels, num_classes + 1)[..., 1:].sum(dim=1)",
    )
    (tmp_path / "bo" / f"{ch0}.ipynb").write_text(json.dumps(partial))
    (tmp_path / "cy").mkdir()  # crashes in the first cell, but 0.3 is right
    crashing = fill_in(
        student_notebook(ch0),
        "objects_per_class",
        "    return F.one_hot(labels, num_classes + 1)[..., 1:].sum(dim=1)",
    )
    crashing["cells"].insert(0, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                 "id": "crash", "source": "raise RuntimeError('boom')"})  # fmt: skip
    (tmp_path / "cy" / f"{ch0}.ipynb").write_text(json.dumps(crashing))
    (tmp_path / "di").mkdir()  # not a notebook at all
    (tmp_path / "di" / f"{ch0}.ipynb").write_text("print('I am a script')\n")

    subprocess.run(TOOL + ["grade", str(tmp_path), "--timeout", "300"], check=True)
    book = read_gradebook(tmp_path)
    every_chapter = sum(master_points(m.stem) for m in (ROOT / "course").glob("[0-9][0-9]_*.py"))
    assert float(book["max points"]["total"]) == every_chapter
    assert master_points(ch0) == 5 and master_points(ch1) == 12
    feedback = {
        name: (tmp_path / "feedback" / f"{name}.txt").read_text() for name in "ada bo cy di".split()
    }
    assert float(book["ada"]["total"]) == 17, feedback["ada"]  # both submitted chapters in full
    assert float(book["bo"][f"{ch0}/ex0_3"]) == 1, feedback["bo"]
    assert float(book["bo"]["total"]) == 1, feedback["bo"]
    assert float(book["cy"]["total"]) == 1, feedback["cy"]  # a crash costs only what it breaks
    assert float(book["di"]["total"]) == 0
    assert "not a valid Jupyter notebook" in feedback["di"]
    assert "Exercise 0.1" in feedback["bo"] and "not submitted" in feedback["bo"]


def test_an_endless_loop_costs_only_its_notebook(tmp_path):
    ch0 = "00_shapes_world"
    (tmp_path / "eve").mkdir()
    looping = student_notebook(ch0)
    looping["cells"].insert(0, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                "id": "loop", "source": "while True:\n    pass"})  # fmt: skip
    (tmp_path / "eve" / f"{ch0}.ipynb").write_text(json.dumps(looping))
    (tmp_path / "fay").mkdir()
    (tmp_path / "fay" / f"{ch0}.ipynb").write_text("{not json")
    subprocess.run(TOOL + ["grade", str(tmp_path), "--timeout", "20"], check=True)
    book = read_gradebook(tmp_path)
    assert float(book["eve"]["total"]) == 0 and float(book["fay"]["total"]) == 0
    assert "did not finish within 20 s, twice" in (tmp_path / "feedback" / "eve.txt").read_text()


def test_grading_in_parallel_gives_the_same_gradebook(tmp_path):
    """JOBS=2 and JOBS=1 agree on four honest submissions of chapter 00, and both write the
    class summary (CSV and picture)."""
    ch0 = "00_shapes_world"
    body = "    return F.one_hot(labels, num_classes + 1)[..., 1:].sum(dim=1)"
    books = []
    for jobs in (1, 2):
        folder = tmp_path / f"jobs{jobs}"
        for name in ("ada", "bo", "cy", "di"):
            (folder / name).mkdir(parents=True)
        solution_notebook(ch0, folder / "ada" / f"{ch0}.ipynb")
        (folder / "bo" / f"{ch0}.ipynb").write_text(
            json.dumps(fill_in(student_notebook(ch0), "objects_per_class", body))
        )
        (folder / "cy" / f"{ch0}.ipynb").write_text(
            json.dumps(student_notebook(ch0))
        )  # nothing done
        solution_notebook(ch0, folder / "di" / f"{ch0}.ipynb")
        subprocess.run(
            TOOL + ["grade", str(folder), "--timeout", "300", "--jobs", str(jobs)], check=True
        )
        books.append((folder / "gradebook.csv").read_text())
        assert (folder / "summary.png").stat().st_size > 0
        summary = list(csv.DictReader((folder / "summary.csv").open()))
        assert any(
            row["exercise"] == f"{ch0}/ex0_3" and float(row["full marks"]) == 3 for row in summary
        )
    assert books[0] == books[1]
    book = read_gradebook(tmp_path / "jobs2")
    assert float(book["ada"]["total"]) == float(book["di"]["total"]) == 5
    assert float(book["bo"]["total"]) == 1 and float(book["cy"]["total"]) == 0
