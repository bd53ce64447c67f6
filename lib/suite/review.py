"""The end of a run, after its notebooks: its record (:mod:`lib.suite.run_record`),
what changed since the previous run (:mod:`lib.suite.changes`), the
stale-export warning, the lines the summary prints and the exit code
``--fail-on-drift`` asks for. The runner calls :func:`review_run` once the
notebooks are done and :meth:`RunReview.keep` once the exit code is known.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lib.config import Params
from lib.errors import TicketInsightsError
from lib.suite.changes import compare, stale_export, summary_line
from lib.suite.run_record import (
    KEEP_RUNS,
    RunFacts,
    build_record,
    keep_record,
    load_record,
    previous_record,
    utc_text,
)

DRIFT_EXIT = 3  # --fail-on-drift and a change was flagged (otherwise the run was fine)


def read_compare_to(path: str | None, base: Path) -> dict | None:
    """The record ``--compare-to`` names (a record file, a run folder or an
    output folder), read before the run starts so a wrong path stops it early."""
    if not path:
        return None
    target = Path(path) if Path(path).is_absolute() else base / path
    try:
        return load_record(target)
    except (OSError, ValueError) as error:
        raise TicketInsightsError(f"--compare-to {path}: no readable run record there "
                                  f"({getattr(error, 'strerror', None) or error})") from None


@dataclass
class RunReview:
    record: dict
    changes: dict | None  # None: nothing to compare with
    warnings: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[str]:
        return self.changes["flagged"] if self.changes else []

    def lines(self) -> list[str]:
        """What the run's summary prints: the changes line, then any warning."""
        return [summary_line(self.changes), *(f"warning: {w}" for w in self.warnings)]

    def exit_code(self, code: int, fail_on_drift: bool) -> int:
        return DRIFT_EXIT if code == 0 and fail_on_drift and self.flagged else code

    def keep(self, output_dir: Path, code: int, keep_runs: int = KEEP_RUNS) -> str | None:
        """Finish the record with the exit code and write it; one warning line
        (printed and returned) when it could not be kept: the run still stands."""
        ended = dt.datetime.now(dt.UTC)
        started = dt.datetime.fromisoformat(self.record["started"].replace("Z", "+00:00"))
        self.record.update(ended=utc_text(ended), exit_code=code,
                           seconds=round((ended - started).total_seconds(), 1))
        try:
            warning = keep_record(output_dir, self.record, keep_runs)
        except OSError as error:  # e.g. the disk filled up while serialising
            warning = f"warning: run record not kept (the run's results stand): {error}"
        if warning:
            print(warning, file=sys.stderr)
        return warning


def review_run(params: Params, results: list, facts: RunFacts,
               compare_to: dict | None = None) -> RunReview:
    """The record of the run, and how it differs from ``compare_to`` or else
    from the output folder's previous record."""
    previous = previous_record(params.output_dir)
    record = build_record(params, results, facts, previous)
    baseline = compare_to or previous
    changes = compare(baseline, record) if baseline else None
    warnings = [w for w in (stale_export(record),) if w]
    record.update(summary=summary_line(changes), changes=changes, warnings=warnings)
    return RunReview(record, changes, warnings)


def review_or_warn(params: Params, results: list, facts: RunFacts,
                   compare_to: str | None, base: Path) -> RunReview | None:
    """:func:`review_run` (against the record ``compare_to`` names, relative
    to ``base``, if given), its lines printed; a failure to build the record
    is one warning line and no review, never a failed run."""
    try:
        review = review_run(params, results, facts, read_compare_to(compare_to, base))
    except Exception as error:  # noqa: BLE001 - the run's outputs stand without it
        print(f"warning: no run record (the run's results stand): {type(error).__name__}: "
              f"{error}", file=sys.stderr)
        return None
    for line in review.lines():
        print(line, file=sys.stderr if line.startswith("warning:") else sys.stdout)
    return review
