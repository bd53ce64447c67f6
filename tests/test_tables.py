"""Persisted Spark SQL tables (lib/tables.py) and the query CLI (lib/query.py).

The subprocess tests start a fresh Python on the tests' shared Spark Connect
server, so the tables are read by a Spark session that did not write them (in a
JVM that did not either), without starting a JVM per test.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap

import pytest
from helpers import event_id
from star_rows import FINAL, HARBOUR

from lib import tables
from lib.config import PROJECT_ROOT, make_params
from lib.errors import UnknownTableError
from lib.insights import star_schema
from lib.query import run_query


def run_python(spark_remote: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPARK_REMOTE": spark_remote}
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_ROOT, env=env,
        capture_output=True, text=True, timeout=600,
    )


def test_tables_are_folders_in_the_warehouse(saved_tables):
    warehouse = saved_tables / "warehouse"
    assert tables.list_tables(warehouse) == sorted(tables.TABLE_NAMES)
    # only the tables and the lock: no scratch or retired copies left behind
    assert sorted(p.name for p in warehouse.iterdir()) == [".lock", *sorted(tables.TABLE_NAMES)]


def test_saving_again_replaces_the_table(spark, tmp_path):
    params = make_params(output_dir=tmp_path)
    tables.save_table(spark.range(3), params, "numbers")
    tables.save_table(spark.range(5), params, "numbers")
    assert spark.sql("SELECT count(*) AS n FROM numbers").first().n == 5
    assert sorted(p.name for p in params.warehouse_dir.iterdir()) == [".lock", "numbers"]
    assert tables.list_tables(tmp_path / "nowhere") == []
    with pytest.raises(ValueError):
        tables.save_table(spark.range(1), params, "../escape")


def test_registered_views_keep_the_types(spark, saved_tables):
    names = tables.register_tables(spark, saved_tables / "warehouse")
    assert names == sorted(tables.TABLE_NAMES)
    fact = spark.table("fact_transaction")
    assert dict(fact.dtypes) == {
        "order_id": "string", "customer_id": "bigint", "event_id": "string",
        "purchase_ts": "timestamp", "quantity": "int", "net_sales": "decimal(18,2)",
    }
    assert spark.table("tickets_denormalized").columns == list(star_schema.DENORMALIZED_COLUMNS)


def test_query_prints_contract_formatted_csv(spark, saved_tables):
    out = io.StringIO()
    written = run_query(spark, saved_tables / "warehouse", """
        SELECT order_id, first_name, event_date, net_sales, 'a,"b"' AS text
        FROM tickets_denormalized ORDER BY event_date, purchase_ts, order_id""", out, limit=2)
    assert written == 2
    assert out.getvalue() == (
        "order_id,first_name,event_date,net_sales,text\n"
        "O2,'=Bob,2023-08-12,10.50,\"a,\"\"b\"\"\"\n"
        "O1,Ann,2023-08-12,20.00,\"a,\"\"b\"\"\"\n"
    )


def test_query_on_unknown_table_names_it_and_lists_the_tables(spark, saved_tables):
    with pytest.raises(UnknownTableError) as error:
        run_query(spark, saved_tables / "warehouse", "SELECT * FROM no_such_table", io.StringIO())
    message = str(error.value)
    assert "no_such_table" in message
    assert "dim_customer, dim_event, fact_transaction, tickets_denormalized" in message


def test_query_without_tables_says_what_to_run(spark, tmp_path):
    with pytest.raises(UnknownTableError, match="run notebooks 08 and 09 first"):
        run_query(spark, tmp_path, "SELECT 1", io.StringIO())


FRESH_SESSION = textwrap.dedent("""
    import datetime as dt, json, sys
    from pyspark.sql import functions as F
    from lib import columns as C, tables
    from lib.insights import star_schema

    spark = tables.open_session(sys.argv[1])
    denorm = spark.table("tickets_denormalized")
    rebuilt = star_schema.rebuild_denormalized(
        spark.table("fact_transaction"), spark.table("dim_customer"), spark.table("dim_event")
    )
    fresh_id = spark.range(1).select(
        C.event_id(F.lit("Cup Final"), F.lit(dt.date(2024, 5, 1))).alias("id")).first().id
    print(json.dumps({
        "orders": spark.sql("SELECT count(*) AS n FROM tickets_denormalized").first().n,
        "customers": spark.sql("SELECT count(*) AS n FROM dim_customer").first().n,
        "event_ids": [r.event_id for r in
                      spark.sql("SELECT event_id FROM dim_event ORDER BY event_date").collect()],
        "unresolved_fk": spark.sql(
            "SELECT count(*) AS n FROM fact_transaction f "
            "LEFT ANTI JOIN dim_event e ON f.event_id = e.event_id").first().n,
        "rebuilt_minus_denorm": rebuilt.exceptAll(denorm).count(),
        "denorm_minus_rebuilt": denorm.exceptAll(rebuilt).count(),
        "fresh_id": fresh_id,
    }))
""")


def test_a_new_python_and_spark_session_queries_the_tables(saved_tables, spark_remote):
    done = run_python(spark_remote, "-c", FRESH_SESSION, str(saved_tables))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "orders": 5,
        "customers": 3,
        "event_ids": [event_id(HARBOUR, "2023-08-12"), event_id(FINAL, "2024-05-01"),
                      event_id(HARBOUR, "2024-08-12")],
        "unresolved_fk": 0,
        "rebuilt_minus_denorm": 0,
        "denorm_minus_rebuilt": 0,
        "fresh_id": event_id(FINAL, "2024-05-01"),
    }


def test_query_cli(saved_tables, spark_remote):
    done = run_python(
        spark_remote, "-m", "lib.query", "--output-dir", str(saved_tables),
        "SELECT season, count(*) AS orders, sum(net_sales) AS net_sales "
        "FROM tickets_denormalized GROUP BY season ORDER BY season",
    )
    assert done.returncode == 0, done.stderr
    assert list(csv.reader(io.StringIO(done.stdout))) == [
        ["season", "orders", "net_sales"],
        ["2023/24", "4", "155.50"],
        ["2024/25", "1", "30.00"],
    ]


def test_query_cli_unknown_table_is_a_clear_error(saved_tables, spark_remote):
    done = run_python(spark_remote, "-m", "lib.query", "--output-dir", str(saved_tables), "SELECT * FROM nope")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error: table or view `nope` not found" in done.stderr
    assert "tickets_denormalized" in done.stderr
    assert "Traceback" not in done.stderr and "at org.apache" not in done.stderr
