"""Read the raw inputs as text, with explicit schemas, so nothing is lost before
validation. File-level problems (missing, empty, wrong header, not UTF-8, not
JSON) raise :class:`InputError` naming the file, the line and what to do.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.errors import InputError

TICKET_COLUMNS = (
    "order_id", "customer_id", "event_name", "event_date",
    "venue", "purchase_ts", "quantity", "net_sales",
)
CUSTOMER_FIELDS = ("CustomerIdentity", "Customer Title", "First Name", "Last Name", "Email")
CUSTOMER_SCHEMA = (
    "CustomerIdentity string, `Customer Title` string, `First Name` string, "
    "`Last Name` string, Email string, "
    "contact_details struct<phone: string, postcode: string>, _corrupt_record string"
)
_BOM = b"\xef\xbb\xbf"
_GENERATE_HINT = "run 'python3 generate_data.py' (or 'make data') to create sample inputs"
_CHUNK = 64 * 1024 * 1024


def require_file(path: Path) -> None:
    if not path.is_file():
        raise InputError(f"{path}: file not found; put it there or {_GENERATE_HINT}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; expected {_expected(path)}")


def _expected(path: Path) -> str:
    if path.suffix == ".json":
        return "one JSON customer object per line (or a JSON array of them)"
    return "a '|'-delimited header line: " + "|".join(TICKET_COLUMNS)


def check_utf8(path: Path) -> None:
    """Fail on the first byte that is not UTF-8, naming its line."""
    line, carry = 1, b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            block = carry + chunk
            try:
                block.decode("utf-8")
                carry = b""
            except UnicodeDecodeError as err:
                if err.reason == "unexpected end of data" and err.start >= len(block) - 4:
                    carry = block[err.start:]  # a character split across chunks
                    block = block[: err.start]
                else:
                    bad_line = line + block[: err.start].count(b"\n")
                    raise InputError(
                        f"{path}, line {bad_line}: byte 0x{block[err.start]:02x} is not "
                        "UTF-8; re-save the file as UTF-8 and run again"
                    ) from None
            line += block.count(b"\n")
    if carry:
        raise InputError(f"{path}, line {line}: the file ends inside a UTF-8 character")


def check_tickets_header(path: Path) -> None:
    """The header must be exactly the SPEC's columns, '|'-delimited."""
    require_file(path)
    with path.open("rb") as handle:
        header = handle.readline()
        has_rows = any(raw.strip() for raw in _first_lines(handle, 1000))
    text = header.removeprefix(_BOM).decode("utf-8", errors="replace").rstrip("\r\n")
    names = [name.strip() for name in text.split("|")]
    if len(names) == 1 and "," in text:
        raise InputError(
            f"{path}, line 1: the header is comma-separated; the file must use '|' "
            f"between fields: {'|'.join(TICKET_COLUMNS)}"
        )
    if tuple(names) != TICKET_COLUMNS:
        missing = [c for c in TICKET_COLUMNS if c not in names]
        extra = [c for c in names if c not in TICKET_COLUMNS]
        raise InputError(
            f"{path}, line 1: header does not match the expected columns "
            f"{'|'.join(TICKET_COLUMNS)}; missing: {missing or 'none'}; "
            f"unexpected: {extra or 'none'}; fix the header line (order matters)"
        )
    if not has_rows:
        raise InputError(f"{path}: the file has a header but no order rows")


def _first_lines(handle, count: int):
    for _ in range(count):
        line = handle.readline()
        if not line:
            return
        yield line


def read_ticket_lines(spark: SparkSession, path: Path) -> DataFrame:
    """One row per non-blank data line: ``_row_seq`` (increasing in file order)
    and ``raw_line``, the line as read without its line end."""
    check_tickets_header(path)
    check_utf8(path)
    return (
        spark.read.text(str(path))
        .select(
            F.monotonically_increasing_id().alias("_row_seq"),
            F.regexp_replace("value", r"\r\z", "").alias("raw_line"),
        )
        .where((F.col("_row_seq") > 0) & (F.trim("raw_line") != ""))
    )


def ticket_fields(line: Column) -> list[Column]:
    """The eight fields of a line as text exactly as read, split on '|' left
    to right; missing fields are null and extra ones stay joined in net_sales."""
    fields = F.split(line, r"\|", -1)
    field_count = F.size(fields)
    tail = F.array_join(F.slice(fields, 8, F.greatest(field_count - 7, F.lit(1))), "|")
    return [
        *[F.get(fields, i).alias(name) for i, name in enumerate(TICKET_COLUMNS[:-1])],
        F.when(field_count >= 8, tail).alias("net_sales"),
    ]


def is_malformed_line(line: Column) -> Column:
    """Wrong number of fields."""
    return F.size(F.split(line, r"\|", -1)) != len(TICKET_COLUMNS)


def read_raw_tickets(spark: SparkSession, path: Path) -> DataFrame:
    """Data lines with ``_malformed`` and the eight raw fields."""
    return read_ticket_lines(spark, path).select(
        "_row_seq", "raw_line", is_malformed_line(F.col("raw_line")).alias("_malformed"),
        *ticket_fields(F.col("raw_line")),
    )


def _first_char(path: Path) -> bytes:
    with path.open("rb") as handle:
        head = handle.read(4096).removeprefix(_BOM).lstrip()
    return head[:1]


def read_raw_customers(spark: SparkSession, path: Path) -> DataFrame:
    """One row per non-blank JSON Lines record (or array element): ``_row_seq``,
    ``raw_record`` exactly as read and the parsed fields, all as text."""
    require_file(path)
    check_utf8(path)
    first = _first_char(path)
    if first == b"[":
        records = _array_records(spark, path)
    elif first == b"{":
        records = (
            spark.read.text(str(path))
            .select(F.monotonically_increasing_id().alias("_row_seq"),
                    F.regexp_replace("value", r"\r\z", "").alias("raw_record"))
            .where(F.trim("raw_record") != "")
        )
    else:
        raise InputError(
            f"{path}, line 1: not JSON; expected {_expected(path)} "
            f"starting with '{{' or '['"
        )
    return records.select(
        "_row_seq",
        "raw_record",
        F.from_json(
            F.regexp_replace("raw_record", "^\ufeff", ""),
            CUSTOMER_SCHEMA,
            {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt_record"},
        ).alias("parsed"),
    )


def _array_records(spark: SparkSession, path: Path) -> DataFrame:
    """Elements of a top-level JSON array, each as compact JSON text."""
    whole = spark.read.text(str(path), wholetext=True)
    elements = F.from_json(F.regexp_replace("value", "^\ufeff", ""), "array<string>")
    exploded = whole.select(F.posexplode(elements).alias("_row_seq", "raw_record"))
    if exploded.isEmpty() and whole.select(elements.isNull().alias("bad")).first()["bad"]:
        raise InputError(
            f"{path}: starts with '[' but is not a valid JSON array (truncated?); "
            "fix the file or save it as JSON Lines"
        )
    return exploded.select(F.col("_row_seq").cast("bigint"), "raw_record")


def raw_record_counts(spark: SparkSession, tickets: Path, customers: Path) -> dict[str, int]:
    """Records in each input as read (non-blank lines / array elements)."""
    return {
        "customers": read_raw_customers(spark, customers).count(),
        "tickets": read_raw_tickets(spark, tickets).count(),
    }
