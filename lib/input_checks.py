"""File-level checks of the raw inputs that need no Spark, so a bad file stops a
run before any JVM starts; each raises :class:`InputError` naming the file, the
line where known, and what to do.
"""

from __future__ import annotations

import json
from pathlib import Path

from lib.errors import InputError
from lib.schema import TICKET_COLUMNS

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_GENERATE_HINT = "run 'python3 generate_data.py' (or 'make data') to create sample inputs"
_JSON_ARRAY_CHECK_BYTES = 64 * 1024 * 1024


def require_file(path: Path) -> None:
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file; put the file itself there")
    if path.exists() and not path.is_file():  # never opened: reading a FIFO would wait for ever
        raise InputError(f"{path}: is not a regular file (a pipe, socket or device); "
                         "save the data to a file and run again")
    if not path.is_file():
        raise InputError(f"{path}: file not found; put it there or {_GENERATE_HINT}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; expected {expected_content(path)}")


def expected_content(path: Path) -> str:
    if path.suffix == ".json":
        return "one JSON customer object per line (or a JSON array of them)"
    return "a '|'-delimited header line: " + "|".join(TICKET_COLUMNS)


def check_not_utf16(path: Path) -> None:
    """A file that starts with a UTF-16 byte-order mark is not UTF-8 at all."""
    with path.open("rb") as handle:
        start = handle.read(2)
    if start in _UTF16_BOMS:
        raise InputError(
            f"{path}: the file is UTF-16 (it starts with a UTF-16 byte-order mark); "
            "re-save it as UTF-8 and run again"
        )


def check_tickets_header(path: Path) -> None:
    """The header must be exactly the columns of docs/contract.md §1.1, '|'-delimited, and at
    least one non-blank line must follow it."""
    require_file(path)
    with path.open("rb") as handle:
        header = handle.readline()
        has_rows = any(raw.strip() for raw in iter(handle.readline, b""))
    header = header.removeprefix(_BOM)
    try:
        text = header.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{path}, line 1: byte 0x{header[err.start]:02x} is not UTF-8; "
            "re-save the file as UTF-8 and run again"
        ) from None
    names = [name.strip() for name in text.split("|")]
    if len(names) == 1 and "," in text:
        raise InputError(
            f"{path}, line 1: the header is comma-separated; the file must use '|' "
            f"between fields: {'|'.join(TICKET_COLUMNS)}"
        )
    if tuple(names) != TICKET_COLUMNS:
        missing = [c for c in TICKET_COLUMNS if c not in names]
        extra = [_short(c) for c in names if c not in TICKET_COLUMNS]
        extra = extra[:10] + (["..."] if len(extra) > 10 else [])
        raise InputError(
            f"{path}, line 1: header does not match the expected columns "
            f"{'|'.join(TICKET_COLUMNS)}; missing: {missing or 'none'}; "
            f"unexpected: {extra or 'none'}; fix the header line (order matters)"
        )
    if not has_rows:
        raise InputError(f"{path}: the file has a header but no order rows")


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


def check_customers_shape(path: Path) -> None:
    """JSON Lines starts with '{', a JSON array with '[' and ends with ']'
    (a cheap look at the first and last bytes, before any Spark job)."""
    first = first_char(path)
    if first not in (b"{", b"["):
        raise InputError(
            f"{path}, line 1: not JSON; expected {expected_content(path)} "
            f"starting with '{{' or '['"
        )
    if first != b"[":
        return
    if _last_char(path) != b"]":
        raise InputError(
            f"{path}: starts with '[' but is not a valid JSON array (truncated? it does "
            "not end with ']'); fix the file or save it as JSON Lines"
        )
    if path.stat().st_size <= _JSON_ARRAY_CHECK_BYTES:  # larger ones: checked by Spark
        text = path.read_bytes().removeprefix(_BOM).decode("utf-8", errors="replace")
        try:  # bytes that are not UTF-8 reject their element later, not the file
            json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(
                f"{path}, line {err.lineno}, column {err.colno}: starts with '[' but is not "
                f"a valid JSON array ({err.msg}); fix the file or save it as JSON Lines"
            ) from None


_CHECKED: set[tuple] = set()  # (path, size, mtime, checks) that passed in this process


def check_once(path: Path, checks: tuple) -> None:
    """Run ``checks`` on ``path`` unless they passed on this version of it."""
    require_file(path)
    info = path.stat()
    key = (str(path.resolve()), info.st_size, info.st_mtime_ns, checks)
    if key in _CHECKED:
        return
    try:
        for check in checks:
            check(path)
    except OSError as err:  # e.g. no permission to read it
        raise InputError(f"{path}: cannot read the file ({err.strerror}); check that "
                         "it is a readable file") from None
    _CHECKED.add(key)


def check_input_files(tickets: Path, customers: Path) -> None:
    """Every file-level check that needs no Spark: present, not empty, not
    UTF-16, the tickets header, customers that look like JSON. Raises
    :class:`InputError` on the first problem. A file that passed is not read
    again in this process until it changes."""
    check_once(customers, CUSTOMER_CHECKS)
    check_once(tickets, TICKET_CHECKS)


def first_char(path: Path) -> bytes:
    with path.open("rb") as handle:
        head = handle.read(4096).removeprefix(_BOM)
        while head.isspace() and (more := handle.read(64 * 1024)):
            head = more
    return head.lstrip()[:1]


def _last_char(path: Path) -> bytes:
    with path.open("rb") as handle:
        end = handle.seek(0, 2)
        while end > 0:
            start = max(0, end - 64 * 1024)
            handle.seek(start)
            tail = handle.read(end - start).rstrip()
            if tail:
                return tail[-1:]
            end = start
    return b""


TICKET_CHECKS = (check_not_utf16, check_tickets_header)
CUSTOMER_CHECKS = (check_not_utf16, check_customers_shape)
