"""Read the raw inputs as text, with explicit schemas, so nothing is lost before
validation; file-level problems raise :class:`InputError` (checks in
:mod:`lib.input_checks`). Bytes that are not UTF-8: docs/design.md, "Reading raw bytes".
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.errors import InputError
from lib.input_checks import (
    CUSTOMER_CHECKS,
    TICKET_CHECKS,
    check_once,
    expected_content,
    first_char,
)
from lib.schema import TICKET_COLUMNS

_FFFD = "\ufffd"
CUSTOMER_SCHEMA = (
    "CustomerIdentity string, `Customer Title` string, `First Name` string, "
    "`Last Name` string, Email string, "
    "contact_details struct<phone: string, postcode: string>, _corrupt_record string"
)


def has_invalid_utf8(raw: Column) -> Column:
    """True for raw text holding bytes that are not valid UTF-8."""
    return ~F.is_valid_utf8(raw)


def decoded(raw: Column) -> Column:
    """Raw text as valid UTF-8: each invalid byte sequence becomes U+FFFD."""
    return F.make_valid_utf8(raw)


def _without_line_end(value: Column) -> Column:
    """The line without a trailing carriage return, its bytes otherwise
    untouched (Spark's reader already drops LF and CR LF line ends; this is
    belt and braces)."""
    cut = F.substring(value.cast("binary"), 1, F.octet_length(value) - 1).cast("string")
    return F.when(value.endswith("\r"), cut).otherwise(value)


def _text_lines(spark: SparkSession, path: Path, name: str) -> DataFrame:
    """Every line of a text file: ``_row_seq`` (increasing in file order) and
    the line's raw text without its line end, bytes as in the file."""
    return spark.read.text(str(path)).select(
        F.monotonically_increasing_id().alias("_row_seq"),
        _without_line_end(F.col("value")).alias(name),
    )


def read_ticket_lines(spark: SparkSession, path: Path) -> DataFrame:
    """One row per non-blank data line: ``_row_seq`` (increasing in file order)
    and ``raw_line``, the line as read without its line end (bytes that are
    not UTF-8 still in it: see :func:`has_invalid_utf8`)."""
    check_once(path, TICKET_CHECKS)
    return _text_lines(spark, path, "raw_line").where(
        (F.col("_row_seq") > 0) & (F.trim("raw_line") != "")
    )


def _split_fields(line: Column) -> Column:
    return F.split(line, r"\|", -1)


def _fields_of(fields: Column) -> list[Column]:
    """The eight fields from a line split on '|' (:func:`_split_fields`):
    missing fields are null and extra ones stay joined in net_sales."""
    field_count = F.size(fields)
    tail = F.array_join(F.slice(fields, 8, F.greatest(field_count - 7, F.lit(1))), "|")
    return [
        *[F.get(fields, i).alias(name) for i, name in enumerate(TICKET_COLUMNS[:-1])],
        F.when(field_count >= 8, tail).alias("net_sales"),
    ]


def ticket_fields(line: Column) -> list[Column]:
    """The eight fields of a line as text exactly as read, split on '|' left
    to right; missing fields are null and extra ones stay joined in net_sales."""
    return _fields_of(_split_fields(line))


def split_ticket_lines(lines: DataFrame) -> DataFrame:
    """Lines as read (:func:`read_ticket_lines`) -> ``_row_seq``, the line
    decoded (U+FFFD for bytes that are not UTF-8), ``_malformed`` (wrong
    number of fields, or such bytes) and the eight fields as text.

    The line is split once, after decoding: U+FFFD stands in for bytes that
    are never '|', so the decoded line has the raw line's fields, and a line
    that was not UTF-8 is malformed whatever its fields."""
    return lines.select(
        "_row_seq",
        decoded(F.col("raw_line")).alias("raw_line"),
        has_invalid_utf8(F.col("raw_line")).alias("_invalid_utf8"),
    ).select(
        "_row_seq", "raw_line", "_invalid_utf8", _split_fields(F.col("raw_line")).alias("_fields"),
    ).select(
        "_row_seq",
        "raw_line",
        (F.col("_invalid_utf8") | (F.size("_fields") != len(TICKET_COLUMNS))).alias("_malformed"),
        *_fields_of(F.col("_fields")),
    )


def read_raw_tickets(spark: SparkSession, path: Path) -> DataFrame:
    """Data lines with ``_malformed``, the line decoded and its eight fields."""
    return read_ticket_lines(spark, path).transform(split_ticket_lines)


def read_raw_customers(spark: SparkSession, path: Path) -> DataFrame:
    """One row per non-blank JSON Lines record (or array element): ``_row_seq``,
    ``raw_record`` exactly as read (bytes that are not UTF-8 still in it) and
    the parsed fields, all as text."""
    check_once(path, CUSTOMER_CHECKS)
    first = first_char(path)
    if first == b"[":
        records = _array_records(spark, path)
    elif first == b"{":
        records = _text_lines(spark, path, "raw_record").where(F.trim("raw_record") != "")
    else:
        raise InputError(
            f"{path}, line 1: not JSON; expected {expected_content(path)} "
            f"starting with '{{' or '['"
        )
    return records.select(
        "_row_seq",
        "raw_record",
        F.from_json(
            F.regexp_replace(decoded(F.col("raw_record")), "^\ufeff", ""),
            CUSTOMER_SCHEMA,
            {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt_record"},
        ).alias("parsed"),
    )


def _json_array(text: Column) -> Column:
    """The elements of a JSON array, each as compact JSON text. Parsed as
    strings, an object keeps its text as written but a string element loses
    its quotes; parsed as variants, a string keeps them (a variant object
    would sort its keys, so only strings are taken from there)."""
    text = F.regexp_replace(text, "^\ufeff", "")
    return F.zip_with(
        F.from_json(text, "array<string>"), F.from_json(text, "array<variant>"),
        lambda plain, typed: F.when(F.schema_of_variant(typed) == "STRING", F.to_json(typed))
        .otherwise(plain),
    )


def _array_records(spark: SparkSession, path: Path) -> DataFrame:
    """Elements of a top-level JSON array, each as compact JSON text.

    The JSON parser decodes, so an element's text has lost its invalid bytes.
    In a file that is not valid UTF-8 the array is parsed a second time with
    every real U+FFFD (the bytes EF BF BD, or the escape ``\\ufffd``) first
    replaced by '?', so an element holding U+FFFD there held invalid bytes.
    Such an element is handed on with each U+FFFD in it turned back into an
    invalid byte (0xFF): :func:`has_invalid_utf8` rejects it and
    :func:`decoded` shows U+FFFD again.
    """
    whole = spark.read.text(str(path), wholetext=True).select(
        "value", _json_array(decoded(F.col("value"))).alias("elements")
    )
    shape = whole.select(F.col("elements").isNull().alias("broken"),
                         F.is_valid_utf8("value").alias("valid")).first()
    if shape["broken"]:  # not a JSON array after all
        raise InputError(
            f"{path}: starts with '[' but is not a valid JSON array (truncated?); "
            "fix the file or save it as JSON Lines"
        )
    if shape["valid"]:
        exploded = whole.select(F.posexplode("elements").alias("_row_seq", "raw_record"))
        return exploded.select(F.col("_row_seq").cast("bigint"), "raw_record")
    without_real_fffd = F.regexp_replace(  # the escape, when its backslash is not escaped
        decoded(F.replace(F.col("value"), F.lit(_FFFD), F.lit("?"))),
        r"(?<!\\)((?:\\\\)*)\\u[fF]{3}[dD]", "$1?",
    )
    flags = F.transform(_json_array(without_real_fffd), lambda element: element.contains(_FFFD))
    exploded = whole.select(
        F.posexplode(F.arrays_zip(F.col("elements").alias("text"), flags.alias("bad")))
        .alias("_row_seq", "element")
    )
    text = F.col("element.text")
    invalid_byte = F.unhex(F.lit("FF")).cast("string")
    return exploded.select(
        F.col("_row_seq").cast("bigint"),
        F.when(F.col("element.bad"), F.replace(text, F.lit(_FFFD), invalid_byte))
        .otherwise(text).alias("raw_record"),
    )
