"""The project's commands: console scripts of pyproject.toml beside the
``python -m`` forms."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from lib.config import PROJECT_ROOT

SCRIPTS = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_the_commands_are_there():
    assert {"ticket-insights-run", "ticket-insights-report", "ticket-insights-compare",
            "ticket-insights-lab", "ticket-insights-sql"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_each_console_script_answers_help(name):
    """Installed by make setup next to the venv's python; --help needs no Spark."""
    module, function = SCRIPTS[name].split(":")
    assert callable(getattr(importlib.import_module(module), function))
    script = Path(sys.executable).with_name(name)
    assert script.is_file(), f"{script}: run make setup again (pip install --no-deps -e .)"
    done = subprocess.run([str(script), "--help"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr[-2000:]
