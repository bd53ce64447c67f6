"""What the runner loads while its Spark server starts (lib.suite.kernels)."""

from __future__ import annotations

import subprocess
import sys

from lib.config import PROJECT_ROOT

LOAD_AND_VALIDATE = """
import sys
from lib.suite.kernels import load_notebook_tools
load_notebook_tools()
import nbformat
nbformat.validate(nbformat.read("notebooks/01_events.ipynb", as_version=4))
print(sys.modules["rfc3987_syntax"])
"""


def test_the_notebook_tools_load_without_the_iri_grammars_and_still_validate_notebooks():
    # a fresh process: pytest's may have imported jsonschema's grammars already
    done = subprocess.run([sys.executable, "-c", LOAD_AND_VALIDATE], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"  # never imported, so no Lark grammars were built
