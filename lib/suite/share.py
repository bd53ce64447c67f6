"""The shareable report: the run's report with personal data taken out
(docs/contract.md §5.7), as ``<output>/report-share/`` and ``report-share.zip``;
how columns are treated: docs/design.md, "The report and its shareable copy".
"""

from __future__ import annotations

import csv
import enum
import hashlib
import hmac
import os
import secrets
import shutil
import sys
from pathlib import Path

from lib.errors import TicketInsightsError
from lib.fileio import replacing

DEFAULT_KEY_FILE = Path("~/.config/ticket-insights/share.key")
SHARE_DIR = "report-share"
TOKEN_PREFIX = "c_"
TOKEN_HEX = 16  # 64 bits: no two of ten million customers share a token in practice
MIN_KEY_BYTES = 16


class Treatment(enum.Enum):
    DROP = "dropped"
    TOKEN = "replaced by a keyed token"


# docs/contract.md §5.7; tests/test_share.py checks the two agree
PERSONAL = {
    "customer_id": Treatment.TOKEN,
    "first_name": Treatment.DROP,
    "last_name": Treatment.DROP,
    "email": Treatment.DROP,
    "phone": Treatment.DROP,
    "postcode": Treatment.DROP,
    "raw_record": Treatment.DROP,  # a rejected customer record, as read: holds all of the above
}
NOT_PERSONAL = frozenset({
    "event_id", "event_name", "event_date", "event_date_display", "venue", "season",
    "order_count", "tickets_sold", "net_sales", "customer_title", "customer_count",
    "event_count", "events", "MultiEvent", "order_id", "purchase_ts", "quantity",
    "previous_quantity", "quantity_delta", "previous_season_net_sales",
    "net_sales_change_pct", "latest_event_name", "latest_event_date", "latest_event_season",
    "current_season", "purchaser_status", "reject_reason", "dataset", "outcome", "rows",
})


class ShareKeyError(TicketInsightsError):
    """The share key file cannot be used."""


def add_share_options(parser) -> None:
    """``--share`` and ``--share-key-file``, for the runner and ``lib.report``."""
    parser.add_argument("--share", action="store_true",
                        help=f"also write {SHARE_DIR}/ and {SHARE_DIR}.zip: the report without "
                             "personal data (docs/contract.md §5.7)")
    parser.add_argument("--share-key-file", default=str(DEFAULT_KEY_FILE),
                        type=lambda path: str(Path(path).expanduser().absolute()),  # the
                        # caller's working directory: the runner changes it before the report
                        help="the key of the customer tokens, outside the output folder; "
                             "created when missing (default: %(default)s)")


def share_key_file(args) -> str | None:
    """The key file to share with, or None when ``--share`` was not given."""
    return args.share_key_file if args.share else None


def load_key(path: str | os.PathLike, output_dir: Path) -> bytes:
    """The key in ``path`` (hex text); a new random one is written there,
    readable by its owner only, when the file does not exist. Refuses a file
    inside the output folder (it would travel with the report) and one that
    others can read."""
    path = Path(path).expanduser().resolve()
    if path.is_relative_to(output_dir.resolve()):
        raise ShareKeyError(f"share key {path} is inside the output folder {output_dir}: "
                            "keep it outside, where the report cannot take it along")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        print(f"share: created a new key in {path} (keep it: the same key gives the same "
              "tokens next time)", file=sys.stderr)
    if path.stat().st_mode & 0o077:
        raise ShareKeyError(f"share key {path} can be read by others: chmod 600 {path}")
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ShareKeyError(f"share key {path} is not hex text (e.g. `openssl rand -hex 32`)") from None
    if len(key) < MIN_KEY_BYTES:
        raise ShareKeyError(f"share key {path} is shorter than {MIN_KEY_BYTES} bytes")
    return key


class Tokens:
    """Customer id -> token under one key (memoised: a customer recurs on
    every one of their orders)."""

    def __init__(self, key: bytes):
        self._key = key
        self._seen: dict[str, str] = {}

    def __call__(self, customer_id: str) -> str:
        if customer_id == "":
            return ""
        token = self._seen.get(customer_id)
        if token is None:
            digest = hmac.new(self._key, f"customer_id:{customer_id}".encode(), hashlib.sha256)
            token = self._seen[customer_id] = TOKEN_PREFIX + digest.hexdigest()[:TOKEN_HEX]
        return token


def in_shared_copy(name: str) -> str:
    """What the shareable report does with a column, in words."""
    if name in PERSONAL:
        return PERSONAL[name].value
    return "kept" if name in NOT_PERSONAL else "dropped (not classified in the contract)"


def shared_columns(header: list[str]) -> list[tuple[int, str, Treatment | None]]:
    """(index, name, treatment) of each column kept: None copies it."""
    kept = []
    for index, name in enumerate(header):
        treatment = PERSONAL.get(name)
        if treatment is Treatment.TOKEN:
            kept.append((index, name, treatment))
        elif treatment is None and name in NOT_PERSONAL:
            kept.append((index, name, None))
    return kept


def pseudonymise_csv(source: Path, target: Path, tokens: Tokens) -> list[str]:
    """Copy ``source`` to ``target`` (atomically) without its personal
    columns, streaming row by row (08 can hold ten million rows); returns the
    names of the columns left out."""
    csv.field_size_limit(sys.maxsize)
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open(newline="", encoding="utf-8") as inp:
        header = next(csv.reader(inp), [])
    if [(name, None) for name in header] == [(n, t) for _, n, t in shared_columns(header)]:
        with replacing(target) as scratch:  # nothing personal: the same bytes
            shutil.copyfile(source, scratch)
        return []
    with source.open(newline="", encoding="utf-8") as inp, replacing(target) as scratch, \
            scratch.open("w", newline="", encoding="utf-8") as out:
        reader = csv.reader(inp)
        header = next(reader, [])
        kept = shared_columns(header)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([name for _, name, _ in kept])
        for row in reader:
            values = [tokens(row[i]) if treatment else row[i] for i, _, treatment in kept]
            if any("\r" in value for value in values):  # csv quotes \r only in a \r\n dialect
                out.write(",".join(_quoted(value) for value in values) + "\n")
            else:
                writer.writerow(values)
    names = {name for _, name, _ in kept}
    return [name for name in header if name not in names]


def _quoted(value: str) -> str:
    """One field as contract §5.1 writes it."""
    if any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def zip_folder(folder: Path, target: Path) -> Path:
    """``folder`` as a zip (its files under ``<folder name>/``), atomically."""
    import zipfile

    with replacing(target) as scratch, zipfile.ZipFile(scratch, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, Path(folder.name) / path.relative_to(folder))
    return target
