"""Where a suite run's CPU goes: per-thread CPU time and a JFR recording, summed up.

Two sources, both from what the JDK and Linux give:

* :class:`ThreadCpu` samples ``/proc/<pid>/task/<tid>/stat`` of a process tree
  (the runner, its kernels, the Spark Connect server JVM) and keeps each
  thread's last CPU time, so the JVM's JIT compiler and GC threads (native
  threads that JFR's execution samples do not see) are counted too.
* :func:`jfr_categories` sorts the JFR execution samples of the server's Java
  threads by the first frame from the top that names a known mechanism
  (generated-code compilation, class loading, shuffle, sort, CSV, parquet, ...).

Usage on its own: ``python bench/profile_summary.py server.jfr`` prints the
execution-sample table and the GC, compilation and class-loading figures.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
from pathlib import Path

import psutil

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# JVM thread name (prefix) -> what its CPU time is. Linux keeps 15 characters
# of a thread's name (/proc/<pid>/task/<tid>/stat), so no prefix is longer.
JVM_THREADS = (
    ("C2 CompilerThre", "JIT compilation (C2)"),
    ("C1 CompilerThre", "JIT compilation (C1)"),
    ("GC Thread", "GC"), ("G1 ", "GC"), ("VM Thread", "GC and safepoints (VM Thread)"),
    ("Executor task l", "Spark tasks (executor threads)"),
    ("grpc", "gRPC threads"), ("SparkConnectExe", "Connect query threads (driver side)"),
    ("main", "JVM start-up (main thread)"),
)

# Mechanism <- frame substrings; a sample goes to the first mechanism in this
# list that any frame of its stack names (so a class loaded while a query is
# planned counts as class loading, a sort inside a task as sort).
FRAME_CATEGORIES = (
    ("generated-code compilation (Janino)", ("org.codehaus.janino", "org.codehaus.commons",
                                             "CodeGenerator$.doCompile")),
    ("class loading", ("ClassLoader.loadClass", "ClassLoader.defineClass", "Class.forName",
                       "URLClassPath", "BuiltinClassLoader", "java.util.zip")),
    ("closure cleaning (ASM)", ("ClosureCleaner", "xbean.asm")),
    ("case mapping (ICU: initcap, lower, upper)", ("com.ibm.icu",)),
    ("CSV parse/format", ("univocity", "datasources.csv", "catalyst.csv")),
    ("parquet read/write", ("org.apache.parquet", "datasources.parquet")),
    ("sort", ("UnsafeExternalSorter", "UnsafeInMemorySorter", "execution.SortExec",
              "UnsafeExternalRowSorter", "TimSort")),
    ("shuffle", ("org.apache.spark.shuffle", "ShuffleExchangeExec", "net.jpountz",
                 "com.github.luben.zstd", "ShuffledRowRDD")),
    ("gRPC/Arrow (Connect answers)", ("io.grpc", "org.apache.arrow", "io.netty",
                                      "com.google.protobuf", "ArrowConverters")),
    ("Connect plan translation", ("SparkConnectPlanner",)),
    ("query analysis/optimization/planning (Catalyst)", (
        "sql.catalyst.analysis", "sql.catalyst.optimizer", "QueryExecution", "SparkStrategies",
        "sql.execution.adaptive", "sql.catalyst.planning", "sql.catalyst.rules")),
    ("generated code running (row processing)", ("GeneratedClass",)),
    ("server start-up (spark-submit main)", ("SparkSubmit",)),
    ("Spark scheduler and tasks, other", ("org.apache.spark.scheduler",
                                          "org.apache.spark.executor")),
)


def _process_kind(process: psutil.Process) -> str:
    try:
        name, command = process.name(), " ".join(process.cmdline())
    except psutil.Error:
        return "other"
    if name == "java":
        return "Spark Connect server JVM"
    if "ipykernel" in command:
        return "notebook kernels (Python)"
    if "lib.run" in command:
        return "runner (Python)"
    if name.startswith("python"):
        return "other Python (first-query client, workers)"
    return "other"


def _thread_kind(name: str) -> str:
    return next((kind for prefix, kind in JVM_THREADS if name.startswith(prefix)),
                "other JVM threads")


class ThreadCpu(threading.Thread):
    """Samples the CPU time of every thread in a process tree every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.5, on_process=None):
        """``on_process(pid, kind)`` is called once per process of a known kind."""
        super().__init__(daemon=True)
        self.root, self.interval, self.on_process = psutil.Process(pid), interval, on_process
        self.threads: dict[tuple[int, int], tuple[str, str, float]] = {}
        self.kinds: dict[int, str] = {}
        self.stopped = threading.Event()

    def _sample(self) -> None:
        try:
            tree = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        for process in tree:
            kind = self.kinds.get(process.pid) or _process_kind(process)
            if kind != "other" and process.pid not in self.kinds:  # a shell may become java
                self.kinds[process.pid] = kind
                if self.on_process:
                    self.on_process(process.pid, kind)
            try:
                tids = os.listdir(f"/proc/{process.pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    stat = Path(f"/proc/{process.pid}/task/{tid}/stat").read_text()
                except OSError:
                    continue
                name = stat[stat.index("(") + 1:stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2:].split()
                seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
                self.threads[(process.pid, int(tid))] = (kind, name, seconds)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self._sample()

    def table(self) -> list[tuple[str, str, float]]:
        """(process kind, thread kind, CPU seconds), largest first."""
        sums: collections.Counter = collections.Counter()
        for kind, name, seconds in self.threads.values():
            thread = _thread_kind(name) if kind == "Spark Connect server JVM" else "all threads"
            sums[(kind, thread)] += seconds
        return [(k, t, round(s, 1)) for (k, t), s in sums.most_common()]


# Python frame (substring, first match from the top wins) -> what it is
PYTHON_CATEGORIES = (
    ("_find_and_load", "imports"), ("matplotlib", "matplotlib"),
    ("grpc", "gRPC/Arrow (Spark Connect client)"), ("pyarrow", "gRPC/Arrow (Spark Connect client)"),
    ("pyspark", "PySpark client (plans, protobuf)"), ("pandas", "pandas"),
    ("nbclient", "papermill/nbclient/Jupyter"), ("papermill", "papermill/nbclient/Jupyter"),
    ("jupyter_client", "papermill/nbclient/Jupyter"), ("ipykernel", "papermill/nbclient/Jupyter"),
    ("zmq", "papermill/nbclient/Jupyter"), ("nbformat", "papermill/nbclient/Jupyter"),
    ("psutil", "runner's watches (psutil)"), ("lib/", "project code (lib)"),
)


def _python_process(text: str) -> str:
    """Which process one py-spy file sampled, from what its stacks hold."""
    if "ipykernel" in text:
        return "kernel"
    return "runner" if "lib/suite/run.py" in text else "other"


def python_categories(raw_files: list[Path]) -> collections.Counter:
    """py-spy ``--format raw`` samples (CPU-busy only; one file per process)
    by process (runner, kernel, other) and :data:`PYTHON_CATEGORIES`."""
    by_category: collections.Counter = collections.Counter()
    for raw_file in raw_files:
        text = raw_file.read_text()
        process = _python_process(text)
        for line in text.splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            frames = stack.split(";")[::-1]  # top of the stack first
            category = next((cat for frame in frames for needle, cat in PYTHON_CATEGORIES
                             if needle in frame), "other Python")
            by_category[(process, category)] += int(count)
    return by_category


def _jfr(jfr_file: Path, *args: str) -> str:
    """``jfr`` of the Java the project runs Spark on (lib.java), on ``jfr_file``."""
    from lib.java import find_java_home

    jfr = find_java_home() / "bin" / "jfr"
    return subprocess.run([str(jfr), *args, str(jfr_file)], capture_output=True, text=True,
                          check=True).stdout


def _samples(jfr_file: Path) -> list[list[str]]:
    """Each execution sample's stack as ``package.Class.method`` frames, top first
    (from ``jfr print``'s text, far smaller than its JSON)."""
    stacks, frames = [], None
    for line in _jfr(jfr_file, "print", "--stack-depth", "64",
                     "--events", "jdk.ExecutionSample").splitlines():
        line = line.strip()
        if line == "stackTrace = [":
            frames = []
        elif line == "]" and frames is not None:
            stacks.append(frames)
            frames = None
        elif frames is not None and line != "...":
            frames.append(line.split("(")[0])
    return stacks


def jfr_categories(jfr_file: Path) -> tuple[collections.Counter, collections.Counter, int]:
    """Execution samples by mechanism (:data:`FRAME_CATEGORIES`) and by top
    frame's package; and their total."""
    by_mechanism: collections.Counter = collections.Counter()
    by_package: collections.Counter = collections.Counter()
    stacks = _samples(jfr_file)
    for frames in stacks:
        by_mechanism[next((name for name, needles in FRAME_CATEGORIES
                           if any(n in f for f in frames for n in needles)),
                          "other (JDK, Scala, Spark)")] += 1
        by_package[".".join((frames or ["?"])[0].split(".")[:3])] += 1
    return by_mechanism, by_package, len(stacks)


def _last(jfr_file: Path, event: str, *fields: str) -> dict[str, str]:
    """The named fields of the last ``event`` in the recording, as printed."""
    found: dict[str, str] = {}
    for line in _jfr(jfr_file, "print", "--events", event).splitlines():
        name, _, value = line.strip().partition(" = ")
        if name in fields:
            found[name] = value
    return found


def _sum(jfr_file: Path, event: str, field: str) -> tuple[int, float]:
    """How many ``event``s and the sum of their ``field`` (a duration), in seconds."""
    count, total = 0, 0.0
    for line in _jfr(jfr_file, "print", "--events", event).splitlines():
        name, _, value = line.strip().partition(" = ")
        if name == field:
            count += 1
            total += _seconds(value)
    return count, total


def _seconds(value: str) -> float:
    """A duration as ``jfr print`` writes it (``20.0 ms``, ``1.5 s``, ``4 m 23 s``)."""
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = value.split()
    return sum(float(n) * units.get(u, 0.0) for n, u in zip(parts[::2], parts[1::2], strict=False))


def jfr_figures(jfr_file: Path) -> dict[str, object]:
    """GC, JIT compilation and class loading figures from the recording."""
    gcs, pauses = _sum(jfr_file, "jdk.GarbageCollection", "sumOfPauses")
    _, gc_user = _sum(jfr_file, "jdk.GCCPUTime", "userTime")
    _, gc_system = _sum(jfr_file, "jdk.GCCPUTime", "systemTime")
    jit = _last(jfr_file, "jdk.CompilerStatistics", "compileCount", "totalTimeSpent",
                "nmethodsSize")
    classes = _last(jfr_file, "jdk.ClassLoadingStatistics", "loadedClassCount")
    return {
        "GCs": gcs, "GC pauses (s)": round(pauses, 2),
        "GC CPU (s, user + system)": round(gc_user + gc_system, 1),
        "JIT compilations": jit.get("compileCount", "?"),
        "JIT compile time (s, summed over compiler threads)": round(
            _seconds(jit.get("totalTimeSpent", "0 s")), 1),
        "compiled code (nmethods)": jit.get("nmethodsSize", "?"),
        "classes loaded": classes.get("loadedClassCount", "?"),
    }


def report(jfr_file: Path, threads: list[tuple[str, str, float]] | None = None,
           python: collections.Counter | None = None) -> str:
    """The profile as markdown tables."""
    lines = []
    if threads:
        total = sum(s for _, _, s in threads) or 1.0
        lines += ["| process | threads | CPU s | share |", "|---|---|---:|---:|"]
        lines += [f"| {k} | {t} | {s:.1f} | {100 * s / total:.0f}% |" for k, t, s in threads]
        lines += [f"| all | | {total:.1f} | |", ""]
    by_mechanism, by_package, count = jfr_categories(jfr_file)
    lines += [f"JFR execution samples of the server's Java threads: {count}", "",
              "| mechanism (first in the list any frame names) | samples | share |", "|---|---:|---:|"]
    lines += [f"| {m} | {n} | {100 * n / max(count, 1):.0f}% |" for m, n in by_mechanism.most_common()]
    lines += ["", "| top frame's package | samples |", "|---|---:|"]
    lines += [f"| {p} | {n} |" for p, n in by_package.most_common(15)]
    lines += ["", "| JFR figure | value |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in jfr_figures(jfr_file).items()]
    if python:
        busy = sum(python.values())
        lines += ["", f"py-spy samples of the Python processes while busy: {busy}", "",
                  "| process | first known frame from the top | samples | share |",
                  "|---|---|---:|---:|"]
        lines += [f"| {p} | {c} | {n} | {100 * n / busy:.0f}% |"
                  for (p, c), n in python.most_common()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(report(Path(sys.argv[1])))
