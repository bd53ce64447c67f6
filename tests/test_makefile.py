"""The Makefile documents itself: ``make help`` names every phony target."""

from __future__ import annotations

import re
import subprocess

from lib.config import PROJECT_ROOT


def _phony_targets() -> set[str]:
    text = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    return {name for line in re.findall(r"^\.PHONY:(.*)$", text, re.M) for name in line.split()}


def test_make_help_lists_every_phony_target_with_its_description():
    done = subprocess.run(["make", "--no-print-directory", "help"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    described = dict(re.findall(r"^make (\S+) +(\S.*)$", done.stdout, re.M))
    targets = _phony_targets()
    assert len(targets) > 10
    assert sorted(targets - set(described)) == []
    assert sorted(set(described) - targets) == []  # a described rule that is not phony
