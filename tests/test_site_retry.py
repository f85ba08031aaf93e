"""tools/site.py gives a chapter whose kernel hangs one more try, and fails one that hangs twice."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("site_tool", ROOT / "tools" / "site.py")
site_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(site_tool)
nbclient_exceptions = pytest.importorskip("nbclient.exceptions")


def run_with(monkeypatch, outcomes):
    """Run `site.py execute 00_shapes_world` with `execute` replaced by a script of outcomes."""
    calls = []

    def fake_execute(master, timeout=300):
        calls.append(master.stem)
        outcome = outcomes[len(calls) - 1]
        if outcome is not None:
            raise outcome
        return master

    monkeypatch.setattr(site_tool, "execute", fake_execute)
    try:
        site_tool.main(["execute", "00_shapes_world"])
        return calls, None
    except SystemExit as exit:
        return calls, str(exit)


def test_a_hang_gets_a_second_try(monkeypatch):
    timeout = nbclient_exceptions.CellTimeoutError("cell timed out")
    calls, failure = run_with(monkeypatch, [timeout, None])
    assert calls == ["00_shapes_world", "00_shapes_world"] and failure is None


def test_two_hangs_fail_and_an_error_is_not_retried(monkeypatch):
    timeout = nbclient_exceptions.CellTimeoutError("cell timed out")
    calls, failure = run_with(monkeypatch, [timeout, timeout])
    assert len(calls) == 2 and "00_shapes_world" in failure
    calls, failure = run_with(monkeypatch, [ValueError("a bug in the chapter")])
    assert len(calls) == 1 and "00_shapes_world" in failure
