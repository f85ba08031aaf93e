"""Instructor tools: build student notebooks, check them, grade a folder of submissions.

    python tools/course.py student            # masters -> course/student/<chapter>/ (+ autograders)
    python tools/course.py check              # student build is current and leaks no solution
    python tools/course.py grade DIR [--timeout S]

Otter-grader does the real work (solution stripping, test files, running submissions); this
file only loops over chapters and students and collects otter's results into a gradebook.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "course"
STUDENT = COURSE / "student"
AUTOGRADERS = ROOT / "build" / "autograder"
README = ROOT / "README.md"
# Every master's first code cell, from "# Setup:" to the "grader = " line, is written from
# this template by `make student`, so the Colab bootstrap is the same in every chapter.
SETUP_BLOCK = re.compile(r"^# Setup:.*?^grader = [^\n]*$", re.M | re.S)
SETUP_CELL = """\
# Setup: works locally (after `make lab`) and on Colab, where its first run fetches and
# installs the course. Safe to run again, and after Colab's "Restart session".
import importlib.util
import os
import subprocess
import sys

COURSE_REPO = "{repo}"
CHAPTER = "{chapter}"
if "google.colab" in sys.modules:
    home = "/content/course"
    if not os.path.isdir(f"{{home}}/course/student/{{CHAPTER}}"):  # cloned whole, or not at all:
        subprocess.run(["rm", "-rf", home, f"{{home}}.partial"], check=True)
        subprocess.run(["git", "clone", "-q", "--depth", "1", COURSE_REPO, f"{{home}}.partial"], check=True)
        os.rename(f"{{home}}.partial", home)  # an interrupted clone never looks finished
    if importlib.util.find_spec("visioncourse") is None:  # not installed by an earlier run
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", home], check=True)
        importlib.invalidate_caches()
    os.chdir(f"{{home}}/course/student/{{CHAPTER}}")

from visioncourse.exercises import Grader
from visioncourse.runtime import setup, sizes

grader = Grader(CHAPTER, repo=COURSE_REPO)  # runs the public tests in ./tests"""


def masters() -> list[Path]:
    return sorted(COURSE.glob("[0-9][0-9]_*.py"))


def repo_url() -> str:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return meta["project"]["urls"]["Repository"]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


# ----------------------------------------------------------------------------- student build


def sync_repo_url() -> None:
    """Write every master's setup cell (with pyproject's repository URL) and the README badges."""
    url = repo_url()
    for master in masters():
        text = master.read_text()
        cell = SETUP_CELL.format(repo=url, chapter=master.stem)
        if SETUP_BLOCK.search(text) is None:
            raise SystemExit(f"{master}: no setup cell (a '# Setup:' line down to 'grader = ...')")
        start, end = SETUP_BLOCK.search(text).span()
        new = text[:start] + cell + text[end:]
        if new != text:
            master.write_text(new)
    if README.exists():
        text = README.read_text()
        start, end = "<!-- syllabus:start -->", "<!-- syllabus:end -->"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            _, tail = rest.split(end, 1)
            README.write_text(head + start + "\n" + syllabus_table(url) + end + tail)


def chapter_title(master: Path) -> str:
    match = re.search(r"^# # Chapter \d+ — (.+)$", master.read_text(), re.M)
    return match.group(1).strip() if match else master.stem


def syllabus_table(url: str) -> str:
    path = url.replace("https://github.com/", "")
    rows = ["| # | chapter | open |", "|---|---|---|"]
    for master in masters():
        ch = master.stem
        badge = (
            f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{path}/blob/main/course/student/{ch}/{ch}.ipynb)"
        )
        rows.append(f"| {ch[:2]} | {chapter_title(master)} | {badge} |")
    return "\n".join(rows) + "\n"


def assign(master: Path, out: Path) -> Path:
    """jupytext + otter assign for one master; returns otter's output folder."""
    work = out / master.stem
    work.mkdir(parents=True)
    notebook = work / f"{master.stem}.ipynb"
    run([sys.executable, "-m", "jupytext", "--to", "ipynb", "-q", "-o", str(notebook), str(master)])
    run(
        [sys.executable, "-m", "otter", "assign", "--no-pdfs", str(notebook), str(work / "dist")],
        cwd=work,
    )
    return work / "dist"


def stable_cell_ids(notebook: Path) -> None:
    """Replace the random cell ids nbformat assigns, so a rebuild is byte-identical."""
    nb = json.loads(notebook.read_text())
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"cell-{i:03d}"
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def build_students(dest: Path = STUDENT, autograders: Path | None = AUTOGRADERS) -> None:
    """Write every student notebook and its public tests to dest/<chapter>/."""
    sync_repo_url()
    with tempfile.TemporaryDirectory() as tmp:
        for master in masters():
            dist = assign(master, Path(tmp))
            target = dest / master.stem
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(dist / "student", target)
            stable_cell_ids(target / f"{master.stem}.ipynb")
            if autograders is not None:
                autograders.mkdir(parents=True, exist_ok=True)
                zip_path = next((dist / "autograder").glob("*.zip"))
                shutil.copy(zip_path, autograders / f"{master.stem}.zip")
            print(f"built {target}")


def solution_lines(master: Path) -> list[str]:
    """The code lines found only between BEGIN/END SOLUTION markers of a master (stripped).

    A line that also occurs outside the solutions (``)``, ``with torch.no_grad():``) is the
    notebook's own code, not a leak.
    """
    solution, elsewhere, inside = [], set(), False
    for line in master.read_text().splitlines():
        stripped = line.strip()
        if stripped == "# BEGIN SOLUTION":
            inside = True
        elif stripped == "# END SOLUTION":
            inside = False
        elif stripped and not stripped.startswith("#"):
            (solution.append if inside else elsewhere.add)(stripped)
    return [line for line in solution if line not in elsewhere]


def check_students() -> list[str]:
    """Problems with the committed student build: stale (differs from a rebuild) or leaking."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "student"
        build_students(fresh, autograders=None)
        for master in masters():
            committed = STUDENT / master.stem
            for new in sorted((fresh / master.stem).rglob("*")):
                if new.is_file():
                    old = committed / new.relative_to(fresh / master.stem)
                    if not old.exists() or old.read_bytes() != new.read_bytes():
                        problems.append(f"{old.relative_to(ROOT)} is stale: run `make student`")
    for master in masters():
        notebook = STUDENT / master.stem / f"{master.stem}.ipynb"
        if not notebook.exists():
            problems.append(f"{notebook.relative_to(ROOT)} is missing: run `make student`")
            continue
        cells = json.loads(notebook.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        code_lines = {line.strip() for line in code.splitlines()}
        for line in solution_lines(master):
            if line in code_lines:
                problems.append(f"{notebook.relative_to(ROOT)} leaks a solution line: {line!r}")
    return problems


# ----------------------------------------------------------------------------- grading


def exercise_points(zip_path: Path) -> dict[str, float]:
    """Exercise name -> points, read from the autograder's test files."""
    import zipfile

    points = {}
    with zipfile.ZipFile(zip_path) as z:
        for name in sorted(z.namelist()):
            if name.startswith("tests/") and name.endswith(".py"):
                match = re.search(r"^points = ([\d.]+)", z.read(name).decode(), re.M)
                points[Path(name).stem] = float(match.group(1)) if match else 1.0
    return points


def run_killable(command: list[str], timeout: float) -> tuple[bool, str]:
    """Run ``command``; past ``timeout``, kill it and every process in its session.

    Returns (finished in time, its merged stdout and stderr; empty after a kill).
    """
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as proc:  # fmt: skip
        try:
            return True, proc.communicate(timeout=timeout)[0]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the kernel exits with its parent
            proc.wait()
            return False, ""


MAX_NOTEBOOK_BYTES = 50 * 2**20  # a chapter with outputs is a few MB


def refuse_reason(notebook: Path) -> str | None:
    """Why a submitted path is not read at all: a link (to /dev/zero, to another student's
    file, ...), anything but a regular file, or a file over ``MAX_NOTEBOOK_BYTES``."""
    if notebook.is_symlink():
        return "a link, not a file: not read"
    if not notebook.is_file():
        return "not a regular file: not read"
    size = notebook.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        return (
            f"{size / 2**20:.0f} MB, over the {MAX_NOTEBOOK_BYTES / 2**20:.0f} MB limit: not read"
        )
    return None


def clamp_scores(scores: dict[str, float], points: dict[str, float]) -> dict[str, float]:
    """Scores an autograder reported, trusted only as far as the master allows: exercises the
    chapter does not have are dropped, and each score is clamped to [0, its points]."""
    return {q: min(max(float(s), 0.0), points[q]) for q, s in scores.items() if q in points}


def grade_notebook(notebook: Path, zip_path: Path, timeout: float,
                   points: dict[str, float] | None = None) -> tuple[dict[str, float], str, str | None]:  # fmt: skip
    """Scores per exercise, a feedback text and, where a person should look, why (else None)
    for one submitted notebook. ``points``: the autograder's exercise points, if already
    read. Never raises."""
    import nbformat

    refused = refuse_reason(notebook)
    if refused:
        return {}, f"{refused}; scored 0 until reviewed", refused
    try:
        nbformat.validate(nbformat.read(notebook, as_version=4))
    except Exception as err:  # not JSON, not a notebook, or a broken one
        return (
            {},
            f"not a valid Jupyter notebook ({type(err).__name__}); scored 0",
            "not a valid notebook",
        )
    for _ in range(2):  # a timeout gets one more try: the hang may be the machine's, not the code's
        with tempfile.TemporaryDirectory() as out:
            otter_run = [sys.executable, "-m", "otter", "run", "-a", str(zip_path), "-o", out]
            finished, output = run_killable(otter_run + [str(notebook)], timeout)
            results = Path(out) / "results.json"
            # otter copies results.json only after every test ran: a run that hangs on its way
            # out has still graded fully.
            if results.exists():
                tests = json.loads(results.read_text())["tests"]
                break
            if finished:
                tail = "\n  ".join(output.strip().splitlines()[-3:])
                why = "the autograder could not run it"
                return {}, f"{why}; scored 0 until reviewed\n  {tail}", why
    else:
        why = f"did not finish within {timeout:.0f} s, twice"
        return {}, f"{why} (an endless loop, or a hung run); scored 0 until reviewed", why
    points = points if points is not None else exercise_points(zip_path)
    scores = clamp_scores({t["name"]: t["score"] for t in tests if "score" in t}, points)
    text = "\n\n".join(f"[{t['name']}] {scores.get(t['name'], 0):g}/{points.get(t['name'], 0):g}\n{t.get('output', '')}"
                       for t in tests if t.get("name") in points)  # fmt: skip
    if not scores:  # otter ran but reported nothing we know: never a silent 0
        return (
            {},
            "the run reported no scored exercise; scored 0 until reviewed",
            "no scored exercise",
        )
    return scores, text, None


def student_folders(submissions: Path) -> list[Path]:
    """The student folders: every folder but feedback/ and hidden ones (.ipynb_checkpoints)."""
    return sorted(p for p in submissions.iterdir()
                  if p.is_dir() and p.name != "feedback" and not p.name.startswith("."))  # fmt: skip


def check_layout(submissions: Path, chapters: list[str]) -> str | None:
    """Why ``submissions`` is not a folder of student folders holding chapter notebooks (a
    message that shows the expected layout), or None when it is."""
    example = (
        f"{submissions}/<student>/{chapters[0]}.ipynb, e.g. {submissions}/ada/{chapters[0]}.ipynb"
    )
    expected = f"expected one folder per student with the chapter notebooks inside: {example}"
    if not submissions.is_dir():
        return f"{submissions} is not a folder; {expected}"
    folders = student_folders(submissions)
    loose = sorted(p.name for p in submissions.glob("*.ipynb"))
    if not folders:
        found = (
            f"{len(loose)} notebook(s) directly in it ({', '.join(loose[:3])})"
            if loose
            else "nothing to grade"
        )
        return f"{submissions} has no student folders, only {found}; {expected}"
    names = {f"{c}.ipynb" for c in chapters}
    if not any(p.name in names for f in folders for p in f.iterdir()):
        return f"no student folder in {submissions} holds a chapter notebook ({', '.join(sorted(names)[:2])}, ...); {expected}"
    return None


def write_summary(rows: list[dict], columns: list[tuple[str, str, float]], folder: Path) -> None:
    """The class at a glance: summary.csv (per exercise: mean, full marks, zeros) and
    summary.png (mean share of the points per exercise, and the totals)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = []
    for c, q, p in columns:
        got = [float(r[f"{c}/{q}"]) for r in rows]
        stats.append({"exercise": f"{c}/{q}", "points": p, "mean": sum(got) / max(len(got), 1),
                      "full marks": sum(g >= p for g in got), "zero": sum(g == 0 for g in got)})  # fmt: skip
    with (folder / "summary.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(stats[0]) if stats else ["exercise"])
        writer.writeheader()
        writer.writerows(stats)
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(12, 0.25 * len(stats) + 2), gridspec_kw={"width_ratios": [2, 1]}
    )
    names = [s["exercise"] for s in stats]
    left.barh(names, [s["mean"] / s["points"] for s in stats], color="#4c72b0")
    left.set_xlim(0, 1), left.invert_yaxis(), left.tick_params(labelsize=6)
    left.set_xlabel("mean share of the points"), left.set_title(f"{len(rows)} students", fontsize=9)
    right.hist([float(r["total"]) for r in rows], bins=10, color="#55a868")
    right.set_xlabel("total points"), right.set_ylabel("students")
    flagged = [r["student"] for r in rows if r["review"]]
    shown = ", ".join(flagged[:6]) + (" …" if len(flagged) > 6 else "") if flagged else "none"
    right.set_title(f"for review: {shown}", fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "summary.png", dpi=100)
    plt.close(fig)


def grade(submissions: Path, timeout: float = 300.0, jobs: int = 1) -> Path:
    """Grade every student folder in ``submissions``; write gradebook.csv, feedback files and
    a summary. ``jobs`` notebooks are graded at once (each in its own otter process); the
    gradebook does not depend on it."""
    from concurrent.futures import ThreadPoolExecutor

    if jobs < 1:
        raise SystemExit(f"--jobs must be at least 1; got {jobs}")
    chapters = [m.stem for m in masters()]
    layout_error = check_layout(submissions, chapters)
    if layout_error:
        raise SystemExit(layout_error)
    missing = [c for c in chapters if not (AUTOGRADERS / f"{c}.zip").exists()]
    if missing:
        print(f"building the autograders first ({', '.join(missing)})")
        with tempfile.TemporaryDirectory() as tmp:
            build_students(Path(tmp), autograders=AUTOGRADERS)
    points = {c: exercise_points(AUTOGRADERS / f"{c}.zip") for c in chapters}
    columns = [(c, q, p) for c in chapters for q, p in points[c].items()]
    feedback_dir = submissions / "feedback"
    feedback_dir.mkdir(exist_ok=True)
    rows = []
    students = student_folders(submissions)
    loose = sorted(p.name for p in submissions.glob("*.ipynb"))
    if loose:
        print(f"warning: not graded, not in a student folder: {', '.join(loose)}")

    def one(task):
        student, chapter = task
        notebook = student / f"{chapter}.ipynb"
        if not (notebook.exists() or notebook.is_symlink()):
            return {}, "not submitted", None
        return grade_notebook(notebook, AUTOGRADERS / f"{chapter}.zip", timeout, points[chapter])

    tasks = [(student, chapter) for student in students for chapter in chapters]
    with ThreadPoolExecutor(max_workers=jobs) as pool:  # threads: the work is in otter's processes
        results = dict(zip(tasks, pool.map(one, tasks)))
    for student in students:
        row, notes = {"student": student.name}, [f"Feedback for {student.name}"]
        review = []
        for chapter in chapters:
            scores, text, why = results[student, chapter]
            if why:
                review.append(f"{chapter}: {why}")
            notes.append(f"\n=== {chapter} ===\n{text}")
            for c, q, _ in columns:
                if c == chapter:
                    row[f"{c}/{q}"] = scores.get(q, 0.0)
            print(f"{student.name:20s} {chapter}: {sum(scores.values()):g} points")
        row["total"] = sum(v for k, v in row.items() if "/" in k)
        row["review"] = "; ".join(review)
        if review:
            notes.insert(1, "FOR REVIEW: " + "; ".join(review))
        rows.append(row)
        (feedback_dir / f"{student.name}.txt").write_text("\n".join(notes) + "\n")
    gradebook = submissions / "gradebook.csv"
    fields = ["student"] + [f"{c}/{q}" for c, q, _ in columns] + ["total", "review"]
    with gradebook.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerow({"student": "max points", **{f"{c}/{q}": p for c, q, p in columns},
                         "total": sum(p for *_, p in columns)})  # fmt: skip
        writer.writerows(rows)
    write_summary(rows, columns, submissions)
    flagged = [r["student"] for r in rows if r["review"]]
    if flagged:
        print(f"for review (see the review column): {', '.join(flagged)}")
    print(
        f"wrote {gradebook}, summary.csv, summary.png and {len(rows)} feedback files in {feedback_dir}"
    )
    return gradebook


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("student", help="build student notebooks and autograders")
    sub.add_parser("check", help="fail if the student build is stale or leaks solutions")
    g = sub.add_parser("grade", help="grade a folder of student folders")
    g.add_argument("submissions", type=Path)
    g.add_argument("--timeout", type=float, default=300.0, help="seconds per notebook")
    g.add_argument("--jobs", type=int, default=1, help="notebooks graded at once")
    args = parser.parse_args(argv)
    if args.command == "student":
        build_students()
    elif args.command == "check":
        problems = check_students()
        print("\n".join(problems) or "student notebooks are current and leak no solution")
        raise SystemExit(1 if problems else 0)
    else:
        grade(args.submissions, args.timeout, args.jobs)


if __name__ == "__main__":
    main()
