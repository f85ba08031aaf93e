"""Executed chapters and the course website for self-learners.

    python tools/site.py execute [CHAPTER ...]   # masters -> build/executed/*.ipynb (fails on an error)
    python tools/site.py build                   # build/executed -> build/site/html (Sphinx + MyST-NB)

``execute`` runs every master top to bottom with its solutions, in whatever mode
``COURSE_MODE`` says (the Makefile's test run uses fast mode), and keeps the outputs: it is
the notebook test of the masters, and its results are the site's pages, so the chapters are
executed once for both. The same run records each chapter's grading key into build/grading
(and fails when the solutions do not pass their own rewritten grading tests). ``build`` executes only the chapters that have no executed copy
newer than their master, removes the grading scaffolding (otter's raw cells and the test
cells), and builds the site offline: a syllabus page and one page per chapter with its
figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "course"
EXECUTED = ROOT / "build" / "executed"
SITE_SOURCE = ROOT / "build" / "site-source"
SITE = ROOT / "build" / "site"


def masters() -> list[Path]:
    return sorted(COURSE.glob("[0-9][0-9]_*.py"))


CELL_TIMEOUT = 300  # seconds; the slowest fast-mode cell takes about a minute


def execute(master: Path, timeout: int = CELL_TIMEOUT) -> Path:
    """Run one master with nbclient; write build/executed/<chapter>.ipynb with its outputs.

    Raises nbclient's CellExecutionError (which shows the failing cell and its traceback), or
    CellTimeoutError when a cell runs past ``timeout``.
    """
    import jupytext
    import nbclient
    import nbformat

    from course import Chapter

    EXECUTED.mkdir(parents=True, exist_ok=True)
    # This Python's kernel (registered in the venv by `make install`), not a user-level
    # "python3" kernelspec of another environment, which Jupyter would otherwise prefer.
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        p
        for p in (str(Path(sys.prefix) / "share" / "jupyter"), os.environ.get("JUPYTER_PATH"))
        if p
    )
    nb = jupytext.read(master)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    # The last cell records the grading key (tools/course.py, visioncourse.grading): both
    # rewritten versions of every test, run on the solutions this kernel has just defined.
    chapter = Chapter(master)
    graded = bool(chapter.points)
    if graded:
        nb.cells.append(nbformat.v4.new_code_cell(
            "import visioncourse.grading\n"
            f"visioncourse.grading.print_key({chapter.sandbox_tests!r}, {chapter.key_tests!r})"))  # fmt: skip
    start = time.perf_counter()
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(EXECUTED)}})  # fmt: skip
    out = EXECUTED / f"{master.stem}.ipynb"
    out.unlink(missing_ok=True)  # a failed run must not leave an older page looking current
    client.execute()
    if graded:
        cell = nb.cells.pop()
        problem = chapter.accept("".join(o.get("text", "") for o in cell.outputs))
        if problem:
            raise RuntimeError(problem)
    out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    print(f"{master.stem}: executed in {time.perf_counter() - start:.0f} s", flush=True)
    return out


def is_current(master: Path) -> bool:
    """An executed copy exists and is newer than its master and every file of the library."""
    executed = EXECUTED / f"{master.stem}.ipynb"
    sources = [master, *(ROOT / "lib" / "visioncourse").rglob("*.py")]
    return executed.exists() and executed.stat().st_mtime >= max(p.stat().st_mtime for p in sources)


MARKERS = re.compile(r"^\s*# (BEGIN|END) SOLUTION\s*\n", re.M)


def reader_notebook(executed: dict) -> dict:
    """The executed master as a self-learner reads it: no otter raw cells, no test cells, no
    solution markers (the solutions themselves stay)."""
    cells, in_tests = [], False
    for cell in executed["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "raw":
            if "# BEGIN TESTS" in source:
                in_tests = True
            elif "# END TESTS" in source:
                in_tests = False
            continue
        if in_tests:
            continue
        if cell["cell_type"] == "code":
            cell = {**cell, "source": MARKERS.sub("", source)}
        cells.append(cell)
    return {**executed, "cells": cells}


def chapter_title(notebook: dict, fallback: str) -> str:
    for cell in notebook["cells"]:
        match = re.search(r"^# (.+)$", "".join(cell["source"]), re.M)
        if cell["cell_type"] == "markdown" and match:
            return match.group(1).strip()
    return fallback


CONF = """\
project = "Vision Beyond Classification"
author = "the course authors"
extensions = ["myst_nb"]
html_theme = "sphinx_book_theme"
html_title = project
nb_execution_mode = "off"  # the chapters were executed once, by tools/site.py execute
exclude_patterns = ["_build"]
suppress_warnings = ["mystnb.unknown_mime_type", "misc.highlighting_failure"]
"""


def build_site() -> Path:
    """Write the site's sources (index + chapter notebooks) and run Sphinx; returns the HTML
    folder. Executes the chapters whose executed copy is missing or older than the master."""
    for master in masters():
        if not is_current(master):
            execute(master)
    shutil.rmtree(SITE_SOURCE, ignore_errors=True)
    SITE_SOURCE.mkdir(parents=True)
    (SITE_SOURCE / "conf.py").write_text(CONF)
    rows = []
    for master in masters():
        notebook = reader_notebook(json.loads((EXECUTED / f"{master.stem}.ipynb").read_text()))
        (SITE_SOURCE / f"{master.stem}.ipynb").write_text(json.dumps(notebook, indent=1))
        rows.append(
            f"| {master.stem[:2]} | [{chapter_title(notebook, master.stem)}]({master.stem}.ipynb) |"
        )
    readme = (ROOT / "README.md").read_text()
    intro = readme.split("\n## ", 1)[0].split("\n", 1)[1].strip()
    (SITE_SOURCE / "index.md").write_text(
        "# Vision Beyond Classification\n\n" + intro + "\n\n"
        "These pages are the chapters with their solutions, executed in fast mode on a CPU. "
        "To work through them yourself, open the student notebooks (see the README).\n\n"
        "## Syllabus\n\n| # | chapter |\n|---|---|\n" + "\n".join(rows) + "\n\n"
        "```{toctree}\n:hidden:\n:maxdepth: 1\n\n"
        + "\n".join(m.stem for m in masters())
        + "\n```\n"
    )
    html = SITE / "html"
    shutil.rmtree(SITE, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", str(SITE_SOURCE), str(html)],
                   check=True)  # fmt: skip
    print(f"site: open {html / 'index.html'}")
    return html


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("execute", help="execute masters into build/executed (all by default)")
    run.add_argument("chapters", nargs="*", help="chapter names, e.g. 00_shapes_world")
    sub.add_parser("build", help="build the site into build/site/html")
    args = parser.parse_args(argv)
    if args.command == "build":
        build_site()
        return
    chosen = [m for m in masters() if not args.chapters or m.stem in args.chapters]
    failed = []
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    for master in chosen:
        for attempt in (1, 2):
            try:
                execute(master)
                break
            except (CellTimeoutError, DeadKernelError) as err:
                # A kernel and its client can both end up waiting on a message neither will
                # send (seen here about once per CI run, with ipykernel 6 and 7, the kernel idle
                # and the cell long finished): one fresh kernel, one more try. A cell that is
                # really too slow times out twice and fails.
                if attempt == 2:
                    failed.append(master.stem)
                    print(f"{master.stem}: FAILED twice\n{err}", file=sys.stderr, flush=True)
                else:
                    print(
                        f"{master.stem}: {type(err).__name__}, running it again in a new kernel",
                        flush=True,
                    )
            except Exception as err:  # report every chapter, then fail
                failed.append(master.stem)
                print(f"{master.stem}: FAILED\n{err}", file=sys.stderr, flush=True)
                break
    if failed:
        raise SystemExit(f"chapters with errors: {', '.join(failed)}")


if __name__ == "__main__":
    main()
