"""The student notebooks' setup cell in a simulated Colab runtime: the first run clones and
installs, a second run and a run after "Restart session" do neither, and every run ends in
the chapter folder with its public tests found."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = "00_shapes_world"

# Runs in a fresh interpreter, as a Colab kernel does: google.colab importable, pip replaced
# by a recorder (the course is already importable here), and, for a fresh runtime, the
# visioncourse package hidden until that "pip install" has run.
KERNEL = r"""
import json, os, subprocess, sys, types
sys.modules["google"] = types.ModuleType("google")
sys.modules["google.colab"] = types.ModuleType("google.colab")
calls, real_run = [], subprocess.run

if os.environ["FRESH_RUNTIME"] == "1":
    sys.modules["visioncourse"] = None  # importlib.util.find_spec now says "not installed"

def run(cmd, *args, **kwargs):
    calls.append(cmd[:3] if cmd[0] != sys.executable else ["pip", *cmd[3:4]])
    if cmd[0] == sys.executable:  # pip install: the course "appears"
        del sys.modules["visioncourse"]
        return subprocess.CompletedProcess(cmd, 0)
    return real_run(cmd, *args, **kwargs)

subprocess.run = run
cell = open(os.environ["SETUP_CELL"]).read()
results = []
for _ in range(int(os.environ["RUNS"])):
    exec(cell, globals())
    results.append({"cwd": os.getcwd(), "check": repr(grader.check("ex0_1"))})
print(json.dumps({"calls": calls, "runs": results}))
"""


def setup_cell(content: Path, repo: Path) -> str:
    nb = json.loads((ROOT / "course" / "student" / CHAPTER / f"{CHAPTER}.ipynb").read_text())
    source = next("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert '"/content/course"' in source and "COURSE_REPO = " in source
    source = source.replace('"/content/course"', repr(str(content / "course")))
    return "\n".join(
        f"COURSE_REPO = {str(repo)!r}" if line.startswith("COURSE_REPO = ") else line
        for line in source.splitlines()
    )


@pytest.fixture
def colab(tmp_path):
    """/content, and a course repository to clone (the chapter's public tests only)."""
    repo = tmp_path / "repo"
    tests = repo / "course" / "student" / CHAPTER / "tests"
    shutil.copytree(ROOT / "course" / "student" / CHAPTER / "tests", tests)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "course"], check=True)
    content = tmp_path / "content"
    content.mkdir()
    cell = tmp_path / "setup_cell.py"
    cell.write_text(setup_cell(content, repo))
    return content, cell


def kernel(content: Path, cell: Path, fresh: bool, runs: int) -> dict:
    env = {"SETUP_CELL": str(cell), "FRESH_RUNTIME": str(int(fresh)), "RUNS": str(runs),
           "PATH": "/usr/bin:/bin", "HOME": str(content), "COURSE_MODE": "fast"}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", KERNEL], cwd=content, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_first_run_second_run_and_restart(colab):
    content, cell = colab
    chapter = str(content / "course" / "course" / "student" / CHAPTER)
    first = kernel(content, cell, fresh=True, runs=2)  # run the cell, then run it again
    course = str(content / "course")
    assert first["calls"] == [["rm", "-rf", course], ["git", "clone", "-q"], ["pip", "install"]]
    for run in first["runs"]:
        assert run["cwd"] == chapter
        assert "`class_pixel_fractions` is not defined yet" in run["check"]  # tests were found
    restarted = kernel(content, cell, fresh=False, runs=1)  # "Restart session", run again
    assert restarted["calls"] == [] and restarted["runs"][0]["cwd"] == chapter


@pytest.mark.parametrize("left_behind", ["course/half-written", "course.partial/.git/HEAD",
                                         "course/.git/HEAD"])  # fmt: skip
def test_an_interrupted_clone_is_cloned_again(colab, left_behind):
    """Whatever a clone killed half-way left (even a .git folder), the next run starts over."""
    content, cell = colab
    (content / left_behind).parent.mkdir(parents=True)
    (content / left_behind).write_text("")
    out = kernel(content, cell, fresh=False, runs=1)
    assert out["calls"][:2] == [["rm", "-rf", str(content / "course")], ["git", "clone", "-q"]]
    assert (content / "course" / ".git").is_dir() and not (content / "course.partial").exists()
    assert not (content / "course" / "half-written").exists()
    assert out["runs"][0]["cwd"] == str(content / "course" / "course" / "student" / CHAPTER)
