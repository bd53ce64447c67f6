"""Column helpers: date formats, ids, numbers, titles, seasons, CSV safety."""

from __future__ import annotations

import pytest
from helpers import d
from pyspark.sql import functions as F

from lib import columns as C


def _apply(spark, helper, values, type_="string"):
    """``helper`` applied to each of ``values``, in one query, in order."""
    df = spark.createDataFrame(list(enumerate(values)), f"i int, v {type_}")
    return [row[1] for row in df.select("i", helper(F.col("v"))).orderBy("i").collect()]


def _cases(spark, helper, cases):
    """(input, output) for every case, computed in one query: many small
    queries cost far more than the rows do."""
    values = [text for text, _ in cases]
    return list(zip(values, _apply(spark, helper, values), strict=True))


EVENT_DATES = [
        ("12-Aug-2023", d("2023-08-12")),
        ("12-aug-2023", d("2023-08-12")),
        ("12-AUG-2023", d("2023-08-12")),
        ("Aug-12-2023", d("2023-08-12")),
        ("aUg-12-2023", d("2023-08-12")),
        ("2023-08-12", d("2023-08-12")),
        ("12/08/2023", d("2023-08-12")),  # day first
        ("29-Feb-2024", d("2024-02-29")),  # leap day
        ("31-Feb-2023", None),  # impossible
        ("29/02/2023", None),  # not a leap year
        ("2023-02-30", None),
        ("2023-13-01", None),
        ("1-Aug-2023", None),  # dd is two digits
        ("12-Aug-23", None),
        ("2023/08/12", None),  # not one of the four formats
        ("12-Agu-2023", None),
        ("31-Apr-2023", None),
        ("00/08/2023", None),
        ("31-Dec-9999", d("9999-12-31")),
        *[(f"01-{name}-2023", d(f"2023-{month:02d}-01")) for month, name in enumerate(
            ("jan", "FEB", "Mar", "aPr", "MAY", "Jun", "jUL", "aug", "SEP", "Oct", "nOV", "DEC"),
            start=1)],
        ("01-Sept-2023", None),
        ("TBC", None),
        ("", None),
        (None, None),
]


def test_parse_event_date(spark):
    assert _cases(spark, C.parse_event_date, EVENT_DATES) == EVENT_DATES


def test_parse_timestamp(spark):
    values = ["2023-08-01 10:00:00", "2023-08-01 23:59:59", "2023-13-01 10:00:00",
              "2023-08-01 10:00", "2023-08-01T10:00:00", "2023-02-29 10:00:00", "yesterday"]
    got = [None if v is None else str(v) for v in _apply(spark, C.parse_timestamp, values)]
    assert got == ["2023-08-01 10:00:00", "2023-08-01 23:59:59", None, None, None, None, None]


def test_dates_and_times_parse_as_spark_parses_their_patterns(spark):
    """The helpers rearrange a date of a known shape as yyyy-MM-dd and cast it
    (and cast a timestamp) rather than run java.time's formatter; they must
    give exactly what Spark's own pattern parser gives, over a grid of real
    and impossible days, months (names in any case, and not months), years
    (0000, leap and not) and times."""
    import itertools

    years, days = ("0000", "0001", "1900", "2000", "2023", "2024", "9999"), \
        [f"{day:02d}" for day in (0, 1, 28, 29, 30, 31, 32)]
    months = [f"{month:02d}" for month in (0, 1, 2, 4, 12, 13)]
    names = ("Jan", "feb", "APR", "dEc", "Sep", "Xyz", "Mai")
    dates = {value for y, day in itertools.product(years, days) for value in (
        *[f"{y}-{m}-{day}" for m in months], *[f"{day}/{m}/{y}" for m in months],
        *[f"{day}-{n}-{y}" for n in names], *[f"{n}-{day}-{y}" for n in names])}
    times = {f"{y}-{m}-{day} {hms}" for y, m, day, hms in itertools.product(
        years, ("01", "02", "13"), ("00", "29", "31"),
        ("00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60"))}
    by_pattern = None
    for shape, pattern in C.EVENT_DATE_FORMATS:
        by_pattern = (F if by_pattern is None else by_pattern).when(
            F.col("v").rlike(shape), F.try_to_date(F.col("v"), pattern))
    expected_date = F.when(F.year(by_pattern) >= 1, by_pattern)
    expected_time = F.when(F.col("v").rlike(C.TIMESTAMP_RE),
                           F.try_to_timestamp(F.col("v"), F.lit(C.TIMESTAMP_FORMAT)))
    for values, helper, expected in ((dates, C.parse_event_date, expected_date),
                                     (times, C.parse_timestamp, expected_time)):
        df = spark.createDataFrame([(v,) for v in sorted(values)], "v string")
        got = df.select(helper(F.col("v")).eqNullSafe(expected).alias("same"),
                        expected.isNotNull().alias("valid")).groupBy("same", "valid").count()
        counts = {(row["same"], row["valid"]): row["count"] for row in got.collect()}
        assert not any(same is False for same, _ in counts), counts
        assert counts[(True, True)] > 30 and counts[(True, False)] > 30  # real and impossible


def test_parse_positive_id(spark):
    values = ["17", "+17", "017", "0", "-3", "12.5", "abc", "", "99999999999999999999"]
    assert _apply(spark, C.parse_positive_id, values) == [17, 17, 17, None, None, None, None, None, None]


def test_parse_quantity(spark):
    values = ["1", "+4", "20", "0", "-2", "1.5", "two", "",
              "2147483647", "2147483648", "9" * 40]  # absurd: too large for the column's int
    assert _apply(spark, C.parse_quantity, values) == [1, 4, 20, None, None, None, None, None,
                                                       2147483647, None, None]


def test_parse_money(spark):
    from decimal import Decimal

    values = ["12.50", "12", "12.", ".5", "0", "-0.00", "1.005", "-10.00", "abc", "1e3", "",
              "9999999999999999.99", "10000000000000000", "9" * 400]  # absurd: past decimal(18,2)
    expected = [Decimal("12.50"), Decimal("12.00"), Decimal("12.00"), Decimal("0.50"),
                Decimal("0.00"), Decimal("0.00"), Decimal("1.01"), None, None, None, None,
                Decimal("9999999999999999.99"), None, None]
    assert _apply(spark, C.parse_money, values) == expected


TITLES = [
        (" MRS. ", "Mrs"),
        ("dr", "Dr"),
        ("Dr..", "Dr."),
        ("mR", "Mr"),
        ("the rev", "The Rev"),
        (".", "Unknown"),
        ("   ", "Unknown"),
        ("", "Unknown"),
        (None, "Unknown"),
]


def test_normalise_title(spark):
    assert _cases(spark, C.normalise_title, TITLES) == TITLES


def test_normalise_title_is_idempotent_except_for_a_kept_dot(spark):
    # The contract (docs/contract.md §2.5) drops only ONE trailing dot ("Dr.." ->
    # "Dr."), so a title that still ends in "." loses it on a second pass; every
    # other title is a fixed point.
    once = _apply(spark, C.normalise_title, [" MRS. ", "dr", "x y", "Unknown", "Dr.."])
    assert _apply(spark, C.normalise_title, once) == ["Mrs", "Dr", "X Y", "Unknown", "Dr"]


@pytest.mark.parametrize(
    ("date", "start_month", "label"),
    [
        ("2024-07-31", 8, "2023/24"),
        ("2024-08-01", 8, "2024/25"),
        ("1999-08-01", 8, "1999/00"),
        ("2023-12-31", 1, "2023"),
        ("2024-01-01", 1, "2024"),
        ("2024-02-29", 3, "2023/24"),
    ],
)
def test_season_label(spark, date, start_month, label):
    df = spark.createDataFrame([(d(date),)], "v date")
    assert df.select(C.season_label(F.col("v"), start_month)).first()[0] == label


FORMULAS = [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+44 7700 900123", "+44 7700 900123"),  # a phone stays
        ("+cmd", "'+cmd"),
        ("-Smith", "'-Smith"),
        ("@home", "'@home"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-12.50", "-12.50"),  # a plain number stays
        ("+3", "+3"),
        ("-1.", "'-1."),
        ("Smith", "Smith"),
        (" =x", " =x"),
        ("", ""),
        (None, None),
]


def test_escape_formula(spark):
    assert _cases(spark, C.escape_formula, FORMULAS) == FORMULAS


def test_event_id_is_stable_and_distinguishes_dates(spark):
    df = spark.createDataFrame(
        [("A v B", d("2023-08-12")), ("A v B", d("2023-08-12")), ("A v B", d("2024-08-12"))],
        "n string, e date",
    )
    ids = [r[0] for r in df.select(C.event_id(F.col("n"), F.col("e"))).collect()]
    assert ids[0] == ids[1] != ids[2]
    # A literal, so any change of the derivation (which would break joins
    # against earlier runs' tables) shows up here.
    assert ids[0] == df.sparkSession.range(1).select(
        F.concat(F.lit("EV-"), F.substring(F.sha2(F.lit("A v B|2023-08-12"), 256), 1, 12))
    ).first()[0]


def test_year_zero_is_not_a_date(spark):
    assert _apply(spark, C.parse_event_date, ["0000-01-01", "01/01/0000", "0001-01-01"]) == [
        None, None, d("0001-01-01")
    ]


def _orders(df, key, *columns):
    """Row numbers ``n`` as sorted by ``columns``, and as sorted by ``key`` then ``columns``."""
    return ([row.n for row in df.orderBy(*columns).select("n").collect()],
            [row.n for row in df.orderBy(key, *columns).select("n").collect()])


def test_customer_time_sort_key_sorts_as_the_customer_then_the_time(spark):
    """Sorted by the key and then by the columns, rows come out exactly as
    sorted by the columns alone: the last id that fits the key and the first
    that does not, the largest bigint, the extremes of four-digit years and
    times one microsecond apart (a tie on the key)."""
    last = (1 << 24) - 1
    rows = [
        (last + 1, "0000-01-01 00:00:00"), (last, "9999-12-31 23:59:59"),
        (last, "0000-01-01 00:00:00"), ((1 << 63) - 1, "2024-01-01 00:00:00"),
        (last + 1, "2024-01-01 00:00:00"), (1, "9999-12-31 23:59:59"), (1, "0000-01-01 00:00:00"),
        (2, "1969-12-31 23:59:59"), (2, "1970-01-01 00:00:00"),
        (2, "2024-03-01 12:00:00.000001"), (2, "2024-03-01 12:00:00"), (3, None),
    ]
    df = spark.createDataFrame(list(enumerate(rows)), "n int, v struct<id bigint, at string>").select(
        "n", F.col("v.id").alias("id"), F.to_timestamp("v.at").alias("at"))
    by_columns, by_key = _orders(df, C.customer_time_sort_key(F.col("id"), F.col("at")), "id", "at")
    assert by_key == by_columns
    keys = df.where("at IS NOT NULL").select(
        C.customer_time_sort_key(F.col("id"), F.col("at")).alias("k"))
    assert keys.where("k < 0 OR k IS NULL").count() == 0  # no overflow


def test_date_time_sort_key_sorts_as_the_date_then_the_time(spark):
    """Sorted by the key and then by the columns, rows come out exactly as
    sorted by the columns alone: the extremes of four-digit years, a day's
    first and last second, a null time (first within its date), a null date
    (first of all) and times one microsecond apart (a tie on the key)."""
    rows = [
        ("9999-12-31", "9999-12-31 23:59:59"), ("9999-12-31", "0000-01-01 00:00:00"),
        ("0001-01-01", "9999-12-31 23:59:59"), ("0001-01-01", "0000-01-01 00:00:00"),
        ("2024-02-29", "2024-02-29 23:59:59"), ("2024-02-29", "2024-02-29 00:00:00"),
        ("2024-03-01", "1969-12-31 23:59:59"), ("2024-03-01", "1970-01-01 00:00:00"),
        ("2024-03-01", None), (None, "2024-03-01 12:00:00"), (None, None),
        ("2024-03-01", "2024-03-01 12:00:00.000001"), ("2024-03-01", "2024-03-01 12:00:00"),
    ]
    df = spark.createDataFrame(list(enumerate(rows)), "n int, v struct<day string, at string>").select(
        "n", F.to_date("v.day").alias("day"), F.to_timestamp("v.at").alias("at"))
    by_columns, by_key = _orders(df, C.date_time_sort_key(F.col("day"), F.col("at")), "day", "at")
    assert by_key == by_columns
    assert by_key[:2] == [10, 9]  # a null date first, its null time before its time
    keys = df.select("day", C.date_time_sort_key(F.col("day"), F.col("at")).alias("k"))
    assert keys.where("k < 0 OR k IS NULL AND day IS NOT NULL").count() == 0  # no overflow
