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
    extras = meta["optional-dependencies"]
    wanted = requirement_names_and_bounds(meta["dependencies"] + extras["dev"])
    # dev holds every extra, so one environment.yml serves instructors and CI
    assert set(requirement_names_and_bounds(extras["grade"])) <= set(wanted)
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
    for dep in meta["dependencies"] + sum(meta["optional-dependencies"].values(), []):
        assert "==" not in dep, f"exact pin {dep!r}: use lower bounds only"


def test_no_formatter_or_linter_pragmas_reach_students():
    """Masters are the source of the student notebooks: no `# fmt: skip` / `# noqa` in them."""
    for master in sorted((ROOT / "course").glob("[0-9][0-9]_*.py")):
        for number, line in enumerate(master.read_text().splitlines(), 1):
            assert not re.search(r"#\s*(fmt:|noqa)", line), (
                f"{master.name}:{number}: {line.strip()}"
            )


def test_student_runtime_has_a_kernel_and_no_grading_install():
    """`pip install` of the course alone runs notebooks (ipykernel) and grader.check (ours),
    without otter-grader and its dozens of packages."""
    deps = requirement_names_and_bounds(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    )
    assert "ipykernel" in deps and "otter-grader" not in deps
    for master in sorted((ROOT / "course").glob("[0-9][0-9]_*.py")):
        assert "import otter" not in master.read_text(), master.name
