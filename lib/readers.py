"""Read the raw inputs as text, with explicit schemas, so nothing is lost before
validation. File-level problems (missing, empty, wrong header, not UTF-8, not
JSON) raise :class:`InputError` naming the file, the line and what to do; the
checks themselves need no Spark and live in :mod:`lib.input_checks`.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.errors import InputError
from lib.input_checks import (  # noqa: F401 - the checks are re-exported from here too
    CUSTOMER_CHECKS,
    TICKET_CHECKS,
    TICKET_COLUMNS,
    check_input_files,
    check_once,
    check_tickets_header,
    check_utf8,
    expected_content,
    first_char,
    require_file,
)

CUSTOMER_FIELDS = ("CustomerIdentity", "Customer Title", "First Name", "Last Name", "Email")
CUSTOMER_SCHEMA = (
    "CustomerIdentity string, `Customer Title` string, `First Name` string, "
    "`Last Name` string, Email string, "
    "contact_details struct<phone: string, postcode: string>, _corrupt_record string"
)


def read_ticket_lines(spark: SparkSession, path: Path) -> DataFrame:
    """One row per non-blank data line: ``_row_seq`` (increasing in file order)
    and ``raw_line``, the line as read without its line end."""
    check_once(path, TICKET_CHECKS)
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


def read_raw_customers(spark: SparkSession, path: Path) -> DataFrame:
    """One row per non-blank JSON Lines record (or array element): ``_row_seq``,
    ``raw_record`` exactly as read and the parsed fields, all as text."""
    check_once(path, CUSTOMER_CHECKS)
    first = first_char(path)
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
            f"{path}, line 1: not JSON; expected {expected_content(path)} "
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
