"""The README's two commands are what CI runs and what a newcomer pastes (issue 10, item 17): the test command
installs everything the tests need itself, the browser included, and ``.ci/run`` only calls it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text(), flags=re.S)[:2]


def test_ci_runs_the_readme_test_command() -> None:
    _, test = commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert test.strip() in ci.splitlines()


def test_the_test_command_installs_the_browser_and_everything_else() -> None:
    _, test = commands()
    script = ROOT / test.split()[-1]
    assert test.strip() == "bash scripts/test.sh" and script.is_file()
    text = script.read_text()
    assert "apt-get install -y -q chromium" in text and 'pip install -q -e ".[dev]"' in text
    assert "python3.11 -m venv .venv" in text and "pytest" in text and "ruff check" in text and "lint-imports" in text
