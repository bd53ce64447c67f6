"""The run record: ``<output>/runs/<UTC time>/run_results.json`` for each run,
the latest also at ``<output>/run_results.json`` (format: docs/run_results.md),
built from what the run already wrote, never by running Spark again.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import platform
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lib.config import Params
from lib.fileio import write_text
from lib.manifest import manifest_path, read_manifest
from lib.staged import file_version
from lib.suite.input_profile import (
    customers_profile,
    file_fingerprint,
    tickets_profile,
)

SCHEMA_VERSION = 1
RECORD = "run_results.json"
RUNS = "runs"
KEEP_RUNS = 20
DATA_QUALITY = "data_quality.csv"
EVENTS = "01_events.csv"
SEASONS = "10_net_sales_by_season.csv"
STATUS = "11_purchaser_status.csv"
FACTS = "09_fact_transaction.csv"


@dataclass(frozen=True)
class RunFacts:
    """What the runner knows about the run that the output folder does not."""

    started: dt.datetime
    spark: str
    jobs: int
    only: str
    force: bool
    staged: str  # the staged version's fingerprint


def utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_id(started: dt.datetime) -> str:
    """The run's folder name under runs/: sortable, no ':' (any file system)."""
    return started.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def _rows(path: Path) -> list[dict]:
    csv.field_size_limit(sys.maxsize)
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def record_counts(output_dir: Path) -> dict:
    """Per dataset: raw, clean, rejected, rejected by reason and the reject rate (%)."""
    counts: dict[str, dict] = {}
    for row in _rows(output_dir / DATA_QUALITY):
        entry = counts.setdefault(row["dataset"], {"raw": 0, "clean": 0, "rejected": 0,
                                                   "rejected_by_reason": {}})
        rows = int(row["rows"])
        entry["raw"] += rows
        if row["outcome"] == "clean":
            entry["clean"] += rows
        else:
            entry["rejected"] += rows
            entry["rejected_by_reason"][row["outcome"]] = rows
    for entry in counts.values():
        entry["reject_rate_pct"] = round(100 * entry["rejected"] / entry["raw"], 3) \
            if entry["raw"] else 0.0
    return counts


def _last_line(path: Path) -> str:
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - 64 * 1024))
        lines = [line for line in handle.read().splitlines() if line.strip()]
    return lines[-1].decode("utf-8", errors="replace") if lines else ""


def newest_order(output_dir: Path) -> str | None:
    """The latest purchase_ts among clean orders: 09's fact table is sorted by
    it, so its last line holds it (no line breaks inside its fields)."""
    path = output_dir / FACTS
    if not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    if "purchase_ts" not in header:
        return None
    last = next(csv.reader([_last_line(path)]), [])
    value = last[header.index("purchase_ts")] if len(last) == len(header) else ""
    return value if value and value != "purchase_ts" else None


def summaries(output_dir: Path) -> dict:
    """The small results the comparison needs, from outputs 01, 10, 11 and 09."""
    events = {row["event_id"]: f"{row['event_name']} ({row['event_date']})"
              for row in _rows(output_dir / EVENTS)}
    digest = hashlib.sha256("\n".join(sorted(events)).encode()).hexdigest()
    return {
        "net_sales_by_season": {row["season"]: row["net_sales"]
                                for row in _rows(output_dir / SEASONS)},
        "purchaser_status": dict(sorted(Counter(
            row["purchaser_status"] for row in _rows(output_dir / STATUS)).items())),
        "events": {"count": len(events), "digest": digest, "items": dict(sorted(events.items()))},
        "newest_order": newest_order(output_dir),
    }


def _previous_outputs(previous: dict | None) -> dict[str, dict]:
    return {o["path"]: o for nb in (previous or {}).get("notebooks", [])
            for o in nb.get("outputs", [])}


def output_fingerprints(output_dir: Path, notebook: str) -> dict[str, dict]:
    """Each file the notebook's manifest lists -> its :func:`file_fingerprint`.
    The runner takes them as each notebook finishes, while others still run,
    so the record hashes nothing once the last one is done (10M orders: 8 GB
    of CSVs, 6 s). A file gone or unreadable is left to the record."""
    found = {}
    for output in (read_manifest(manifest_path(output_dir, notebook)) or {}).get("outputs", []):
        path = output_dir / output["path"]
        try:
            if path.is_file():
                found[output["path"]] = file_fingerprint(path)
        except OSError:
            continue
    return found


def notebook_entries(params: Params, results: list, previous: dict | None) -> list[dict]:
    """Per notebook: status, seconds, error, and each output with its rows,
    size and SHA-256. A hash already known for the file as it is now is not
    taken again: the one the runner took when the notebook finished
    (``Result.fingerprints``), or the previous record's."""
    known = _previous_outputs(previous)
    entries = []
    for result in results:
        manifest = read_manifest(manifest_path(params.output_dir, result.name)) or {}
        outputs = []
        for output in manifest.get("outputs", []):
            path = params.output_dir / output["path"]
            entry = {"path": output["path"], "kind": output["kind"], "rows": output.get("rows")}
            if path.is_file():
                taken = result.fingerprints.get(output["path"]) or known.get(output["path"])
                entry.update(file_fingerprint(path, taken))
                entry["path"] = output["path"]
            outputs.append(entry)
        entries.append({"name": result.name, "status": result.status,
                        "seconds": round(result.seconds, 2), "error": result.error or None,
                        "outputs": outputs})
    return entries


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def versions() -> dict:
    from lib.java import find_java_home, java_major

    try:
        java = java_major(find_java_home() / "bin" / "java")
    except Exception:  # noqa: BLE001 - a record without it is still a record
        java = None
    return {"project": _version("ticket-insights"), "pyspark": _version("pyspark"),
            "python": platform.python_version(), "java": str(java) if java else None}


def inputs(params: Params, previous: dict | None) -> dict:
    before = (previous or {}).get("inputs", {})
    found = {}
    for name, path, profile in (("tickets", params.tickets_path, tickets_profile),
                                ("customers", params.customers_path, customers_profile)):
        known = before.get(name) if (before.get(name) or {}).get("path") == str(path) else None
        found[name] = {**file_fingerprint(path, known, file_version(path)), **profile(path)}
    return found


def build_record(params: Params, results: list, facts: RunFacts, previous: dict | None) -> dict:
    """The record, but for ``ended``, ``seconds`` and ``exit_code``, which the
    runner knows only once the report is built (:mod:`lib.suite.review`)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id(facts.started),
        "started": utc_text(facts.started),
        "ended": None, "seconds": None, "exit_code": None,  # set by RunReview.keep
        "parameters": {"data_dir": str(params.data_dir), "output_dir": str(params.output_dir),
                       "as_of_date": params.as_of_date.isoformat(),
                       "season_start_month": params.season_start_month,
                       "only": facts.only, "force": facts.force, "jobs": facts.jobs},
        "spark": facts.spark,
        "versions": versions(),
        "staged_fingerprint": facts.staged,
        "inputs": inputs(params, previous),
        "records": record_counts(params.output_dir),
        "notebooks": notebook_entries(params, results, previous),
        "summaries": summaries(params.output_dir),
    }


def load_record(path: str | Path) -> dict:
    """A record from its file or its run folder (``output/runs/<id>``) or an
    output folder (its latest record). Raises OSError or ValueError."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORD
    return json.loads(path.read_text(encoding="utf-8"))


def previous_record(output_dir: Path) -> dict | None:
    """The output folder's latest record (or None): the newest of runs/ and the
    latest copy, so one of the two being unwritable loses nothing."""
    found = []
    for path in [output_dir / RECORD, *sorted((output_dir / RUNS).glob(f"*/{RECORD}"))[-1:]]:
        try:
            found.append(load_record(path))
        except (OSError, ValueError):
            continue
    return max(found, key=lambda r: r.get("run_id", ""), default=None)


def keep_record(output_dir: Path, record: dict, keep: int = KEEP_RUNS) -> str | None:
    """Write the record to runs/<id>/ and as the latest copy, then drop all but
    the newest ``keep`` run folders (at least this one). Returns a warning
    instead of raising."""
    keep = max(1, keep)
    text = json.dumps(record, indent=1) + "\n"
    problems = []
    for target in (output_dir / RUNS / record["run_id"] / RECORD, output_dir / RECORD):
        try:
            write_text(target, text)
        except OSError as error:
            problems.append(f"{target}: {error.strerror or error}")
    try:
        folders = sorted(p for p in (output_dir / RUNS).iterdir() if p.is_dir()
                         and not p.name.startswith("."))
        for old in folders[:max(0, len(folders) - keep)]:
            shutil.rmtree(old)
    except OSError as error:
        if not problems:
            problems.append(f"{output_dir / RUNS}: old records not removed ({error.strerror})")
    if problems:
        return "warning: run record not kept (the run's results stand): " + "; ".join(problems)
    return None
