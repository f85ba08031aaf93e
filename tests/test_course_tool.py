import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("course_tool", ROOT / "tools" / "course.py")
course_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(course_tool)


def test_solution_lines_ignore_lines_the_notebook_uses_elsewhere(tmp_path):
    master = tmp_path / "99_demo.py"
    master.write_text(
        "with torch.no_grad():\n"
        "    y = f(\n"
        "    )\n"
        "def answer(x):\n"
        "    # BEGIN SOLUTION\n"
        "    with torch.no_grad():\n"
        "        secret = x.flip(0).cummax(0)\n"
        "    )\n"
        "    # END SOLUTION\n"
    )
    assert course_tool.solution_lines(master) == ["secret = x.flip(0).cummax(0)"]
