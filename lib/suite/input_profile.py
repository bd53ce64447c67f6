"""What an input file looks like, for the run record: its fingerprint, header and
column formats, so a later run can tell when the export changed shape (sampling:
docs/design.md, "The run record and comparing runs").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

SAMPLE_LINES = 100_000
USED_SHARE_PCT = 1.0
CHUNK = 1 << 20
_BOM = "\ufeff"
OTHER = "other"


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, read in chunks (outputs can be gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_fingerprint(path: Path, previous: dict | None = None,
                     version: list[int] | None = None) -> dict:
    """Path, size, modification time and SHA-256. The hash is taken from
    ``previous`` (the caller's earlier record of the same file) when the file
    is unchanged, so it is never hashed twice: by ``version`` when given (an
    input's :func:`lib.staged.file_version`, which sees an edit with size and
    time put back), else by size and time (as a manifest tells a hand edit)."""
    info = path.stat()
    entry = {"path": str(path), "bytes": info.st_size, "mtime_ns": info.st_mtime_ns}
    if version is not None:
        entry["version"] = version
    keys = ("version",) if version is not None else ("bytes", "mtime_ns")
    same = previous and all(previous.get(k) == entry[k] for k in keys) \
        and previous.get("sha256")
    entry["sha256"] = previous["sha256"] if same else sha256_of(path)
    return entry


def _ticket_formats() -> dict[str, list[tuple[re.Pattern, str]]]:
    """Named formats per tickets.csv column (docs/contract.md §1.1, §2.2)."""
    from lib.columns import EVENT_DATE_FORMATS  # Java regexes: \z is Python's \Z

    return {
        "customer_id": [(re.compile(r"^[+-]?[0-9]+\Z"), "integer")],
        "event_date": [(re.compile(shape.replace(r"\z", r"\Z")), name)
                       for shape, name in EVENT_DATE_FORMATS],
        "purchase_ts": [(re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\Z"),
                         "yyyy-MM-dd HH:mm:ss")],
        "quantity": [(re.compile(r"^[+-]?[0-9]+\Z"), "integer")],
        "net_sales": [(re.compile(r"^[+-]?[0-9]+\.[0-9]{2}\Z"), "decimal, 2 places"),
                      (re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\Z"), "decimal, other places")],
    }


def _format_of(value: str, formats: list[tuple[re.Pattern, str]]) -> str:
    value = value.strip()
    return next((name for pattern, name in formats if pattern.match(value)), OTHER)


def _shares(counts: dict[str, dict[str, int]], total: int) -> dict[str, dict[str, float]]:
    return {column: {name: round(100 * n / total, 1) for name, n in sorted(found.items())}
            for column, found in counts.items()} if total else {}


def used_formats(shares: dict[str, float]) -> list[str]:
    return sorted(name for name, share in shares.items() if share >= USED_SHARE_PCT)


def tickets_profile(path: Path) -> dict:
    """Header, and per column the share (%) of sampled values in each format."""
    formats = _ticket_formats()
    counts: dict[str, dict[str, int]] = {column: {} for column in formats}
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        header = handle.readline().removeprefix(_BOM).rstrip("\r\n").split("|")
        index = {column: header.index(column) for column in formats if column in header}
        sampled = 0
        for line, _ in zip(handle, range(SAMPLE_LINES), strict=False):
            fields = line.rstrip("\r\n").split("|")
            if not line.strip() or len(fields) != len(header):
                continue
            sampled += 1
            for column, at in index.items():
                name = _format_of(fields[at], formats[column])
                counts[column][name] = counts[column].get(name, 0) + 1
    return {"header": header, "sampled_rows": sampled,
            "formats": _shares({c: n for c, n in counts.items() if c in index}, sampled)}


def customers_profile(path: Path) -> dict:
    """The keys customer records carry, those in at least
    :data:`USED_SHARE_PCT` of the sampled records (JSON Lines; a JSON array
    is not sampled: header empty)."""
    keys: Counter[str] = Counter()
    sampled = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line, _ in zip(handle, range(SAMPLE_LINES), strict=False):
            text = line.strip().removeprefix(_BOM)
            if not text.startswith("{"):
                continue
            try:
                record = json.loads(text)
            except ValueError:
                continue
            if isinstance(record, dict):
                sampled += 1
                keys.update(record.keys())
    used = sorted(key for key, n in keys.items() if 100 * n >= USED_SHARE_PCT * sampled)
    return {"header": used, "sampled_rows": sampled, "formats": {}}
