"""Instructor tools: build student notebooks, check them, grade a folder of submissions.

    python tools/course.py student            # masters -> course/student/<chapter>/ (+ autograders)
    python tools/course.py check              # student build is current and leaks no solution
    python tools/course.py grade DIR [--timeout S] [--jobs N] [--unsafe]

Otter-grader builds the student notebooks and the test files (``otter assign``). Grading does
not use ``otter run``: each submission runs in a bubblewrap sandbox, only the values its
functions return come back, and this process scores them against a key recorded from the
master (see the grading section below and ``visioncourse.grading``).
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
import time
from collections import Counter
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


def build_students(dest: Path = STUDENT, autograders: Path | None = AUTOGRADERS,
                   chapter_masters: list[Path] | None = None) -> None:  # fmt: skip
    """Write every student notebook and its public tests to dest/<chapter>/ (the course's
    masters, or ``chapter_masters``, which are used as they are)."""
    if chapter_masters is None:
        sync_repo_url()
    with tempfile.TemporaryDirectory() as tmp:
        for master in chapter_masters or masters():
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
#
# A submission runs in a sandbox (bubblewrap): no network, a private /tmp, its own PID
# namespace (every process it starts dies with it), the repository hidden except the library
# and the venv (read-only), the submissions, the autograders and the keys hidden, and limits on
# memory, file size, CPU time and processes. What comes back is data: the values the
# student's functions returned on the test inputs (visioncourse.grading). The expected values
# (the key, from the master's own run) never enter the sandbox; this process compares.

GRADING = ROOT / "build" / "grading"  # the keys: expected values, never shown to a sandbox
MAX_NOTEBOOK_BYTES = 50 * 2**20  # a chapter with outputs is a few MB
MAX_OUTPUT_BYTES = 64 * 2**20  # what a run may print (its records included)
TMP_BYTES = 512 * 2**20  # the sandbox's private /tmp
SHM_BYTES = 64 * 2**20  # and its /dev/shm
FILE_BYTES = 256 * 2**20  # the largest file a submission may write
MAX_TASKS = 256  # processes and threads of one submission (a pids cgroup, where one is free)


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


def run_capped(command: list[str], timeout: float, env: dict | None = None,
               cwd: Path | None = None) -> tuple[bool, str]:  # fmt: skip
    """Run ``command`` in its own session; keep at most ``MAX_OUTPUT_BYTES`` of its merged
    output; past ``timeout`` kill its whole session. Returns (finished in time, output)."""
    import threading

    kept = bytearray()
    with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=env, cwd=cwd,
                          start_new_session=True) as proc:  # fmt: skip

        def read() -> None:
            while chunk := proc.stdout.read(1 << 16):
                if len(kept) < MAX_OUTPUT_BYTES:  # past the cap: read on, keep nothing
                    kept.extend(chunk[: MAX_OUTPUT_BYTES - len(kept)])

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            proc.wait(timeout=timeout)
            finished = True
        except subprocess.TimeoutExpired:
            finished = False
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever it left (a sandbox leaves nothing)
        except ProcessLookupError:
            pass
        proc.wait()
        reader.join(timeout=10)
    return finished, kept.decode("utf-8", "replace")


def sandbox_problem() -> str | None:
    """Why submissions cannot be sandboxed here (None when bubblewrap works)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed; `make grade` installs it where apt-get works"
    probe = subprocess.run(["bwrap", *BWRAP_BASE, "--", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"bubblewrap cannot start a sandbox here: {probe.stderr.strip()[:300]}"
    return None


# the whole file system read-only; /dev (with a small /dev/shm) and /tmp are the sandbox's own
BWRAP_BASE = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
              "--new-session", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--dev", "/dev",
              "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
              "--proc", "/proc", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]  # fmt: skip


def make_cgroups(memory_gb: float) -> list[Path]:
    """Fresh cgroups for one submission: at most ``MAX_TASKS`` processes and threads, and
    ``memory_gb`` of memory for all of them together (cgroup v2, or v1's pids and memory
    hierarchies); empty where this process may not make them (RLIMIT_NPROC and the
    per-process address space limit the run then)."""
    import uuid

    name = f"visioncourse-{uuid.uuid4().hex[:12]}"
    limits = {"pids.max": str(MAX_TASKS), "memory.max": str(int(memory_gb * 2**30)),
              "memory.limit_in_bytes": str(int(memory_gb * 2**30))}  # fmt: skip
    # children of this process's own cgroups, so a container's own limits still hold
    mine = {}
    if not Path("/proc/self/cgroup").exists():
        return []
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            mine[controller] = path.lstrip("/")
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.subtree_control").exists():  # cgroup v2: one tree
        parent = root / mine.get("", "")
        control = parent / "cgroup.subtree_control"
        parents = [parent] if control.exists() and "pids" in control.read_text().split() else []
    else:  # v1: one tree per controller
        parents = [root / c / mine[c] for c in ("pids", "memory") if c in mine]
    groups = []
    for parent in parents:
        if not ((parent / "cgroup.procs").exists() and os.access(parent, os.W_OK)):
            continue
        group = parent / name
        try:
            group.mkdir()
            for knob, value in limits.items():
                if (group / knob).exists():
                    (group / knob).write_text(value)
            groups.append(group)
        except OSError:
            continue
    return groups


def user_tasks() -> int:
    """Threads this user runs now: RLIMIT_NPROC counts them all, not just the sandbox's."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1 ").split()[0]) == os.geteuid():
            count += int(fields.get("Threads", "1"))
    return count


def remove_cgroup(group: Path) -> None:
    """Kill what is left in a sandbox's cgroup (only an --unsafe run can leave anything: a
    sandbox's PID namespace ends with it), then remove the cgroup."""
    for _ in range(100):
        try:
            for pid in (group / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # still busy for a moment while the kernel reaps
            time.sleep(0.02)
    print(f"warning: could not remove {group}")


def sandboxed(argv: list[str], inbox: Path, hide: list[Path], timeout: float,
              memory_gb: float, unsafe: bool, groups: list[Path]) -> list[str]:  # fmt: skip
    """The command that runs ``argv`` on ``inbox`` (read-only at /tmp/grading/in, the working
    directory /tmp/grading) in a sandbox, with limits; with ``unsafe``, limits only."""
    limits = ["prlimit", f"--as={int(memory_gb * 2**30)}", f"--fsize={FILE_BYTES}",
              f"--cpu={int(timeout * (os.cpu_count() or 1)) + 60}", "--core=0"]  # fmt: skip
    if os.geteuid() != 0:  # root is exempt from RLIMIT_NPROC: a cgroup limits it
        limits.append(f"--nproc={MAX_TASKS + user_tasks()}")
    limits = limits if shutil.which("prlimit") else []
    enter = " && ".join(f'echo $$ > "{g}/cgroup.procs"' for g in groups)
    join = ["sh", "-c", f'{enter} && exec "$@"', "sh"] if groups else []
    if unsafe:
        return join + limits + argv
    box = ["bwrap", *BWRAP_BASE]
    import visioncourse

    visible = [Path(visioncourse.__file__).resolve().parents[1], Path(sys.prefix),
               Path(sys.base_prefix), Path(sys.executable).resolve().parent]  # fmt: skip
    hidden = {h.resolve() for h in hide if h.exists()}
    hidden = sorted(h for h in hidden if h != Path("/") and not h.is_relative_to("/tmp"))
    for folder in hidden:  # an empty, tiny, later read-only folder over each
        box += ["--size", "65536", "--tmpfs", str(folder)]
    for path in visible:  # the library and Python, where a hidden folder (or /tmp) holds them
        if any(path.is_relative_to(h) for h in [*hidden, Path("/tmp")]):
            box += ["--ro-bind", str(path), str(path)]
    box += ["--ro-bind", str(inbox), "/tmp/grading/in"]
    for folder in hidden:
        box += ["--remount-ro", str(folder)]
    box += ["--chdir", "/tmp/grading", "--setenv", "HOME", "/tmp/grading", "--"]
    return join + limits + box + argv


def runner_env() -> dict[str, str]:
    """A submission's environment. One torch thread: the same floating-point results whatever
    JOBS is (and JOBS runs side by side do not thrash)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
            "COURSE_MODE": "fast", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/tmp/grading"}  # fmt: skip


class Chapter:
    """What grading a chapter needs, read from its master: the tests, points, hidden flags,
    and the key (the expected values, recorded from the master's own run)."""

    def __init__(self, master: Path, keys: Path = GRADING) -> None:
        import hashlib

        import torch

        from visioncourse.grading import master_tests, rewrite_tests

        self.name, self.master = master.stem, master
        tests = master_tests(master.read_text())
        self.points = {q: entry["points"] for q, entry in tests.items()}
        self.hidden = {q: {fn.name: hidden for fn, hidden in entry["tests"]}
                       for q, entry in tests.items()}  # fmt: skip
        self.sandbox_tests = rewrite_tests(tests, key=False)
        self.key_tests = rewrite_tests(tests, key=True)
        self.key_path = keys / f"{self.name}.pt"
        digest = hashlib.sha256(master.read_bytes() + self.sandbox_tests.encode())
        import numpy
        import torchvision

        digest.update(f"{torch.__version__} {torchvision.__version__} {numpy.__version__}".encode())
        for source in sorted((ROOT / "lib" / "visioncourse").rglob("*.py")):  # the tests' inputs
            digest.update(source.read_bytes())
        self.digest = digest.hexdigest()
        self._key = None

    def key(self, timeout: float = 600.0) -> dict:
        """Exercise -> test -> the checks it makes (cached in build/grading, where `make test`
        puts it; rebuilt by running the master when the master, its tests, the library or
        torch changed)."""
        import torch

        if self._key is None and self.key_path.exists():
            saved = torch.load(self.key_path, weights_only=True)
            if saved.get("digest") == self.digest:
                self._key = saved["key"]
        if self._key is not None:
            return self._key
        print(f"recording the key of {self.name} from its master")
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            notebook = tmp / "master.ipynb"
            run([sys.executable, "-m", "jupytext", "--to", "ipynb", "-q", "-o", str(notebook),
                 str(self.master)])  # fmt: skip
            (tmp / "tests.py").write_text(self.sandbox_tests)
            (tmp / "key.py").write_text(self.key_tests)
            command = [sys.executable, "-m", "visioncourse.grading", str(notebook),
                       str(tmp / "tests.py"), "--key", str(tmp / "key.py")]  # fmt: skip
            env = {**os.environ, "COURSE_MODE": "fast", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
            finished, output = run_capped(command, timeout, env=env, cwd=tmp)
        problem = self.accept(output)
        if problem or not finished:
            raise SystemExit(
                problem or f"{self.name}: the master did not finish within {timeout:.0f} s"
            )
        return self._key

    def accept(self, output: str) -> str | None:
        """Take the key from the frames in a master run's ``output`` and save it; or, when the
        master's own solutions do not pass their rewritten tests, say why (nothing saved)."""
        import torch

        from visioncourse.grading import FRAME, judge_test, parse_frames, records

        frames = parse_frames(output)
        key = {p["exercise"]: {t: r["key"] for t, r in p["tests"].items()}
               for kind, p in frames if kind == "key"}  # fmt: skip
        errors = {(p["exercise"], t): r["error"] for kind, p in frames if kind == "key"
                  for t, r in p["tests"].items() if r["error"]}  # fmt: skip
        sent = {q: runs[-1] for q, runs in records(frames).items()}
        problems = [f"{q}/{t}: the master's own run raised {e}" for (q, t), e in errors.items()]
        for q in self.points:
            for test, positions in key.get(q, {}).items():
                why = judge_test(positions, sent.get(q, {}).get(test))
                if why:
                    problems.append(f"{q}/{test}: {why}")
            if q not in key:
                problems.append(f"{q}: no key recorded")
        if problems:
            lines = [line for line in output.splitlines() if not line.startswith(FRAME)]
            return (f"{self.name}: the solutions do not pass their own grading tests (a test whose "
                    "inputs change when its expected value is left out, or one with no expect_* "
                    "check?):\n  " + "\n  ".join(problems)
                    + "\n--- the master's output ---\n" + "\n".join(lines[-15:]))  # fmt: skip
        self.key_path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"digest": self.digest, "key": key}, self.key_path)
        self._key = key
        return None


def grade_notebook(notebook: Path, chapter: Chapter, timeout: float, hide: list[Path] = (),
                   memory_gb: float = 8.0, unsafe: bool = False,
                   ) -> tuple[dict[str, float], str, str | None]:  # fmt: skip
    """Scores per exercise, a feedback text and, where a person should look, why (else None)
    for one submitted notebook. Never raises for anything in the submission: a failure of the
    grading itself flags the notebook for review."""
    try:
        return _grade_notebook(notebook, chapter, timeout, hide, memory_gb, unsafe)
    except Exception as err:
        why = f"grading failed ({type(err).__name__}: {err})"
        return {}, f"{why}; scored 0 until reviewed", why


def _open_regular(path: Path) -> int:
    """A descriptor of ``path`` if it is a regular file, opened without following a link and
    without blocking on a FIFO that appeared since ``refuse_reason`` looked."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError("not a regular file")
    return fd


def _grade_notebook(notebook, chapter, timeout, hide, memory_gb, unsafe):
    from visioncourse.grading import CHECK_CELL, cell_source, parse_frames, records, score_exercise

    refused = refuse_reason(notebook)
    if refused:
        return {}, f"{refused}; scored 0 until reviewed", refused
    try:  # read without following a link that appeared since, and never past the cap
        with os.fdopen(_open_regular(notebook), "rb") as f:
            nb = json.loads(f.read(MAX_NOTEBOOK_BYTES + 1))
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
        cells = [{"cell_type": c.get("cell_type"), "source": c.get("source", "")}
                 for c in nb["cells"] if isinstance(c, dict)]  # fmt: skip
    except Exception as err:  # not JSON, not a notebook, or a broken one
        why = "not a valid Jupyter notebook"
        return {}, f"{why} ({type(err).__name__}); scored 0", why
    key = chapter.key()
    sent: dict[str, list[dict]] = {}
    finished, output = False, ""
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp) / "in"
        inbox.mkdir()
        # only the cells cross: no kernel name or otter metadata to get wrong
        (inbox / "notebook.ipynb").write_text(json.dumps({"cells": cells}))
        (inbox / "tests.py").write_text(chapter.sandbox_tests)
        for path in (Path(tmp), inbox):
            path.chmod(0o755)
        argv = [
            sys.executable,
            "-I",
            "-m",
            "visioncourse.grading",
            "in/notebook.ipynb",
            "in/tests.py",
        ]
        # a run sends one record per exercise at each of its grader.check cells and one at
        # the end; more are forged (guesses at a hidden answer) and are not read
        allowed = Counter(q for c in cells if c["cell_type"] == "code"
                          for q in CHECK_CELL.findall(cell_source(c)))  # fmt: skip
        extra = []
        for _ in range(2):  # a timeout gets one more try: the hang may be the machine's
            groups = make_cgroups(memory_gb)
            try:
                command = sandboxed(argv, inbox, hide, timeout, memory_gb, unsafe, groups)
                cwd = inbox.parent if unsafe else None
                if unsafe:
                    command[command.index("in/notebook.ipynb")] = str(inbox / "notebook.ipynb")
                    command[command.index("in/tests.py")] = str(inbox / "tests.py")
                finished, output = run_capped(command, timeout, env=runner_env(), cwd=cwd)
            finally:
                for group in groups:
                    remove_cgroup(group)
            for q, runs in records(parse_frames(output)).items():
                if len(runs) > allowed[q] + 1:
                    extra.append(q)
                sent.setdefault(q, []).extend(runs[: allowed[q] + 1])
            if finished:
                break
    scores, parts = {}, []
    for q, points in chapter.points.items():
        scores[q], text = score_exercise(key.get(q, {}), sent.get(q, []), points, chapter.hidden[q])
        parts.append(f"[{q}] {scores[q]:g}/{points:g}\n{text}")
    text = "\n\n".join(parts)
    why = None
    if not finished:
        why = f"did not finish within {timeout:.0f} s, twice"
        text = f"{why} (an endless loop, or a hung run): scored from the checks that came back; to be reviewed\n\n{text}"
    elif extra:
        why = (
            f"more test results than the notebook makes ({', '.join(sorted(set(extra)))}): forged?"
        )
        text = f"{why} Only the first ones were scored; to be reviewed\n\n{text}"
    elif not any(r.get("gots") for runs in sent.values() for run in runs for r in run.values()):
        why = "no test result came back"
        tail = "\n  ".join(output.strip().splitlines()[-3:])
        text = (
            f"{why} (the run stopped before any check); scored 0 until reviewed\n  {tail}\n\n{text}"
        )
    return scores, text, why


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
    """The class at a glance: summary.csv (per exercise: mean, and how many students got full
    marks, part of the points, or none), review.csv (the submissions flagged for review, and
    why) and summary.png (that distribution per exercise, the totals, who is flagged)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = []
    for c, q, p in columns:
        got = [float(r[f"{c}/{q}"]) for r in rows]
        full, zero = sum(g >= p for g in got), sum(g == 0 for g in got)
        stats.append({"exercise": f"{c}/{q}", "points": p, "mean": sum(got) / max(len(got), 1),
                      "full marks": full, "partial": len(got) - full - zero, "zero": zero})  # fmt: skip
    with (folder / "summary.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(stats[0]) if stats else ["exercise"])
        writer.writeheader()
        writer.writerows(stats)
    with (folder / "review.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["student", "reason"])
        writer.writeheader()
        writer.writerows(
            {"student": r["student"], "reason": r["review"]} for r in rows if r["review"]
        )
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(12, 0.25 * len(stats) + 2), gridspec_kw={"width_ratios": [2, 1]}
    )
    names, start = [s["exercise"] for s in stats], [0] * len(stats)
    for part, colour in (("full marks", "#55a868"), ("partial", "#dd8452"), ("zero", "#c44e52")):
        share = [s[part] / max(len(rows), 1) for s in stats]
        left.barh(names, share, left=start, color=colour, label=part)
        start = [a + b for a, b in zip(start, share)]
    left.set_xlim(0, 1), left.invert_yaxis(), left.tick_params(labelsize=6)
    left.legend(fontsize=7, loc="lower right")
    left.set_xlabel("share of the students"), left.set_title(f"{len(rows)} students", fontsize=9)
    right.hist([float(r["total"]) for r in rows], bins=10, color="#4c72b0")
    right.set_xlabel("total points"), right.set_ylabel("students")
    flagged = [r["student"] for r in rows if r["review"]]
    shown = ", ".join(flagged[:6]) + (" …" if len(flagged) > 6 else "") if flagged else "none"
    right.set_title(f"for review: {shown}", fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "summary.png", dpi=100)
    plt.close(fig)


def grade(submissions: Path, timeout: float = 300.0, jobs: int = 1, unsafe: bool = False,
          memory_gb: float = 8.0, chapter_masters: list[Path] | None = None,
          keys: Path = GRADING) -> Path:  # fmt: skip
    """Grade every student folder in ``submissions``; write gradebook.csv, feedback files and
    a summary. ``jobs`` notebooks are graded at once, each in its own sandbox; the gradebook
    does not depend on it. Refuses without a sandbox unless ``unsafe``."""
    from concurrent.futures import ThreadPoolExecutor

    if jobs < 1:
        raise SystemExit(f"--jobs must be at least 1; got {jobs}")
    problem = sandbox_problem()
    if problem and not unsafe:
        raise SystemExit(
            f"not grading: {problem}.\nWithout a sandbox a submission's code runs as you: it "
            "can read the hidden tests and other submissions, change files and leave processes "
            "running (its score is still computed out here). Install bubblewrap, or pass "
            "--unsafe (UNSAFE=1 for make grade) to grade anyway."
        )
    if unsafe:
        print(f"warning: grading WITHOUT a sandbox ({problem or 'asked for'})")
    groups = make_cgroups(memory_gb)
    for group in groups:
        remove_cgroup(group)
    if not groups:
        print("warning: no cgroup can be made here: the memory of a submission's processes is "
              "limited one by one (address space), not together"
              + (", and their number not at all (RLIMIT_NPROC does not bind root)"
                 if os.geteuid() == 0 else ""))  # fmt: skip
    chapter_masters = chapter_masters or masters()
    chapters = [m.stem for m in chapter_masters]
    layout_error = check_layout(submissions, chapters)
    if layout_error:
        raise SystemExit(layout_error)
    graders = {m.stem: Chapter(m, keys) for m in chapter_masters}
    columns = [(c, q, p) for c in chapters for q, p in graders[c].points.items()]
    feedback_dir = submissions / "feedback"
    feedback_dir.mkdir(exist_ok=True)
    rows = []
    students = student_folders(submissions)
    loose = sorted(p.name for p in submissions.glob("*.ipynb"))
    if loose:
        print(f"warning: not graded, not in a student folder: {', '.join(loose)}")
    for chapter in chapters:  # the keys first, from the masters (trusted, one at a time)
        if any((s / f"{chapter}.ipynb").exists() for s in students):
            graders[chapter].key()
    # hidden from every sandbox: the course (but its library and venv), the submissions, the
    # autograders, the keys and the home folder
    hide = [ROOT, submissions.resolve(), keys.resolve(),
            Path(tempfile.gettempdir()).resolve(),  # the other submissions' inboxes
            *(m.parent.resolve() for m in chapter_masters), Path.home()]  # fmt: skip

    def one(task):
        student, chapter = task
        notebook = student / f"{chapter}.ipynb"
        if not (notebook.exists() or notebook.is_symlink()):
            return {}, "not submitted", None
        return grade_notebook(notebook, graders[chapter], timeout, hide, memory_gb, unsafe)

    tasks = [(student, chapter) for student in students for chapter in chapters]
    with ThreadPoolExecutor(max_workers=jobs) as pool:  # threads: the work is in the sandboxes
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
        f"wrote {gradebook}, summary.csv, review.csv, summary.png and {len(rows)} feedback files in {feedback_dir}"
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
    g.add_argument(
        "--memory-gb",
        type=float,
        default=8.0,
        help="address space per submission (torch alone maps about 3.5 GB)",
    )
    g.add_argument("--unsafe", action="store_true", help="grade without a sandbox (see README)")
    args = parser.parse_args(argv)
    if args.command == "student":
        build_students()
    elif args.command == "check":
        problems = check_students()
        print("\n".join(problems) or "student notebooks are current and leak no solution")
        raise SystemExit(1 if problems else 0)
    else:
        grade(args.submissions, args.timeout, args.jobs, args.unsafe, args.memory_gb)


if __name__ == "__main__":
    main()
