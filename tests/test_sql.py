"""The tables over SQL: every lib session sees them (SHOW TABLES, spark.table),
``make sql`` (spark-sql with the tables as views) and ``make sql-server``
(Spark's Thrift server, JDBC on loopback) read by the bundled ``beeline``.

The output folder holds the four tables saved by :func:`lib.tables.save_table`
from the star-schema transforms on small hand-made rows (as tests/test_tables.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import listening, tree, wait_gone

from lib import tables
from lib.config import PROJECT_ROOT
from lib.suite import sql_server
from lib.suite.connect_server import free_port
from lib.suite.processes import SPARK_HOME, without_spark

BEELINE = SPARK_HOME / "bin" / "beeline"


def _env() -> dict[str, str]:
    from lib.java import ensure_java

    env = without_spark(os.environ, "SQL_ALLOW_REMOTE", "SQL_HOST", "SQL_PORT")
    return {**env, "JAVA_HOME": str(ensure_java()), "SPARK_HOME": str(SPARK_HOME)}


def _rows(spark, name: str) -> int:
    return spark.table(name).count()


# -- every session made by lib sees the tables ---------------------------------------------------

def test_a_lib_session_lists_and_reads_the_tables(spark_remote, saved_tables, monkeypatch):
    monkeypatch.setenv("SPARK_REMOTE", spark_remote)  # as `make sql` on a shared server
    session = tables.open_session(saved_tables)
    shown = {row.tableName: row.isTemporary for row in session.sql("SHOW TABLES").collect()}
    assert set(tables.TABLE_NAMES) <= set(shown)
    assert all(shown[name] for name in tables.TABLE_NAMES)  # session views, no metastore
    assert session.table("dim_event").count() > 0
    assert session.table("fact_transaction").columns[:2] == ["order_id", "customer_id"]


def test_a_session_on_the_shared_server_lists_and_reads_the_tables(saved_tables,
                                                                   spark_remote):
    code = ("import sys; from lib.tables import open_session, TABLE_NAMES\n"
            "s = open_session(sys.argv[1])\n"
            "names = {r.tableName for r in s.sql('SHOW TABLES').collect()}\n"
            "assert set(TABLE_NAMES) <= names, names\n"
            "print(s.table('dim_event').count(), s.table('fact_transaction').count())\n")
    done = subprocess.run([sys.executable, "-c", code, str(saved_tables)], cwd=PROJECT_ROOT,
                          env={**os.environ, "SPARK_REMOTE": spark_remote},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    events, facts = map(int, done.stdout.split())
    assert events > 0 and facts > 0


# -- the JDBC server -------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::"])
def test_the_server_refuses_a_non_loopback_host_before_java(tmp_path, host):
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "lib.suite.sql_server", "--output-dir",
                           str(tmp_path), "--host", host], cwd=PROJECT_ROOT, env=_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: refusing to listen on {host}: ")
    assert "--allow-remote" in done.stderr and "SQL_ALLOW_REMOTE=1" in done.stderr
    assert done.stdout == "" and time.monotonic() - began < 20  # no JVM was started
    assert not list(tmp_path.iterdir())


def test_loopback_hosts_and_the_explicit_opt_in():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        sql_server.check_host(host, allow_remote=False)
    sql_server.check_host("0.0.0.0", allow_remote=True)
    with pytest.raises(sql_server.SqlServerError):
        sql_server.check_host("10.0.0.5", allow_remote=False)


def test_an_output_folder_without_tables_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "lib.suite.sql_server", "--output-dir",
                           str(tmp_path)], cwd=PROJECT_ROOT, env=_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: no tables under ") and "make run" in done.stderr


def _beeline(port: int, sql: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BEELINE), "-u", f"jdbc:hive2://127.0.0.1:{port}/default", "--silent=true",
         "--outputformat=csv2", "-e", sql],
        cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _values(out: str) -> list[str]:
    """The data lines of beeline's csv2 output (prompt echo and header dropped)."""
    lines = [re.sub(r"^(\d+: )?jdbc:hive2://\S*> ", "", line) for line in out.splitlines()]
    return [line for line in lines if line.strip()][1:]


@pytest.fixture
def server(saved_tables, tmp_path):
    port = free_port()
    log = tmp_path / "sql-server.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "lib.suite.sql_server", "--output-dir", str(saved_tables),
             "--port", str(port)], cwd=tmp_path, env=_env(), stdout=handle,
            stderr=subprocess.STDOUT, start_new_session=True)
    pids: set[int] = set()
    began = time.monotonic()
    try:
        while "SQL server ready" not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() - began < 600, "the SQL server did not start"
            time.sleep(0.5)
        print(f"\n[timing] SQL server ready in {time.monotonic() - began:.1f} s")
        pids = tree(process.pid)
        yield port, process, log
    finally:
        pids |= tree(process.pid)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        assert not wait_gone(pids, 30), "the SQL server left processes running"


@pytest.mark.slow
def test_the_server_serves_the_tables_over_jdbc(spark, server, saved_tables, tmp_path):
    port, process, log = server
    text = log.read_text()
    assert f"jdbc:hive2://127.0.0.1:{port}/default" in text and f"kill {process.pid}" in text
    # loopback only
    bound = {ip for _, ip, p in listening(tree(process.pid)) if p == port}
    assert bound and all(sql_server.is_loopback(ip.removeprefix("::ffff:")) for ip in bound), bound
    tables.register_tables(spark, saved_tables / "warehouse")
    facts, customers = _rows(spark, "fact_transaction"), _rows(spark, "dim_customer")
    began = time.monotonic()
    first = _beeline(port, "SELECT count(*) AS n FROM fact_transaction", tmp_path)
    second = _beeline(port, "SELECT count(*) AS n FROM dim_customer; SHOW TABLES", tmp_path)
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    print(f"[timing] two beeline clients at once: {time.monotonic() - began:.1f} s")
    assert first.returncode == 0 and second.returncode == 0, err1[-2000:] + err2[-2000:]
    assert _values(out1) == [str(facts)]
    values = _values(out2)
    assert values[0] == str(customers)
    assert {line.split(",")[1] for line in values[2:]} == set(tables.TABLE_NAMES)
    # nothing in the working directory or the repo: Hive's files are under the output folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sql-server.log"]
    assert not (PROJECT_ROOT / "metastore_db").exists() and not (PROJECT_ROOT / "derby.log").exists()
    assert (saved_tables / ".sql-server").is_dir()


@pytest.mark.slow
def test_the_shell_sees_the_tables(spark, saved_tables, tmp_path):
    tables.register_tables(spark, saved_tables / "warehouse")
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "lib.suite.sql_server", "--shell", "--output-dir",
         str(saved_tables), "--", "-e", "SHOW TABLES; SELECT count(*) FROM dim_event"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    print(f"\n[timing] spark-sql shell: {time.monotonic() - began:.1f} s")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert set(tables.TABLE_NAMES) <= {line.split()[0] for line in lines if line.strip()}
    assert lines[-1].strip() == str(_rows(spark, "dim_event"))
    assert not list(tmp_path.iterdir())  # nothing in the working directory
    assert not [p for p in saved_tables.iterdir() if p.name.startswith(".sql-shell-")]
