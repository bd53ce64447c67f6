"""The tables of an output folder over JDBC (``make sql-server``) or in a SQL shell (``make sql``).

    python -m lib.suite.sql_server --output-dir output [--port 10000] [--host 127.0.0.1]
    python -m lib.suite.sql_server --output-dir output --shell

Loopback only unless ``--allow-remote``: the server has no authentication (README,
"Scaling out"). How it works: docs/design.md, "The SQL server".
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lib.errors import TicketInsightsError
from lib.suite.processes import SPARK_HOME, accepts
from lib.tables import list_tables, table_path, warehouse_of

DEFAULT_PORT = 10000
START_TIMEOUT = 300.0
EXIT_ERROR = 2
_RUN_FIRST = "run notebooks 08 and 09 first (make run ONLY=08,09)"


class SqlServerError(TicketInsightsError):
    """The SQL server cannot start (bad host, no tables, Java failed)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    if not is_loopback(host) and not allow_remote:
        raise SqlServerError(
            f"refusing to listen on {host}: the SQL server has no authentication, so it "
            "listens on 127.0.0.1 only. To expose it anyway, put TLS and authentication in "
            "front of it and ask explicitly: --allow-remote (make sql-server SQL_HOST="
            f"{host} SQL_ALLOW_REMOTE=1)")


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def table_statements(warehouse: Path, names: list[str], temporary: bool) -> list[str]:
    """SQL that registers each table: a temporary view (shell) or an external
    table of the in-memory catalog (server)."""
    statements = []
    for name in names:
        path = _sql_string(str(table_path(warehouse, name)))
        if temporary:
            statements.append(f"CREATE OR REPLACE TEMPORARY VIEW {name} USING parquet "
                              f"OPTIONS (path {path})")
        else:
            statements.append(f"CREATE TABLE IF NOT EXISTS {name} USING parquet LOCATION {path}")
    return statements


def _tables(output_dir: str) -> tuple[Path, Path, list[str]]:
    warehouse = warehouse_of(output_dir)
    names = list_tables(warehouse)
    if not names:
        raise SqlServerError(f"no tables under {warehouse}: {_RUN_FIRST}")
    return warehouse.parent, warehouse, names


def _hive_scratch_conf(scratch: Path) -> dict[str, str]:
    """Hive's scratch folders and Derby's files in ``scratch`` (never the
    working directory or a /tmp/hive shared with other users)."""
    return {
        "spark.hadoop.hive.exec.scratchdir": str(scratch / "hive-scratch"),
        "spark.hadoop.hive.exec.local.scratchdir": str(scratch / "hive-local"),
        "spark.hadoop.hive.downloaded.resources.dir": str(scratch / "hive-resources"),
        "spark.hadoop.hive.querylog.location": str(scratch / "hive-querylog"),
        "spark.hadoop.hive.server2.logging.operation.log.location": str(scratch / "operation-logs"),
        "spark.sql.warehouse.dir": str(scratch / "spark-warehouse"),
    }


def _jvm_options(scratch: Path) -> str:
    from lib.session import JVM_OPTIONS

    return f"{JVM_OPTIONS} -Dderby.stream.error.file={scratch / 'derby.log'}"


# -- the JDBC server -------------------------------------------------------------------------

def _listening(host: str, port: int) -> bool:
    return accepts("127.0.0.1" if host in ("0.0.0.0", "::") else host, port)


def _refuse_thrift_overrides() -> None:
    """The Thrift server takes its address from these variables over its
    configuration: one set here would move it off the host and port chosen."""
    for name in ("HIVE_SERVER2_THRIFT_BIND_HOST", "HIVE_SERVER2_THRIFT_PORT"):
        if os.environ.get(name):
            raise SqlServerError(f"{name} is set in the environment and would override "
                                 "--host/--port: unset it (make sql-server SQL_HOST=... SQL_PORT=...)")


def serve(output_dir: str, host: str, port: int) -> int:
    from pyspark.sql import SparkSession

    from lib.java import ensure_java
    from lib.session import LOCAL_SETTINGS, SESSION_SETTINGS

    output, warehouse, names = _tables(output_dir)
    scratch = output / ".sql-server"
    for folder in ("hive-scratch", "hive-local", "hive-resources", "operation-logs"):
        (scratch / folder).mkdir(parents=True, exist_ok=True)
    ensure_java()
    _refuse_thrift_overrides()
    conf = {
        **LOCAL_SETTINGS, **SESSION_SETTINGS, **_hive_scratch_conf(scratch),
        "spark.driver.extraJavaOptions": _jvm_options(scratch),
        "spark.sql.catalogImplementation": "in-memory",  # no metastore database
        "spark.hadoop.hive.server2.thrift.bind.host": host,
        "spark.hadoop.hive.server2.thrift.port": str(port),
        "spark.hadoop.hive.server2.transport.mode": "binary",
    }
    builder = SparkSession.builder.appName("ticket-insights-sql-server").master(
        os.environ.get("SPARK_MASTER", "local[*]"))
    for key, value in conf.items():
        builder = builder.config(key, value)
    print(f"Starting the SQL server on {host}:{port} for {warehouse} ...", flush=True)
    spark = builder.getOrCreate()
    stopping = []

    def _stop(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        for statement in table_statements(warehouse, names, temporary=False):
            spark.sql(statement)
        jvm = spark.sparkContext._jvm
        jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(
            spark._jsparkSession.sqlContext())
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(host, port):
            if stopping:
                return 130
            if time.monotonic() > deadline:
                raise SqlServerError(f"the Thrift server did not listen on {host}:{port}")
            time.sleep(0.2)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        print(f"SQL server ready (pid {os.getpid()}), tables: {', '.join(names)}\n"
              f"  JDBC URL: jdbc:hive2://{shown}:{port}/default\n"
              f"  e.g. {SPARK_HOME / 'bin' / 'beeline'} -u jdbc:hive2://{shown}:{port}/default\n"
              f"  stop it: Ctrl-C here, or kill {os.getpid()}", flush=True)
        while not stopping:
            time.sleep(0.5)
        print("Stopping the SQL server.", flush=True)
        return 0
    finally:
        spark.stop()


# -- the interactive shell -------------------------------------------------------------------

def shell_command(init_file: Path, scratch: Path, extra: list[str] | None = None) -> list[str]:
    from lib.session import LOCAL_SETTINGS, SESSION_SETTINGS

    conf = {
        **{k: v for k, v in LOCAL_SETTINGS.items() if k != "spark.sql.warehouse.dir"},
        **SESSION_SETTINGS, **_hive_scratch_conf(scratch),
        "spark.driver.extraJavaOptions": _jvm_options(scratch),
        "spark.sql.catalogImplementation": "in-memory",
        "spark.hadoop.javax.jdo.option.ConnectionURL":
            f"jdbc:derby:;databaseName={scratch / 'metastore_db'};create=true",
    }
    command = [str(SPARK_HOME / "bin" / "spark-sql"), "--master",
               os.environ.get("SPARK_MASTER", "local[*]")]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    return command + ["-i", str(init_file), *(extra or [])]


def shell(output_dir: str, extra: list[str]) -> int:
    from lib.java import ensure_java

    output, warehouse, names = _tables(output_dir)
    scratch = Path(tempfile.mkdtemp(prefix=".sql-shell-", dir=output))
    try:
        init = scratch / "init.sql"
        init.write_text("".join(f"{s};\n" for s in table_statements(warehouse, names, True)))
        java_home = ensure_java()
        env = {**os.environ, "JAVA_HOME": str(java_home), "SPARK_HOME": str(SPARK_HOME),
               "TZ": "UTC", "PYSPARK_PYTHON": sys.executable}
        env.pop("SPARK_REMOTE", None)
        print(f"Tables: {', '.join(names)} (from {warehouse}); quit; to leave.", flush=True)
        return subprocess.call(shell_command(init, scratch, extra), env=env, cwd=scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.suite.sql_server",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="output")
    parser.add_argument("--host", default=os.environ.get("SQL_HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SQL_PORT") or DEFAULT_PORT))
    parser.add_argument("--allow-remote", action="store_true",
                        default=os.environ.get("SQL_ALLOW_REMOTE", "") == "1",
                        help="listen on a non-loopback --host (no authentication: see README)")
    parser.add_argument("--shell", action="store_true", help="an interactive spark-sql shell")
    parser.add_argument("shell_args", nargs="*", help="more spark-sql arguments (after --)")
    args = parser.parse_args(argv)
    try:
        if args.shell:
            return shell(args.output_dir, args.shell_args)
        check_host(args.host, args.allow_remote)  # before any Java starts
        return serve(args.output_dir, args.host, args.port)
    except TicketInsightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
