import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def requirement_names_and_bounds(lines):
    out = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", line)
        if m:
            out[m.group(1).lower()] = m.group(2).replace(" ", "")
    return out


def test_environment_yml_mirrors_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = requirement_names_and_bounds(
        meta["dependencies"] + meta["optional-dependencies"]["dev"]
    )
    pip_section = (ROOT / "environment.yml").read_text().split("- pip:", 1)[1]
    env_lines = [
        line.strip()[2:]
        for line in pip_section.splitlines()
        if line.strip().startswith("- ") and not line.strip().startswith("- -e")
    ]
    got = requirement_names_and_bounds(env_lines)
    assert got == wanted


def test_no_exact_pins_on_torch():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dep in meta["dependencies"] + meta["optional-dependencies"]["dev"]:
        assert "==" not in dep, f"exact pin {dep!r}: use lower bounds only"
