"""The shared server's JVM options by input size (lib.session.server_java_options)
and how they reach its command line (lib.suite.connect_server)."""

from __future__ import annotations

from lib.session import (
    JVM_OPTIONS,
    LATE_JIT_BELOW_BYTES,
    QUICK_JIT_BELOW_BYTES,
    SERVER_GC_OPTIONS,
    server_java_options,
)
from lib.suite.connect_server import server_command, server_environment


def test_small_inputs_get_c1_with_the_full_code_cache():
    options = server_java_options(2 * 1024 * 1024)  # 10k orders: ~1.5 MB
    assert "-XX:TieredStopAtLevel=1" in options
    # C1 alone would default to a 48 MB code cache, which Spark fills (JDK-8295724)
    assert "-XX:ReservedCodeCacheSize=240m" in options
    # driver-side expressions interpreted (the setting reaching a session: test_class_archive)
    assert "-Dspark.sql.codegen.factoryMode=NO_CODEGEN" in options
    assert not any("factoryMode" in o for o in server_java_options(QUICK_JIT_BELOW_BYTES))


def test_large_inputs_keep_c2():
    assert not any("Tiered" in o for o in server_java_options(QUICK_JIT_BELOW_BYTES))
    assert server_java_options(2 * 1024**3) == SERVER_GC_OPTIONS  # 10M orders: JIT as the JVM chooses


def test_every_size_gets_the_throughput_collector():
    for size in (0, QUICK_JIT_BELOW_BYTES, LATE_JIT_BELOW_BYTES, 2 * 1024**3):
        assert server_java_options(size)[-1:] == ("-XX:+UseParallelGC",)


def test_only_middling_inputs_get_late_c2_compiles():
    late = "-XX:CompileThresholdScaling=4"
    assert late in server_java_options(128 * 1024 * 1024)  # 1M orders: ~128 MB
    assert late in server_java_options(QUICK_JIT_BELOW_BYTES)
    assert late not in server_java_options(QUICK_JIT_BELOW_BYTES - 1)  # C1 only: no C2
    assert late not in server_java_options(LATE_JIT_BELOW_BYTES)


def test_extra_options_follow_the_projects_own():
    command = server_command(15002, "t", {}, ("-XX:+UseParallelGC", "-XX:StartFlightRecording=x"))
    conf = [command[i + 1] for i, part in enumerate(command) if part == "--conf"]
    driver = next(c for c in conf if c.startswith("spark.driver.extraJavaOptions="))
    assert driver == ("spark.driver.extraJavaOptions=" + JVM_OPTIONS
                      + " -XX:+UseParallelGC -XX:StartFlightRecording=x")


def test_the_server_gets_two_malloc_arenas_unless_the_user_chose(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert server_environment("token")["MALLOC_ARENA_MAX"] == "2"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert server_environment("token")["MALLOC_ARENA_MAX"] == "8"
