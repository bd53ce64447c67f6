"""The output folder between runs: one run at a time, and what a killed run
left half-done removed before the next one starts."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from lib.config import BATCH_LOCK_FILE, Params
from lib.errors import TicketInsightsError
from lib.fileio import LockBusy, file_lock, remove_path, remove_scratch
from lib.run_context import CONTEXT_DIR
from lib.staged import remove_stale_builds
from lib.tables import recover


@contextmanager
def output_dir_lock(output_dir: Path):
    """Hold ``<output>/.run.lock`` for a whole run: a second run into the same
    folder stops with a clear message instead of mixing its files with ours."""
    try:
        with file_lock(output_dir / BATCH_LOCK_FILE, blocking=False):
            yield
    except LockBusy as busy:
        raise TicketInsightsError(
            f"another run (pid {busy.owner or '?'}) is writing to {output_dir}; wait for it "
            "to finish or choose another --output-dir"
        ) from None


def remove_stale_scratch(params: Params, keep_staged: str | None = None) -> None:
    """Hidden CSV, chart, executed notebook and table scratch, a table caught between its two
    renames (:func:`lib.tables.recover`) and half-built staged data; given
    ``keep_staged`` (the run's pinned fingerprint), every other staged
    version too. Call under :func:`output_dir_lock`. Finished outputs are
    never touched: each is its old or its new complete version."""
    for folder in (params.output_dir, params.rejects_dir, params.charts_dir,
                   params.warehouse_dir, params.output_dir / "notebooks"):
        if folder.is_dir():
            remove_scratch(folder)
    recover(params.warehouse_dir)
    remove_path(params.output_dir / CONTEXT_DIR)  # a killed run's notebook contexts
    remove_stale_builds(params, keep=keep_staged)
