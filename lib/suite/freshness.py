"""Whether a notebook's outputs are up to date, so a rerun can skip it, and if
not, which part changed (docs/design.md, "Skipping notebooks that are up to date").
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lib.config import Params
from lib.fingerprint import CODE, LOCK, PART_DIGITS, SPARK, input_part, pipeline_parts
from lib.manifest import file_state, manifest_path, read_manifest, write_manifest
from lib.staged import input_state

NOTEBOOK = "notebook"  # the part besides the pipeline's and the inputs (named by file)
PIPELINE_REASONS = {CODE: "pipeline code changed", LOCK: "lock file changed (dependencies)",
                    SPARK: "Spark version changed"}


def fingerprint_parts(notebook: Path, params: Params) -> dict[str, str]:
    """What decides a notebook's results, each as a short digest: the part's
    name (the pipeline's code, lock file and Spark version, each input's file
    name, the notebook) -> its digest."""
    parts = dict(pipeline_parts())
    for path, version in input_state(params).items():
        parts[Path(path).name] = input_part(path, version)
    parts[NOTEBOOK] = hashlib.sha256(notebook.read_bytes()).hexdigest()[:PART_DIGITS]
    return parts


def run_fingerprint(notebook: Path, params: Params) -> str:
    return "-".join(fingerprint_parts(notebook, params).values())


def _changed_part(recorded: str, current: str, names: list[str]) -> str:
    old, new = recorded.split("-"), current.split("-")
    if len(old) != len(new):  # recorded by an older version of the suite
        return "inputs, notebook or code changed"
    changed = [name for name, a, b in zip(names, old, new, strict=True) if a != b]
    inputs = [name for name in changed if name not in (*PIPELINE_REASONS, NOTEBOOK)]
    reasons = [f"input changed: {', '.join(inputs)}"] if inputs else []
    reasons += ["notebook edited"] if NOTEBOOK in changed else []
    reasons += [reason for part, reason in PIPELINE_REASONS.items() if part in changed]
    return "; ".join(reasons)


def _current(params: Params, name: str):
    value = getattr(params, name)
    return value.isoformat() if hasattr(value, "isoformat") else value


def stale_reason(notebook: Path, executed: Path, params: Params,
                 fingerprint: str) -> str | None:
    """Why ``notebook`` must run again, naming what changed, or None when its
    outputs are current."""
    manifest = read_manifest(manifest_path(params.output_dir, notebook.stem))
    if manifest is None or "fingerprint" not in manifest:
        return "no record of a complete run"
    if manifest["fingerprint"] != fingerprint:
        names = list(fingerprint_parts(notebook, params))
        return _changed_part(manifest["fingerprint"], fingerprint, names)
    for name, value in manifest.get("parameters", {}).items():
        if _current(params, name) != value:
            return f"parameter changed: {name} ({value} -> {_current(params, name)})"
    if not executed.is_file():
        return "executed copy missing"
    for output in manifest.get("outputs", []):
        path = params.output_dir / output["path"]
        state = {"bytes": output.get("bytes"), "mtime_ns": output.get("mtime_ns")}
        if not path.exists():
            return f"output missing: {output['path']}"
        if file_state(path) != state:
            return f"output edited by hand: {output['path']}"
    return None


def record_complete_run(notebook: Path, params: Params, fingerprint: str) -> list[str]:
    """Mark the manifest of a notebook that succeeded with the fingerprint it
    ran with; returns the outputs it lists (relative paths)."""
    path = manifest_path(params.output_dir, notebook.stem)
    manifest = read_manifest(path)
    if manifest is None:  # the notebook wrote nothing through lib.notebook
        return []
    manifest["fingerprint"] = fingerprint
    write_manifest(path, manifest)
    return [output["path"] for output in manifest.get("outputs", [])]


def recorded_outputs(notebook: Path, params: Params) -> list[str]:
    manifest = read_manifest(manifest_path(params.output_dir, notebook.stem)) or {}
    return [output["path"] for output in manifest.get("outputs", [])]
