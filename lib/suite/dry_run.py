"""``make run DRY_RUN=1`` (``--dry-run``): what a run would do, and why, with
no Spark, no kernel and nothing written.

Each notebook is listed with ``run`` or ``skip`` and the reason
:func:`lib.suite.freshness.stale_reason` gives: up to date, an input changed
(which), the notebook edited, a parameter changed (which, old -> new), an
output missing or edited by hand, or forced (``--force``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lib.config import Params
from lib.suite.freshness import run_fingerprint, stale_reason
from lib.suite.models import Status

FORCED = "forced"


def plan(notebooks: Sequence[Path], params: Params, executed_dir: Path,
         force: bool) -> list[tuple[str, str | None]]:
    """(notebook name, why it would run or None when up to date), in order."""
    rows = []
    for nb in notebooks:
        reason = stale_reason(nb, executed_dir / nb.name, params, run_fingerprint(nb, params))
        if force:
            reason = FORCED if reason is None else f"{FORCED} ({reason})"
        rows.append((nb.stem, reason))
    return rows


def dry_run_text(rows: Sequence[tuple[str, str | None]]) -> str:
    width = max((len(name) for name, _ in rows), default=8)
    lines = [f"{'notebook':<{width}}  would  why", "-" * (width + 24)]
    for name, reason in rows:
        lines.append(f"{name:<{width}}  {'run ' if reason else 'skip'}   {reason or Status.UP_TO_DATE}")
    runs = sum(reason is not None for _, reason in rows)
    lines.append(f"\nDry run: {runs} of {len(rows)} notebook(s) would run, "
                 f"{len(rows) - runs} are up to date; nothing was started or written.")
    return "\n".join(lines)


def dry_run(notebooks: Sequence[Path], params: Params, executed_dir: Path, force: bool) -> int:
    print(dry_run_text(plan(notebooks, params, executed_dir, force)))
    return 0
