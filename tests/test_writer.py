"""The CSV writer: one file, RFC 4180, formats of docs/contract.md §5.1, formula safety, atomic."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.fileio import remove_scratch
from lib.writer import read_written, write_csv


def _read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_formats_and_quoting(spark, tmp_path):
    df = spark.createDataFrame(
        [
            ("plain", dt.date(2023, 8, 12), dt.datetime(2023, 8, 1, 9, 5, 7), Decimal("12.5"), True, 3),
            ('has "quotes", comma', None, None, Decimal("0"), False, None),
            ("line\nbreak", None, None, None, None, None),
            ("", None, None, None, None, None),
            ("  spaced  ", None, None, None, None, None),
        ],
        "text string, day date, moment timestamp, money decimal(18,2), flag boolean, n int",
    )
    path, rows = write_csv(df, tmp_path / "out.csv")
    assert rows == 5  # the quoted line break is inside one record
    raw = path.read_text(encoding="utf-8")
    assert raw == (
        "text,day,moment,money,flag,n\n"
        "plain,2023-08-12,2023-08-01 09:05:07,12.50,true,3\n"
        '"has ""quotes"", comma",,,0.00,false,\n'
        '"line\nbreak",,,,,\n'
        ",,,,,\n"
        "  spaced  ,,,,,\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no scratch left


def test_a_written_csv_reads_back_as_the_dataframe_it_was_written_from(spark, tmp_path):
    schema = ("label string, day date, moment timestamp, money decimal(18,2), flag boolean, "
              "n int, delta int")
    rows = [("Previous Season Purchaser", dt.date(2023, 8, 12), dt.datetime(2023, 8, 1, 9, 5, 7),
             Decimal("12.50"), True, 3, -2),
            ("2025/26", None, None, Decimal("0.00"), False, None, None)]
    df = spark.createDataFrame(rows, schema)
    path, _ = write_csv(df, tmp_path / "out.csv")
    back = read_written(spark, path, df.schema)
    assert back.schema == df.schema
    assert sorted(back.collect()) == sorted(df.collect())
    formula = spark.createDataFrame([("=1+1", 1)], "text string, n int")
    path, _ = write_csv(formula, tmp_path / "formula.csv")
    assert [tuple(r) for r in read_written(spark, path, formula.schema).collect()] == [("'=1+1", 1)]


def test_formula_injection_is_neutralised(spark, tmp_path):
    values = ["=1+1", "+cmd", "-Smith", "@SUM(A1)", "\tTab", "\rCR", "-12.50", "+44 7700 900123", "ok"]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    got = [row[0] for row in _read(write_csv(df, tmp_path / "x.csv").path)[1:]]
    assert got == ["'=1+1", "'+cmd", "'-Smith", "'@SUM(A1)", "'\tTab", "'\rCR",
                   "-12.50", "+44 7700 900123", "ok"]


def test_empty_dataframe_gives_header_only(spark, tmp_path):
    df = spark.createDataFrame([], "a string, b int")
    assert write_csv(df, tmp_path / "e.csv") == (tmp_path / "e.csv", 0)
    assert (tmp_path / "e.csv").read_text() == "a,b\n"


def test_rerun_replaces_the_file(spark, tmp_path):
    target = tmp_path / "r.csv"
    write_csv(spark.createDataFrame([("old",)], "v string"), target)
    write_csv(spark.createDataFrame([("new",)], "v string"), target)
    assert target.read_text() == "v\nnew\n"


def test_row_order_is_kept(spark, tmp_path):
    df = spark.range(0, 5000, numPartitions=4).selectExpr("id", "cast(id % 7 as int) AS k")
    path, rows = write_csv(df.orderBy("k", "id"), tmp_path / "o.csv")
    assert rows == 5000
    got = [(int(r[1]), int(r[0])) for r in _read(path)[1:]]
    assert got == sorted(got) and len(got) == 5000


def test_stale_scratch_folders_are_removed(tmp_path):
    (tmp_path / ".x.csv.abc.tmp").mkdir()
    (tmp_path / "keep.csv").write_text("a\n")
    remove_scratch(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]


def _expected(value: str) -> str:
    import re

    risky = re.match(r"[=+\-@\t\r]", value) is not None
    safe = re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", value) or re.fullmatch(r"\+[0-9 ]+", value)
    return "'" + value if risky and not safe else value


text_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=30,
) | st.sampled_from(['=A1', '+1', '-x', '@', '"', '""', ',', '\n', '\r\n', 'a,b"c\nd', ' lead', 'trail '])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(text_values, min_size=1, max_size=25))
def test_any_text_round_trips_through_csv(spark, tmp_path_factory, values):
    path = tmp_path_factory.mktemp("prop") / "p.csv"
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i int, v string")
    write_csv(df.orderBy("i"), path)
    with open(path, newline="", encoding="utf-8") as handle:
        got = [row[1] for row in list(csv.reader(io.StringIO(handle.read())))[1:]]
    assert got == [_expected(v) for v in values]


def test_the_row_count_is_the_records_a_csv_parser_reads(spark, tmp_path):
    """Spark's count of the rows written equals the records in the file, with
    quoted line breaks, doubled quotes and empty quoted fields across parts."""
    values = ["b\nc", 'x "q" y', "", "plain", 'multi\n\nline "\n" end', '"', "last"]
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i int, v string")
    path, rows = write_csv(df.repartition(3).orderBy("i"), tmp_path / "q.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        records = list(csv.reader(handle))[1:]
    assert rows == len(records) == len(values)
    assert [r[1] for r in records] == values


def test_parts_are_appended_after_what_is_buffered(tmp_path):
    """The parts follow the header still in ``out``'s buffer, whole and in order."""
    from lib.writer import append_file

    parts = [tmp_path / "part-00000", tmp_path / "part-00001", tmp_path / "part-00002"]
    for part, text in zip(parts, ['a,"b\nc"\n', "", "x" * 70_000 + "\n"], strict=True):
        part.write_bytes(text.encode())
    joined = tmp_path / "joined.csv"
    with joined.open("wb") as out:
        out.write(b"h1,h2\n")
        for part in parts:
            append_file(part, out)
    assert joined.read_bytes() == b"h1,h2\n" + b"".join(p.read_bytes() for p in parts)


def test_parts_are_copied_through_a_buffer_where_the_kernel_cannot(tmp_path, monkeypatch):
    import errno
    import os

    from lib.writer import append_file

    part = tmp_path / "part-00000"
    part.write_bytes(b"1,2\n3,4\n")

    def refused(*_):
        raise OSError(errno.EINVAL, "sendfile: not for these files")

    monkeypatch.setattr(os, "sendfile", refused)
    with (tmp_path / "joined.csv").open("wb") as out:
        out.write(b"a,b\n")
        append_file(part, out)
    assert (tmp_path / "joined.csv").read_bytes() == b"a,b\n1,2\n3,4\n"

    def failed(*_):
        raise OSError(errno.EIO, "input/output error")

    monkeypatch.setattr(os, "sendfile", failed)
    with (tmp_path / "other.csv").open("wb") as out, pytest.raises(OSError, match="input/output"):
        append_file(part, out)
