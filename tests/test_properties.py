"""Property tests: date parsing round-trips and rejects what is not a date."""

from __future__ import annotations

import calendar
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from lib import columns as C

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
FORMATS = {
    "dd-MMM-yyyy": lambda d, case: f"{d.day:02d}-{case(MONTHS[d.month - 1])}-{d.year:04d}",
    "MMM-dd-yyyy": lambda d, case: f"{case(MONTHS[d.month - 1])}-{d.day:02d}-{d.year:04d}",
    "yyyy-MM-dd": lambda d, case: d.isoformat(),
    "dd/MM/yyyy": lambda d, case: f"{d.day:02d}/{d.month:02d}/{d.year:04d}",
}
CASES = [str, str.lower, str.upper, lambda m: m[0].lower() + m[1:].upper()]
PROPERTY = settings(max_examples=10, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _parse_all(spark, texts):
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "i int, t string")
    return [r[0] for r in df.orderBy("i").select(C.parse_event_date(F.col("t"))).collect()]


written_dates = st.tuples(
    st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31)),
    st.sampled_from(sorted(FORMATS)),
    st.sampled_from(range(len(CASES))),
)


@PROPERTY
@given(st.lists(written_dates, min_size=1, max_size=40))
def test_any_valid_date_in_any_format_round_trips(spark, samples):
    texts = [FORMATS[fmt](date, CASES[case]) for date, fmt, case in samples]
    assert _parse_all(spark, texts) == [date for date, _, _ in samples]


# Built, not filtered: a day past the month's last (two digits, so up to 99).
impossible = st.tuples(st.integers(1900, 2100), st.integers(1, 12)).flatmap(
    lambda ym: st.tuples(
        st.just(ym[0]), st.just(ym[1]),
        st.integers(calendar.monthrange(*ym)[1] + 1, 99),
        st.sampled_from(sorted(FORMATS)),
    )
)


def _write(year, month, day, fmt):
    mon = MONTHS[month - 1]
    return {
        "dd-MMM-yyyy": f"{day:02d}-{mon}-{year}",
        "MMM-dd-yyyy": f"{mon}-{day:02d}-{year}",
        "yyyy-MM-dd": f"{year}-{month:02d}-{day:02d}",
        "dd/MM/yyyy": f"{day:02d}/{month:02d}/{year}",
    }[fmt]


@PROPERTY
@given(st.lists(impossible, min_size=1, max_size=20),
       st.lists(st.text(max_size=12), max_size=20))
def test_impossible_dates_and_junk_are_rejected(spark, bad_dates, junk):
    texts = [_write(*t) for t in bad_dates] + [j for j in junk if not _looks_valid(j)]
    assert _parse_all(spark, texts) == [None] * len(texts)


def _looks_valid(text):
    for fmt, writer in FORMATS.items():
        for parse in (_try_parse(text, fmt),):
            if parse is not None and writer(parse, lambda m: m).lower() == text.lower():
                return True
    return False


def _try_parse(text, fmt):
    python_fmt = {"dd-MMM-yyyy": "%d-%b-%Y", "MMM-dd-yyyy": "%b-%d-%Y",
                  "yyyy-MM-dd": "%Y-%m-%d", "dd/MM/yyyy": "%d/%m/%Y"}[fmt]
    try:
        return dt.datetime.strptime(text, python_fmt).date()
    except ValueError:
        return None
