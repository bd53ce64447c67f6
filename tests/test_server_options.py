"""The shared server's JVM options by input size (lib.session.server_java_options)
and how they reach its command line (lib.suite.connect_server); the notebooks
run at once by input size (lib.suite.options.default_jobs)."""

from __future__ import annotations

from lib.session import (
    JVM_OPTIONS,
    LATE_JIT_BELOW_BYTES,
    QUICK_JIT_BELOW_BYTES,
    server_java_options,
)
from lib.suite.connect_server import server_command
from lib.suite.options import (
    ONE_PER_CORE_BELOW_BYTES,
    ONE_PER_CORE_FROM_BYTES,
    default_jobs,
    jobs,
)


def test_small_inputs_get_c1_with_the_full_code_cache():
    options = server_java_options(2 * 1024 * 1024)  # 10k orders: ~1.5 MB
    assert "-XX:TieredStopAtLevel=1" in options
    # C1 alone would default to a 48 MB code cache, which Spark fills (JDK-8295724)
    assert "-XX:ReservedCodeCacheSize=240m" in options


def test_large_inputs_keep_c2():
    assert not any("Tiered" in o for o in server_java_options(QUICK_JIT_BELOW_BYTES))
    assert server_java_options(2 * 1024**3) == ()  # 10M orders: as the JVM chooses


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


def test_only_middling_inputs_on_a_shared_server_run_one_notebook_per_core(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert default_jobs(shared=True, input_bytes=2 * 1024 * 1024) == 4  # 10k orders
    assert default_jobs(shared=True, input_bytes=ONE_PER_CORE_FROM_BYTES) == 2
    assert default_jobs(shared=True, input_bytes=128 * 1024 * 1024) == 2  # 1M orders
    assert default_jobs(shared=True, input_bytes=ONE_PER_CORE_BELOW_BYTES) == 4
    assert default_jobs(shared=True, input_bytes=2 * 1024**3) == 4  # 10M orders
    assert default_jobs(shared=False, input_bytes=2 * 1024 * 1024) == 2  # a JVM each


def test_jobs_asked_for_win_over_the_input_size():
    assert jobs("3", shared=True, input_bytes=2 * 1024**3) == 3
    assert jobs(None, shared=True, input_bytes=1024) == default_jobs(True, 1024)
