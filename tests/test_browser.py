"""A student's first minutes in a real browser: JupyterLab on a loopback port, chapter 00's
student notebook opened in headless Chromium (Debian's package, driven by Playwright), all
cells run, a widget slider moved, and grader.check's feedback read (slow)."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = "00_shapes_world"
pytestmark = pytest.mark.notebook
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a copy of the chapter folder; yields the notebook's URL."""
    shutil.copytree(ROOT / "course" / "student" / CHAPTER, tmp_path / CHAPTER)
    port, token = free_port(), "browser-test"
    # Render every cell (JupyterLab otherwise renders only those on screen), with settings
    # of this test's own rather than the user's.
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = {
        **os.environ,
        "COURSE_MODE": "fast",
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={token}", "--allow-root",
               f"--ServerApp.root_dir={tmp_path / CHAPTER}"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield f"{base}/lab/tree/{CHAPTER}.ipynb?token={token}"
    finally:
        os.killpg(server.pid, 9)  # the server and the kernels it started
        server.wait()


def wait_until_idle(page, timeout_s: float) -> None:
    """Until every code cell has run: no "[*]" prompt left and the last one numbered."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        if prompts and not any("*" in p for p in prompts) and re.search(r"\d", prompts[-1]):
            return
        time.sleep(1)
    raise AssertionError(f"cells still running after {timeout_s:.0f} s: {prompts[-3:]}")


@pytest.mark.skipif(BROWSER is None, reason="no chromium: `make test` installs Debian's package "
                    "(apt-get install chromium) where it can; here it could not")  # fmt: skip
def test_a_student_runs_chapter_00_in_a_real_browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(lab)
        page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=60_000)
        page.locator("#jp-main-statusbar").get_by_text("Idle").first.wait_for(timeout=60_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        wait_until_idle(page, timeout_s=150)

        outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
        assert "Traceback" not in outputs
        assert "Exercise 0.1 (class_pixel_fractions): returned nothing" in outputs  # grader.check
        assert "using the reference so you can continue" in outputs

        # the shapes-world widget: move its seed slider and see the figure change
        interact = page.locator(".widget-interact").first
        figure = interact.locator(".widget-output img").first
        figure.wait_for(timeout=30_000)
        before = figure.get_attribute("src")
        seed = interact.locator(".widget-slider").filter(has_text="seed")
        for name in ("max_objects", "max_overlap", "num_shapes"):  # whole names, not "max_obje..."
            label = interact.locator(".widget-label", has_text=name).first
            width = label.evaluate("e => [e.scrollWidth, e.clientWidth]")
            assert width[0] <= width[1], f"the label {name!r} is cut off ({width})"
        seed.locator(".noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        deadline = time.time() + 30
        while figure.get_attribute("src") == before and time.time() < deadline:
            time.sleep(0.5)
        assert figure.get_attribute("src") != before, "moving the seed slider did not redraw"
        browser.close()
