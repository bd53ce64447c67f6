"""What changed between two runs, from their two run records alone, with the
thresholds that flag a change and the export-freshness warning.

``python -m lib.compare OLD NEW`` (``make compare``): OLD and NEW are record files,
run folders (``output/runs/<id>``) or output folders; with neither, the two newest runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path

from lib.suite.input_profile import used_formats
from lib.suite.run_record import RUNS, load_record

# Flag thresholds (the one place they are set)
REJECT_RATE_UP_POINTS = 2.0  # a dataset's reject rate up by more than this many % points
SEASON_NET_SALES_PCT = 10.0  # a season's net sales moved by more than this % either way
STALE_EXPORT_DAYS = 7  # newest order more than this many days before as_of_date: a warning
SUMMARY_PER_KIND = 3  # flagged changes of one kind named in the run's summary line


class Change(StrEnum):
    ROWS = "rows"
    REJECTS = "rejects"
    REJECT_RATE = "reject rate"
    SEASON_NET_SALES = "net sales"
    PURCHASER_STATUS = "purchaser status"
    EVENT_APPEARED = "event appeared"
    EVENT_DISAPPEARED = "event disappeared"
    INPUT_HEADER = "input header"
    INPUT_FORMAT = "input format"


def _item(kind: Change, key: str, old, new, flagged: bool = False, note: str = "",
          text: str = "") -> dict:
    shown = lambda v: "-" if v is None else str(v)  # noqa: E731
    text = text or f"{kind} {key}: {shown(old)} -> {shown(new)}" + (f" ({note})" if note else "")
    return {"kind": str(kind), "key": key, "old": None if old is None else str(old),
            "new": None if new is None else str(new), "change": note, "flagged": flagged,
            "text": text}


def _pairs(old: dict, new: dict):
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            yield key, old.get(key), new.get(key)


def _rows(record: dict) -> dict:
    return {o["path"]: o.get("rows") for nb in record.get("notebooks", [])
            for o in nb.get("outputs", []) if o.get("kind") == "csv"}


def _records(old: dict, new: dict) -> list[dict]:
    items = []
    before, after = old.get("records", {}), new.get("records", {})
    for dataset in sorted(set(before) | set(after)):
        a, b = before.get(dataset, {}), after.get(dataset, {})
        for reason, x, y in _pairs(a.get("rejected_by_reason", {}), b.get("rejected_by_reason", {})):
            items.append(_item(Change.REJECTS, f"{dataset} {reason}", x or 0, y or 0))
        x, y = a.get("reject_rate_pct"), b.get("reject_rate_pct")
        if x != y and x is not None and y is not None:
            up = y - x
            items.append(_item(Change.REJECT_RATE, dataset, f"{x:.2f}%", f"{y:.2f}%",
                               up > REJECT_RATE_UP_POINTS, f"{up:+.2f} points"))
    return items


def _money(value) -> Decimal | None:
    try:
        return Decimal(value) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _seasons(old: dict, new: dict) -> list[dict]:
    items = []
    for season, x, y in _pairs(old, new):
        a, b = _money(x), _money(y)
        if a is not None and b is not None and a != 0:
            pct = 100 * (b - a) / a
            items.append(_item(Change.SEASON_NET_SALES, season, x, y,
                               abs(pct) > SEASON_NET_SALES_PCT, f"{pct:+.1f}%"))
        else:  # a season appeared, disappeared, or grew from 0.00
            items.append(_item(Change.SEASON_NET_SALES, season, x, y, bool(a) or bool(b)))
    return items


def _events(old: dict, new: dict) -> list[dict]:
    a, b = old.get("items", {}), new.get("items", {})
    return ([_item(Change.EVENT_DISAPPEARED, a[key], key, None, True,
                   text=f"{Change.EVENT_DISAPPEARED}: {a[key]}, {key}")
             for key in sorted(set(a) - set(b))]
            + [_item(Change.EVENT_APPEARED, b[key], None, key,
                     text=f"{Change.EVENT_APPEARED}: {b[key]}, {key}")
               for key in sorted(set(b) - set(a))])


def _inputs(old: dict, new: dict) -> list[dict]:
    items = []
    for name in sorted(set(old) & set(new)):
        a, b = old[name], new[name]
        if a.get("header") != b.get("header"):
            items.append(_item(Change.INPUT_HEADER, name, "|".join(a.get("header") or []),
                               "|".join(b.get("header") or []), True))
        formats_a, formats_b = a.get("formats", {}), b.get("formats", {})
        for column in sorted(set(formats_a) & set(formats_b)):
            x, y = used_formats(formats_a[column]), used_formats(formats_b[column])
            if x != y:
                items.append(_item(Change.INPUT_FORMAT, f"{name}.{column}", ", ".join(x),
                                   ", ".join(y), True))
    return items


def compare(old: dict, new: dict) -> dict:
    """Every difference, each flagged or not, and the texts of the flagged ones."""
    sums_a, sums_b = old.get("summaries", {}), new.get("summaries", {})
    items = [
        *_inputs(old.get("inputs", {}), new.get("inputs", {})),
        *_records(old, new),
        *[_item(Change.ROWS, path, x, y) for path, x, y in _pairs(_rows(old), _rows(new))],
        *_seasons(sums_a.get("net_sales_by_season", {}), sums_b.get("net_sales_by_season", {})),
        *[_item(Change.PURCHASER_STATUS, status, x or 0, y or 0) for status, x, y in
          _pairs(sums_a.get("purchaser_status", {}), sums_b.get("purchaser_status", {}))],
        *_events(sums_a.get("events", {}), sums_b.get("events", {})),
    ]
    return {"compared_to": old.get("run_id"), "compared_to_started": old.get("started"),
            "flagged": [i["text"] for i in items if i["flagged"]], "items": items}


def stale_export(record: dict) -> str | None:
    """A warning when the newest order is more than :data:`STALE_EXPORT_DAYS`
    days before as_of_date (the commonest silent error of a weekly job)."""
    newest = record.get("summaries", {}).get("newest_order")
    as_of = record.get("parameters", {}).get("as_of_date")
    if not newest or not as_of:
        return None
    age = (dt.date.fromisoformat(as_of) - dt.date.fromisoformat(newest[:10])).days
    if age <= STALE_EXPORT_DAYS:
        return None
    return (f"the export looks stale: its newest order is of {newest[:10]}, {age} days before "
            f"as_of_date {as_of} (more than {STALE_EXPORT_DAYS})")


def summary_line(changes: dict | None) -> str:
    if changes is None:
        return "Changes: none to compare with (first run of this output folder)"
    since = f"since run {changes['compared_to']}"
    if not changes["items"]:
        return f"Changes {since}: no changes"
    flagged = [item for item in changes["items"] if item["flagged"]]
    head = f"Changes {since}: {len(changes['items'])}, {len(flagged)} flagged"
    if not flagged:
        return head
    shown = []  # a whole new export can flag thousands of events: a few of each kind
    for kind in dict.fromkeys(item["kind"] for item in flagged):
        texts = [item["text"] for item in flagged if item["kind"] == kind]
        shown += texts[:SUMMARY_PER_KIND]
        if len(texts) > SUMMARY_PER_KIND:
            shown.append(f"{len(texts) - SUMMARY_PER_KIND} more of '{kind}' (the report and "
                         "make compare list all)")
    return head + ": " + "; ".join(shown)


def changes_table(changes: dict) -> str:
    rows = [("", "what", "of", "before", "now", "change")] + [
        ("!" if i["flagged"] else "", i["kind"], i["key"], i["old"] or "-", i["new"] or "-",
         i["change"]) for i in changes["items"]]
    widths = [max(len(r[c]) for r in rows) for c in range(6)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def _latest_two(output_dir: Path) -> list[Path]:
    runs = sorted(p for p in (output_dir / RUNS).glob("*") if (p / "run_results.json").is_file())
    if len(runs) < 2:
        raise SystemExit(f"error: fewer than two runs recorded in {output_dir / RUNS}")
    return runs[-2:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.compare",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("old", nargs="?", help="record, run folder or output folder")
    parser.add_argument("new", nargs="?", help="record, run folder or output folder")
    parser.add_argument("--output-dir", default="output")
    parser.add_argument("--fail-on-drift", action="store_true", help="exit 3 if a change is flagged")
    args = parser.parse_args(argv)
    paths = [args.old, args.new] if args.old and args.new else _latest_two(Path(args.output_dir))
    try:
        old, new = (load_record(p) for p in paths)
    except (OSError, ValueError) as error:
        print(f"error: cannot read a run record: {error}", file=sys.stderr)
        return 2
    changes = compare(old, new)
    print(summary_line(changes))
    if changes["items"]:
        print(changes_table(changes))
    return 3 if args.fail_on_drift and changes["flagged"] else 0
