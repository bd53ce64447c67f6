"""Run the staging layer once per version of the inputs and keep it as parquet
in ``<output>/_staging/<fingerprint>``; a suite run pins one version for its
whole batch (docs/design.md, "Staging once per input version").
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib import cleaning
from lib.config import BATCH_LOCK_FILE, Params
from lib.errors import InputChangedError
from lib.fileio import LockBusy, file_lock, remove_scratch, replacing_dir
from lib.fingerprint import staged_fingerprint
from lib.input_checks import check_input_files, require_file
from lib.readers import read_raw_customers, read_ticket_lines
from lib.schema import CUSTOMER_COLUMNS, TICKET_COLUMNS

_COMPLETE = "_COMPLETE"
_REPEATED_ROWS = "_repeated_rows"  # scratch of the build: repeated rows without their lines
RAW_COUNTS = "raw_counts.json"  # records read from each input, by dataset
CLEAN_TICKETS = "tickets_clean"  # the clean orders, every rule applied: what the insights read
# What each field of Staged is read from: staged parquet folders under the
# version's folder (repeated_orders belongs to tickets), and the inputs each
# folder is cleaned from (tickets need the clean customer ids). The lineage in
# the report is drawn from these, as the notebooks record them.
STAGED_PARTS = {
    "tickets": (CLEAN_TICKETS,), "customers": ("customers",),
    "tickets_rejected": ("tickets",), "customers_rejected": ("customers",),
    "data_quality": ("customers", "tickets"), "raw_counts": ("customers", "tickets"),
}


@dataclass(frozen=True)
class Staged:
    """Clean inputs and their rejects, all read from the staged parquet."""

    tickets: DataFrame
    customers: DataFrame
    tickets_rejected: DataFrame
    customers_rejected: DataFrame
    data_quality: DataFrame
    raw_counts: dict[str, int]  # records read from each input: {"customers": n, "tickets": m}
    folder: Path | None = None  # the staged version these were read from


def part_sources(params: Params, part: str) -> list[Path]:
    """The input files a staged folder (:data:`STAGED_PARTS`) is cleaned from."""
    return ([params.tickets_path, params.customers_path] if part in ("tickets", CLEAN_TICKETS)
            else [params.customers_path])


def file_version(path: str | os.PathLike) -> list[int]:
    """What tells one version of a file from another without reading it:
    size, modification time, inode and status-change time. The last two catch
    a file replaced or edited in place with its size and modification time
    put back (``touch -d``, a copy tool keeping times): the system sets ctime."""
    info = os.stat(path)
    return [info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns]


def input_state(params: Params) -> dict[str, list[int]]:
    """Each input's path -> its :func:`file_version`."""
    return {str(path): file_version(path) for path in (params.tickets_path, params.customers_path)}


def fingerprint(params: Params, state: dict[str, list[int]] | None = None) -> str:
    """The staged folder's name: the inputs' versions, the pipeline's code,
    lock file and Spark version (:func:`lib.fingerprint.staged_fingerprint`)."""
    return staged_fingerprint(state or input_state(params))


def pin_inputs(params: Params) -> dict:
    """The staged version of the inputs as they are now, for a whole batch:
    ``{"fingerprint": ..., "inputs": {path: file_version(path)}}``."""
    state = input_state(params)
    return {"fingerprint": fingerprint(params, state), "inputs": state}


def changed_inputs(pin: dict) -> list[Path]:
    """The pinned inputs that are no longer the pinned version (or gone)."""
    changed = []
    for path, state in pin["inputs"].items():
        try:
            if file_version(path) != state:
                changed.append(Path(path))
        except OSError:
            changed.append(Path(path))
    return changed


def _require_unchanged(pin: dict) -> None:
    changed = changed_inputs(pin)
    if changed:
        raise InputChangedError(
            f"{changed[0]}: changed during the run (it is not the version it was when the run "
            "started), so its outputs would mix two versions; run again once the file "
            "is no longer being written"
        )


def _locked(root: Path):
    return file_lock(root / ".lock")


def _build(spark: SparkSession, params: Params, target: Path) -> None:
    """customers, then tickets by row (one scan of the text; a line kept only
    on rejected rows), then the small list of repeated order ids found in the
    written parquet, with their lines read again from the text; last the
    clean orders on their own, in customer order, so each insight reads them
    without applying the rules again."""
    customers_path = str(target / "customers")
    raw_customers = read_raw_customers(spark, params.customers_path)
    cleaning.classify_customers(raw_customers).write.parquet(customers_path)
    clean_ids = spark.read.parquet(customers_path).where(
        F.col("reject_reason").isNull()
    ).select("customer_id")
    lines = read_ticket_lines(spark, params.tickets_path)
    by_row = cleaning.classify_tickets_by_row(lines, clean_ids).transform(cleaning.without_passing_lines)
    by_row.write.parquet(str(target / "tickets"))
    by_row = spark.read.parquet(str(target / "tickets"))
    # written first, so its size is known and the join below broadcasts it
    # instead of shuffling every line
    cleaning.repeated_order_rows(by_row).write.parquet(str(target / _REPEATED_ROWS))
    repeated = spark.read.parquet(str(target / _REPEATED_ROWS))
    cleaning.repeated_order_lines(repeated, lines).write.parquet(str(target / "repeated_orders"))
    shutil.rmtree(target / _REPEATED_ROWS)
    _classified_tickets(spark, target).transform(cleaning.clean_rows, TICKET_COLUMNS).transform(
        cleaning.in_customer_purchase_order).write.parquet(str(target / CLEAN_TICKETS))
    # one staged row per raw record: counted from the parquet footers, not by reading again
    counts = {"customers": spark.read.parquet(customers_path).count(), "tickets": by_row.count()}
    (target / RAW_COUNTS).write_text(json.dumps(counts, sort_keys=True) + "\n")
    (target / _COMPLETE).write_text("ok\n")


def ensure_staged(spark: SparkSession, params: Params, pin: dict | None = None) -> Path:
    """Path of the staged parquet for ``pin`` (default: the inputs as they are
    now), building it if needed."""
    pinned, pin = pin is not None, _pin(params, pin)
    root = params.staging_dir
    target = root / pin["fingerprint"]
    if (target / _COMPLETE).exists():
        return target
    _require_unchanged(pin)  # every file-level check before the lock and any Spark job
    check_input_files(params.tickets_path, params.customers_path)
    with _locked(root):
        if not (target / _COMPLETE).exists():
            with replacing_dir(target) as scratch:
                _build(spark, params, scratch)
                _require_unchanged(pin)  # rewritten while read: never published
    if not pinned:  # a batch removes old versions itself, at its start
        _remove_old_versions_unless_running(params, keep=pin["fingerprint"])
    return target


def _remove_old_versions(root: Path, keep: str) -> None:
    for stale in root.iterdir():  # older versions and crashed builds
        if stale.is_dir() and stale.name != keep:
            shutil.rmtree(stale, ignore_errors=True)


def _remove_old_versions_unless_running(params: Params, keep: str) -> None:
    """Outside a run: drop other versions, unless a run holds the output
    folder (its notebooks may be reading its own version)."""
    try:
        with file_lock(params.output_dir / BATCH_LOCK_FILE, blocking=False), _locked(params.staging_dir):
            _remove_old_versions(params.staging_dir, keep)
    except LockBusy:
        pass


def is_staged(params: Params, pin: dict | None = None) -> bool:
    """True when ``pin`` (default: the inputs now) is already cleaned and stored."""
    return (params.staging_dir / _pin(params, pin)["fingerprint"] / _COMPLETE).exists()


def remove_stale_builds(params: Params, keep: str | None = None) -> None:
    """Drop half-built staging folders a killed run left (waits for a build
    in progress to finish first) and, given ``keep`` (the fingerprint a run
    pinned), every other version. The runner calls it at its start, under its
    output-folder lock."""
    root = params.staging_dir
    if root.is_dir():
        with _locked(root):
            remove_scratch(root)
            if keep is not None:
                _remove_old_versions(root, keep)


def _pin(params: Params, pin: dict | None) -> dict:
    """``pin`` if given, else the version of the inputs now."""
    if pin is None:
        for path in (params.customers_path, params.tickets_path):
            require_file(path)
        pin = pin_inputs(params)
    return pin


def _classified_tickets(spark: SparkSession, folder: Path) -> DataFrame:
    """Every staged ticket row with its ``reject_reason``, repeated order ids included."""
    return spark.read.parquet(str(folder / "tickets")).transform(
        cleaning.with_repeated_orders_rejected,
        spark.read.parquet(str(folder / "repeated_orders")),
    )


def load_staged(spark: SparkSession, params: Params, pin: dict | None = None) -> Staged:
    folder = ensure_staged(spark, params, pin)
    customers = spark.read.parquet(str(folder / "customers"))
    tickets = _classified_tickets(spark, folder)
    data_quality = cleaning.outcome_counts(customers, "customers").unionByName(
        cleaning.outcome_counts(tickets, "tickets")
    )
    return Staged(
        tickets=spark.read.parquet(str(folder / CLEAN_TICKETS)),
        customers=cleaning.clean_rows(customers, CUSTOMER_COLUMNS),
        tickets_rejected=cleaning.rejected_tickets(tickets),
        customers_rejected=cleaning.rejected_customers(customers),
        data_quality=data_quality,
        raw_counts=json.loads((folder / RAW_COUNTS).read_text()),
        folder=folder,
    )
