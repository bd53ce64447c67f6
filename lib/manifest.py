"""What a notebook run wrote, recorded in a small JSON file the suite reads:
``<output>/notebooks/<NN_name>.manifest.json`` (format: docs/design.md, "The manifest").
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from lib.config import Params
from lib.fileio import write_text

SUFFIX = ".manifest.json"
TRACKED_PARAMETERS = ("as_of_date", "season_start_month")


def manifest_path(output_dir: Path, notebook: str) -> Path:
    return output_dir / "notebooks" / f"{notebook}{SUFFIX}"


def read_manifest(path: Path) -> dict | None:
    """The manifest as written, or None when missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_manifest(path: Path, manifest: dict) -> None:
    write_text(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def file_state(path: Path) -> dict:
    """What tells a later run whether ``path`` is still the file written."""
    info = path.stat()
    return {"bytes": info.st_size, "mtime_ns": info.st_mtime_ns}


class TrackedParams:
    """A :class:`~lib.config.Params` that remembers which of the run
    parameters (:data:`TRACKED_PARAMETERS`) were read."""

    def __init__(self, params: Params):
        self._params = params
        self.read: dict[str, object] = {}

    def __getattr__(self, name: str):
        value = getattr(self._params, name)
        if name in TRACKED_PARAMETERS:
            self.read[name] = value.isoformat() if hasattr(value, "isoformat") else value
        return value


@dataclass
class Recorder:
    """Collects a notebook's writes and keeps its manifest current after each
    one (a notebook that fails half-way leaves a manifest with no fingerprint,
    which the runner never trusts)."""

    notebook: str | None  # None: not run by the suite or Lab; nothing recorded
    params: TrackedParams
    began: float = field(default_factory=time.monotonic)
    outputs: list[dict] = field(default_factory=list)
    actions: list[dict] = field(default_factory=list)
    reads: list[dict] = field(default_factory=list)

    def read(self, path: Path, kind: str, sources: list[Path]) -> None:
        """Note that the notebook used ``path`` (under the output folder),
        made from ``sources`` (absolute input files); once per path."""
        if self.notebook is None:
            return
        entry = {"path": path.relative_to(self.params.output_dir).as_posix(), "kind": kind,
                 "sources": [str(source) for source in sources]}
        if entry not in self.reads:
            self.reads.append(entry)
            self._save()

    def wrote(self, path: Path, kind: str, rows: int | None = None) -> None:
        if self.notebook is None:
            return
        entry = {"path": path.relative_to(self.params.output_dir).as_posix(), "kind": kind,
                 **file_state(path)}
        if rows is not None:
            entry["rows"] = rows
        self.outputs = [o for o in self.outputs if o["path"] != entry["path"]] + [entry]
        self._save()

    def timed(self, action: str, seconds: float) -> None:
        """Note one Spark action and how long it took."""
        if self.notebook is None:
            return
        self.actions.append({"action": action, "seconds": round(seconds, 3)})
        self._save()

    def _save(self) -> None:
        write_manifest(manifest_path(self.params.output_dir, self.notebook), {
            "notebook": self.notebook,
            "seconds": round(time.monotonic() - self.began, 2),
            "parameters": dict(sorted(self.params.read.items())),
            "outputs": self.outputs,
            "actions": self.actions,
            "reads": self.reads,
        })


def notebook_name() -> str | None:
    """The name of the notebook JupyterLab runs, from ``JPY_SESSION_NAME``
    (Jupyter Server sets it to the notebook's path for each kernel it starts);
    the suite runner names its notebooks in their run context instead."""
    session = os.environ.get("JPY_SESSION_NAME", "")
    return Path(session).stem if session.endswith(".ipynb") else None
