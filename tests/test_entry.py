"""The console script stays light to import: parse workers re-import it (multiprocessing's
fork server imports the parent's main script), so whatever it imports at module level,
every worker carries."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_console_script_points_at_the_light_entry() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["aggregator"] == "aggregator.entry:main"


def test_importing_the_entry_loads_no_library() -> None:
    code = (
        "import sys, aggregator.entry\n"
        "heavy = [m for m in ('aggregator.cli', 'sqlalchemy', 'alembic', 'jinja2', 'httpx')"
        " if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_entry_runs_the_cli() -> None:
    code = (
        "import sys; from aggregator.entry import main\n"
        "sys.argv = ['aggregator', '--version']; main()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "0.1.0" in out.stdout + out.stderr
