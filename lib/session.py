"""The one function that makes a Spark session, for notebooks, tests and scripts.

* a ``remote`` URL, or else ``SPARK_REMOTE`` set (e.g. ``sc://localhost:15002``)
  -> a Spark Connect session;
* ``SPARK_MASTER`` set (e.g. ``spark://host:7077``) -> a classic session on it;
* otherwise -> a local session tuned for one small machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from lib.java import ensure_java

LOG4J_FILE = Path(__file__).with_name("log4j2.properties")

# SQL settings every session gets, local or remote (session-scoped, so notebooks
# sharing one Spark Connect server do not step on each other).
SESSION_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": os.environ.get("SPARK_SHUFFLE_PARTITIONS", "8"),
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    # 32 MiB splits: a 100 MB input still feeds both cores
    "spark.sql.files.maxPartitionBytes": str(32 * 1024 * 1024),
}

# The JVM's heap (local sessions and the runner's Connect server); named in the
# one-line message of a Spark that runs out of memory (out_of_memory_message).
DRIVER_MEMORY = os.environ.get("SPARK_DRIVER_MEMORY", "4g")

# A Spark Connect server that is gone fails the next call within about 30 s
# (backoffs 0.05, 0.2, 0.8, 3.2 s, then 5 s x4, plus jitter), not after the
# client's default of 10+ minutes of retries.
CONNECT_RETRY = {"max_retries": 8, "initial_backoff": 50, "backoff_multiplier": 4.0,
                 "max_backoff": 5000}

# Settings fixed when the JVM starts (local or SPARK_MASTER sessions only).
JVM_OPTIONS = f"-Duser.timezone=UTC -Dlog4j2.configurationFile=file:{LOG4J_FILE}"

# JVM options of the shared Spark Connect server by the batch's input size,
# each measured A/B on the whole suite (bench/README.md, "Profile (2026-12-06)").
# Below QUICK_JIT_BELOW_BYTES its jobs last seconds and C2's compiler threads
# cost more CPU than they save, so it compiles with C1 only. C1 alone makes the
# JVM default to a 48 MB unsegmented code cache, which Spark fills; once full,
# new method-handle intrinsics fail (JDK-8295724: "NoSuchMethodException: no
# such method: java.lang.invoke.MethodHandle.linkToVirtual"), so it keeps the
# 240 MB code cache of the default tiered JIT.
QUICK_JIT_BELOW_BYTES = 32 * 1024 * 1024
QUICK_JIT_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=240m")
# Also below it: what the driver evaluates outside tasks (range bounds, broadcast
# relations, local rows) is interpreted instead of compiled by Janino, which
# costs more than those few rows take. Tasks compile as always: Spark reads this
# setting only off a task (CodegenObjectFactoryMode.currentMode). It is an
# internal Spark setting; the interpreted path is the one Spark itself falls
# back to when code generation fails, and every output stays byte-identical.
# 10k orders: -2.1 to -2.4 s a run, three pairs (bench/README.md). A -D system
# property, so it reaches the server's SparkConf like the JVM options above.
INTERPRETED_DRIVER_OPTIONS = ("-Dspark.sql.codegen.factoryMode=NO_CODEGEN",)
# The throughput collector, at every input size: it beat G1 at 10k and 1M
# orders, and at 10M it took no more CPU while the JVM's peak was about 550 MB
# lower (no remembered sets; two runs each, bench/README.md, eleventh session).
SERVER_GC_OPTIONS = ("-XX:+UseParallelGC",)
# From QUICK_JIT_BELOW_BYTES up to this, C2 compiling was about 30% of a run's
# CPU, much of it Spark's generated classes (new for every query): with
# thresholds four times higher only code that stays hot is compiled. 1M orders:
# JIT CPU -20%, the run's CPU -5% (four pairs). 10M orders: JIT CPU -21% but
# the run's CPU +1% (one pair), so larger inputs keep the JVM's thresholds.
LATE_JIT_BELOW_BYTES = 256 * 1024 * 1024
LATE_JIT_OPTIONS = ("-XX:CompileThresholdScaling=4",)


def server_java_options(input_bytes: int) -> tuple[str, ...]:
    """JVM options for a Spark Connect server whose batch reads ``input_bytes``."""
    quick = input_bytes < QUICK_JIT_BELOW_BYTES
    late = not quick and input_bytes < LATE_JIT_BELOW_BYTES
    return (*(QUICK_JIT_OPTIONS + INTERPRETED_DRIVER_OPTIONS if quick else ()),
            *(LATE_JIT_OPTIONS if late else ()), *SERVER_GC_OPTIONS)


LOCAL_SETTINGS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": DRIVER_MEMORY,
    "spark.driver.extraJavaOptions": JVM_OPTIONS,
    "spark.executor.extraJavaOptions": JVM_OPTIONS,
    "spark.sql.warehouse.dir": os.environ.get(
        "SPARK_WAREHOUSE_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "ticket-insights-warehouse")
    ),
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    # Python UDF workers run on this interpreter (the venv), not PATH's python3
    "spark.pyspark.python": sys.executable,
}


def out_of_memory_message() -> str:
    """What to say, in one line, when Spark ran out of memory."""
    return f"Spark ran out of memory: raise SPARK_DRIVER_MEMORY (now {DRIVER_MEMORY})"


def _bounded_retries(spark: SparkSession) -> None:
    from pyspark.sql.connect.client.retries import DefaultPolicy

    spark.client.set_retry_policies([DefaultPolicy(**CONNECT_RETRY)])


def get_spark(app_name: str = "ticket-insights", remote: str | None = None,
              java_options: tuple[str, ...] = ()) -> SparkSession:
    """Return this process's Spark session, creating it on first use: on the
    Spark Connect server at ``remote`` (default ``SPARK_REMOTE``), else local,
    its JVM started with ``java_options`` too (e.g. :func:`server_java_options`)."""
    remote = remote or os.environ.get("SPARK_REMOTE")
    if remote:
        spark = SparkSession.builder.remote(remote).getOrCreate()
        _bounded_retries(spark)
    else:
        ensure_java()
        builder = SparkSession.builder.appName(app_name).master(
            os.environ.get("SPARK_MASTER", "local[*]")
        )
        settings = {**LOCAL_SETTINGS, "spark.driver.extraJavaOptions": " ".join(
            (LOCAL_SETTINGS["spark.driver.extraJavaOptions"], *java_options))}
        for key, value in settings.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
    for key, value in SESSION_SETTINGS.items():
        spark.conf.set(key, value)
    return spark


def spark_ui_url(spark: SparkSession) -> str | None:
    """Address of the Spark UI behind ``spark``, or None when it has none.

    A classic session knows it (``sparkContext.uiWebUrl``). A Spark Connect
    client has no SparkContext, so the address is built from the server's
    settings (``spark.ui.enabled``, ``spark.driver.host``, ``spark.ui.port``),
    which is where the UI listens unless that port was taken when the server
    started (``make lab`` checks that it answers there).
    """
    try:
        if not type(spark).__module__.startswith("pyspark.sql.connect"):
            return spark.sparkContext.uiWebUrl or None
        conf = spark.conf
        if (conf.get("spark.ui.enabled", None) or "true").strip().lower() != "true":
            return None
        port = (conf.get("spark.ui.port", None) or "4040").strip()
        if port == "0":  # a random port: not knowable from here
            return None
        return f"http://{conf.get('spark.driver.host', None) or 'localhost'}:{port}"
    except Exception:  # noqa: BLE001 - only ever shown, never needed
        return None
