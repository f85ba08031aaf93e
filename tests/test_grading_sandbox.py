"""Grading a class that tries to cheat: every attempt seen against `make grade`, on a
two-exercise chapter (tests/data/00_tiny.py) so that each notebook runs in seconds.

ex_1 (2 points) has a public and a hidden test, checked by a `grader.check` cell; ex_2
(1 point) has only a hidden test. Each test asserts the fair score, that nothing else was
harmed and that nothing was left behind.
"""

import copy
import csv
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import course  # noqa: E402
import visioncourse  # noqa: E402

TINY = ROOT / "tests" / "data" / "00_tiny.py"
SOLVED = {"double": "    return 2 * x", "count_ones": "    return int((x == 1).sum())"}
pytestmark = pytest.mark.skipif(
    course.sandbox_problem() is not None, reason=f"no sandbox: {course.sandbox_problem()}"
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny chapter's student notebook, autograder and key folder."""
    root = tmp_path_factory.mktemp("tiny")
    course.build_students(root / "student", autograders=None, chapter_masters=[TINY])
    nb = json.loads((root / "student" / "00_tiny" / "00_tiny.ipynb").read_text())
    return {"root": root, "notebook": nb}


def notebook(tiny, solve=(), before=(), after=(), end=()) -> dict:
    """The student notebook with the functions in ``solve`` done, cells added at the top
    (``before``), right after the imports (``after``) and at the very end (``end``)."""
    nb = copy.deepcopy(tiny["notebook"])

    def code(source):
        return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                "source": source}  # fmt: skip

    for cell in nb["cells"]:
        src = "".join(cell["source"])
        for name in solve:
            if src.startswith(f"def {name}("):
                cell["source"] = src.replace("\n    ...", "\n" + SOLVED[name])
    first = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    nb["cells"][first + 1 : first + 1] = [code(s) for s in after]
    nb["cells"][0:0] = [code(s) for s in before]
    nb["cells"] += [code(s) for s in end]
    return nb


def grade(tiny, folder: Path, students: dict, timeout=60, jobs=2) -> dict:
    """Grade ``students`` (name -> notebook dict, or a callable that makes the file) and
    return the gradebook rows with each student's feedback."""
    for name, nb in students.items():
        (folder / name).mkdir(parents=True)
        path = folder / name / "00_tiny.ipynb"
        nb(path) if callable(nb) else path.write_text(json.dumps(nb))
    course.grade(folder, timeout=timeout, jobs=jobs, chapter_masters=[TINY], keys=tiny["root"] / "keys")  # fmt: skip
    with (folder / "gradebook.csv").open() as f:
        book = {row["student"]: row for row in csv.DictReader(f)}
    for name in students:
        book[name]["feedback"] = (folder / "feedback" / f"{name}.txt").read_text()
    return book


def left_behind(marker: str) -> list[str]:
    """Processes whose command line holds ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and pid != str(os.getpid()):
            found.append(cmdline)
    return found


def cgroups() -> set[str]:
    """The sandboxes' cgroups that exist now (looked for where make_cgroups puts them)."""
    probes = course.make_cgroups(1)
    for probe in probes:
        course.remove_cgroup(probe)
    return {str(g) for probe in probes for g in probe.parent.glob("visioncourse-*")}


def total(row) -> float:
    return float(row["total"])


def test_a_class_that_tries_to_cheat(tiny, tmp_path):
    folder = tmp_path / "class"
    lib_file = Path(visioncourse.__file__).parent / "exercises.py"
    lib_before = hashlib.sha256(lib_file.read_bytes()).hexdigest()
    groups_before = cgroups()
    secrets = [str(TINY), str(ROOT / "build"), str(tiny["root"] / "keys"),
               str(folder / "honest" / "00_tiny.ipynb"), str(ROOT / "course")]  # fmt: skip
    students = {
        "honest": notebook(tiny, solve=["double", "count_ones"]),
        "nothing": notebook(tiny),
        # replaces the checks students see, and the grading code inside its own process
        "patcher": notebook(
            tiny,
            after=[
                "import sys, visioncourse.exercises as ex, visioncourse.grading as g\n"
                "ex.expect_close = ex.expect_equal = lambda *a, **k: None\n"
                "for m in (g, sys.modules['__main__']):  # the runner, and its module\n"
                "    m.judge_test = lambda *a, **k: None\n"
                "    m.check_position = lambda *a, **k: None\n"
                "    m.score_exercise = lambda key, records, points, hidden: (50.0, 'all passed')\n"
                "    m.to_data = lambda value, depth=0: 'passed'\n"
                "try:\n    import otter.test_files.exception_test as et\n"
                "    et.ExceptionTestFile.run = lambda self, env: None\nexcept Exception:\n    pass"
            ],
        ),
        # prints forged records and scores, writes results files, tries to kill its parents
        "forger": notebook(
            tiny,
            end=[
                "import os, signal, json\n"
                "from visioncourse.grading import encode_frame\n"
                "print(encode_frame('record', {'exercise': 'ex_1', 'tests': {'test_double_hidden': "
                "{'gots': ['passed'], 'error': None}, 'test_made_up': {'gots': [50]}}}))\n"
                "print(encode_frame('score', {'ex_1': 50, 'ex_2': 50}))\n"
                "print('@@visioncourse-grading record not-base64')\n"
                "json.dump({'tests': [{'name': 'ex_1', 'score': 50}]}, open('results.json', 'w'))\n"
                "for pid in [os.getppid(), 1]:\n"
                "    try:\n        print(open(f'/proc/{pid}/cmdline').read())\n"
                "        os.kill(pid, signal.SIGKILL)\n    except Exception as e:\n        print(e)"
            ],
        ),
        # the public test done honestly; the hidden answer taken from any file it can read
        "reader": notebook(
            tiny,
            end=[
                "import glob, os, zipfile\nleaked = None\n"
                f"for path in {secrets!r}:\n"
                "    for f in glob.glob(path + '/**', recursive=True) + [path]:\n"
                "        try:\n"
                "            data = open(f, 'rb').read()\n"
                "            if f.endswith('.zip'):\n"
                "                data = b''.join(zipfile.ZipFile(f).read(n) for n in zipfile.ZipFile(f).namelist())\n"
                "            if b'8642' in data:\n                leaked = 8642.0\n"
                "        except Exception:\n            pass\n"
                "print('leaked', leaked)\n"
                "def double(x):\n"
                "    return 2 * x if x.numel() == 2 else (torch.tensor([leaked]) if leaked else None)"
            ],
        ),
        # the public test done honestly; the hidden answer looked for in the test's frames
        "peeker": notebook(
            tiny,
            end=[
                "import sys\n"
                "def double(x):\n"
                "    if x.numel() == 2:\n        return 2 * x\n"
                "    f = sys._getframe(1)\n"
                "    while f is not None:\n"
                "        for v in list(f.f_locals.values()):\n"
                "            if isinstance(v, torch.Tensor) and v.numel() == 1 and float(v) == 8642:\n"
                "                return v\n"
                "        f = f.f_back\n"
            ],
        ),
        # edits the installed library so that the next student's checks break
        "editor": notebook(
            tiny,
            solve=["double"],
            before=[
                "import visioncourse.exercises as ex\n"
                "for f in [ex.__file__, ex.__file__.replace('exercises', 'grading')]:\n"
                "    try:\n        open(f, 'a').write('\\nraise SystemExit\\n')\n"
                "    except OSError as e:\n        print(e)"
            ],
        ),
        # kills every process it can see, after the exercise is checked
        "killer": notebook(
            tiny,
            solve=["double"],
            end=[
                "import os, signal\n"
                "for pid in sorted(map(int, filter(str.isdigit, os.listdir('/proc'))), reverse=True):\n"
                "    if pid != os.getpid():\n"
                "        try:\n            os.kill(pid, signal.SIGKILL)\n        except OSError:\n            pass"
            ],
        ),
        # a process in a new session that outlives the notebook to rewrite the gradebook
        "daemon": notebook(
            tiny,
            before=[
                "import subprocess, sys\n"
                "code = ('import time, os\\nfor _ in range(300):\\n    time.sleep(0.1)\\n'\n"
                f"        '    for p in [{str(folder / 'gradebook.csv')!r}, \"/tmp/vc-daemon-was-here\"]:\\n'\n"
                '        \'        try: open(p, "w").write("daemon,999")\\n\'\n'
                "        '        except OSError: pass\\n')\n"
                "subprocess.Popen([sys.executable, '-c', code, 'vc-cheat-daemon'], start_new_session=True)"
            ],
        ),
        # memory, a large file in /tmp and in its folder, and too many threads; then solves
        "hog": notebook(
            tiny,
            solve=["double", "count_ones"],
            after=[
                "try:\n    hog = bytearray(64 * 2**30)\nexcept MemoryError as e:\n    print('no memory', e)",
                "for path in ['/tmp/vc-hog', 'vc-hog']:\n"
                "    try:\n        with open(path, 'wb') as f:\n"
                "            for _ in range(1024):\n                f.write(bytes(2**20))\n"
                "    except OSError as e:\n        print('no room', e)",
                "import threading, time\nstarted = 0\ntry:\n"
                "    for _ in range(1000):\n"
                "        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
                "        started += 1\nexcept RuntimeError as e:\n    print('no threads', started, e)",
            ],
        ),
        # honest students that the old grading scored 0
        "chdir": notebook(
            tiny, solve=["double", "count_ones"], before=["import os\nos.chdir('/tmp')"]
        ),
        "exits": notebook(tiny, solve=["double", "count_ones"], end=["import os\nos._exit(0)"]),
        "kernel": {
            **notebook(tiny, solve=["double", "count_ones"]),
            "metadata": {"kernelspec": {"name": "python3.11", "display_name": "x"}},
        },
        "linker": lambda path: path.symlink_to("/dev/zero"),
    }
    book = grade(tiny, folder, students)
    assert float(book["max points"]["total"]) == 3
    assert total(book["honest"]) == 3, book["honest"]["feedback"]
    assert total(book["nothing"]) == 0 and not book["nothing"]["review"]
    assert total(book["patcher"]) == 0, book["patcher"]["feedback"]
    assert total(book["forger"]) == 0, book["forger"]["feedback"]
    assert "test_made_up" not in book["forger"]["feedback"]
    # the public half of ex_1 is honest work; the hidden answer was nowhere to be read
    assert total(book["reader"]) == 1, book["reader"]["feedback"]
    assert "8642" not in book["reader"]["feedback"]  # feedback does not show hidden answers
    assert total(book["peeker"]) == 1, book["peeker"]["feedback"]
    assert total(book["editor"]) == 2 and total(book["killer"]) == 2
    assert hashlib.sha256(lib_file.read_bytes()).hexdigest() == lib_before
    assert total(book["daemon"]) == 0
    assert total(book["hog"]) == 3, book["hog"]["feedback"]
    assert total(book["chdir"]) == total(book["kernel"]) == 3
    assert total(book["exits"]) == 2  # ex_1 was checked before the exit; ex_2 only at the end
    assert total(book["linker"]) == 0 and "a link" in book["linker"]["review"]
    with (folder / "review.csv").open() as f:
        assert {row["student"] for row in csv.DictReader(f)} == {"linker", "forger"}
    assert "forged?" in book["forger"]["review"]  # it sent more records than its notebook makes
    time.sleep(1)  # the daemon would have written by now
    assert not left_behind("vc-cheat-daemon") and not left_behind("visioncourse.grading")
    assert "daemon,999" not in (folder / "gradebook.csv").read_text()
    assert not Path("/tmp/vc-daemon-was-here").exists() and not Path("/tmp/vc-hog").exists()
    assert not (folder / "hog" / "vc-hog").exists()
    assert cgroups() == groups_before


def test_an_endless_loop_is_flagged_and_keeps_what_was_checked(tiny, tmp_path):
    loop = "import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')  # holds the GIL for ever"
    book = grade(tiny, tmp_path / "class", {
        "looper": notebook(tiny, solve=["double", "count_ones"], end=[loop]),
        "honest": notebook(tiny, solve=["double", "count_ones"]),
    }, timeout=15)  # fmt: skip
    assert "did not finish within 15 s, twice" in book["looper"]["review"]
    assert total(book["looper"]) == 2  # ex_1 was checked before the loop
    assert total(book["honest"]) == 3 and not book["honest"]["review"]
    assert not left_behind("visioncourse.grading")


def test_grading_refuses_without_a_sandbox_unless_told(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(course, "sandbox_problem", lambda: "bubblewrap is not installed")
    (tmp_path / "ada").mkdir()
    (tmp_path / "ada" / "00_tiny.ipynb").write_text(json.dumps(notebook(tiny, solve=["double"])))
    with pytest.raises(SystemExit, match="--unsafe"):
        course.grade(tmp_path, chapter_masters=[TINY],
                     keys=tiny["root"] / "keys")  # fmt: skip
    course.grade(tmp_path, timeout=60, unsafe=True, chapter_masters=[TINY], keys=tiny["root"] / "keys")  # fmt: skip
    assert "2.0" in (tmp_path / "gradebook.csv").read_text().splitlines()[2]
