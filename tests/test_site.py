"""The course website: every chapter page exists, with its figures (slow: builds the site
from the executed chapters that `make notebooks` leaves in build/executed)."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("site_tool", ROOT / "tools" / "site.py")
site_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(site_tool)
pytestmark = pytest.mark.notebook


def figures(notebook: dict) -> int:
    return sum("image/png" in out.get("data", {}) for cell in notebook["cells"]
               for out in cell.get("outputs", []))  # fmt: skip


def test_every_chapter_page_exists_with_its_figures():
    html = site_tool.build_site()
    index = (html / "index.html").read_text()
    for master in site_tool.masters():
        page = html / f"{master.stem}.html"
        assert page.exists(), f"no page for {master.stem}"
        assert f'href="{master.stem}.html"' in index, f"the syllabus does not link {master.stem}"
        executed = json.loads((site_tool.EXECUTED / f"{master.stem}.ipynb").read_text())
        want = figures(site_tool.reader_notebook(executed))
        assert want >= 1, f"{master.stem} has no figure"
        images = re.findall(r'<img [^>]*src="([^"]+)"', page.read_text())
        shown = [s for s in images if s.startswith("data:image") or (page.parent / s).is_file()]
        assert len(shown) >= want, f"{master.stem}: {len(shown)} images shown, {want} figures"
        text = page.read_text()
        assert "BEGIN SOLUTION" not in text and "# BEGIN QUESTION" not in text


def test_reader_notebook_drops_grading_scaffolding():
    cell = lambda kind, src: {"cell_type": kind, "source": src, "metadata": {}}  # noqa: E731
    nb = {"cells": [
        cell("raw", "# BEGIN QUESTION\nname: ex1"), cell("markdown", "**Exercise**"),
        cell("code", "def f(x):\n    # BEGIN SOLUTION\n    return x\n    # END SOLUTION\n"),
        cell("raw", "# BEGIN TESTS"), cell("code", "def test_f(f):\n    assert f(1) == 1"),
        cell("raw", "# END TESTS"), cell("code", "f(2)"),
    ], "metadata": {}}  # fmt: skip
    out = site_tool.reader_notebook(nb)
    assert [c["source"] for c in out["cells"]] == [
        "**Exercise**",
        "def f(x):\n    return x\n",
        "f(2)",
    ]
