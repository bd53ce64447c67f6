"""What the suite runner tells each notebook it runs, in one file per notebook.

The runner writes a :class:`RunContext` (the Spark endpoint, the inputs'
version it pinned for the whole batch, the notebook's name) and passes its
path as the notebook's ``run_context`` parameter; ``lib.notebook.setup``
reads it. A notebook run alone (JupyterLab, papermill, nbval) has none.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from lib.errors import ParameterError
from lib.fileio import write_private_text

CONTEXT_DIR = ".run"  # <output>/.run/<notebook>.json while the notebook runs


@dataclass(frozen=True)
class RunContext:
    notebook: str  # e.g. "01_events": names the notebook's manifest
    spark_remote: str | None = None  # a Spark Connect URL; None: a local session
    pin: dict | None = None  # the inputs' staged version for the batch (lib.staged.pin_inputs)

    def path(self, output_dir: Path) -> Path:
        return output_dir / CONTEXT_DIR / f"{self.notebook}.json"

    def write(self, path: Path) -> Path:
        """Write atomically, readable by its owner only (the URL holds a token)."""
        return write_private_text(path, json.dumps(asdict(self), sort_keys=True) + "\n")


def read_run_context(path: str | os.PathLike | None) -> RunContext | None:
    """The context at ``path``, or None when there is none (no runner)."""
    if not path:
        return None
    try:
        fields = json.loads(Path(path).read_text())
        return RunContext(**fields)
    except (OSError, ValueError, TypeError) as error:
        raise ParameterError(f"run_context {path} cannot be read ({error}); it is written by "
                             "the suite runner: leave run_context at None to run a notebook "
                             "on its own") from error
