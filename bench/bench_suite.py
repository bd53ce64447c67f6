"""Benchmark the whole notebook suite from 10 thousand to 10 million orders.

Usage::

    python bench/bench_suite.py                              # 10k, 1M, 10M
    python bench/bench_suite.py --scales 10000 --repeat 2

For each scale: generate data once (cached in ``.cache/bench/data/<orders>``),
then run ``python -m lib.run`` into a fresh output folder (so the staging layer
is built too) and record total wall time, each notebook's time (from the
executed notebooks), peak resident memory of the Spark JVM and of all Python
processes (sampled every 0.2 s over the runner's process tree), and input rows
per second. At the default scale the same suite also runs with
``--no-shared-session``, in the same benchmark run, and the ratio is reported.
At the default scale it also reruns the shared suite on the same folder, with
nothing changed, to time the up-to-date check (no notebook should run), and
times a run on a warm server (``warm server (second run, --force)``): a first,
untimed run with ``--keep-warm 120`` leaves its server up, a second, timed run
with ``--force`` reuses it, then the server is stopped (as ``make stop`` does).
Every other run is cold: ``--keep-warm 0``, a server of its own, never one of
``make lab`` or a warm one. The warm run's ``jvm_peak_mb`` is empty: its JVM is
not the runner's child.

Writes ``output/bench/results.csv``: one row per run (``notebook`` = ``suite``)
and one per notebook, with where its time went: waiting for a kernel and
papermill's start (``kernel_s``), the setup cell (imports, Spark session,
staged data), the writes (CSV and tables: each result is computed by its
write), the charts with the small results fetched for them, and the rest
(``other_s``: transforms defined, SQL summaries, checks). ``actions`` lists
every Spark action the notebook helpers timed (from the notebook's manifest),
and is printed per notebook. Also ``output/bench/suite_scaling.png``. Only
measures; nothing here asserts a time.

``--profile`` (``make bench PROFILE=1``) also records, for the first shared
run at each scale, where the CPU went (:mod:`bench.profile_summary`): a Java
Flight Recording of the Spark Connect server (``output/bench/server-<orders>.jfr``,
given to the server as a JVM option of the runner's ``--server-java-option``),
every thread's CPU time, and py-spy samples of the runner and of each kernel
(``python-<orders>-<pid>.txt``); the summary is ``output/bench/profile-<orders>.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.profile_summary import ThreadCpu, python_categories, report
from lib.manifest import manifest_path, read_manifest

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench"
RESULTS = ROOT / "output" / "bench"
REFERENCE_DATE = "2026-11-01"
# each timed run starts its own Spark and stops it: never a running `make lab`'s
# server (a state file of the bench's own), no server kept warm for the next run
COLD = ("--keep-warm", "0", "--server-state", str(CACHE / "no-lab-server.json"))
WARM_STATE = CACHE / "warm-server.json"  # the warm-server figure's own server
WARM = "warm server (second run, --force)"
CUSTOMERS = {10_000: 2_000, 1_000_000: 100_000, 10_000_000: 500_000}
NOTEBOOKS = [f"{n:02d}" for n in range(12)]
FIELDS = ["orders", "mode", "notebook", "wall_seconds", "kernel_s", "setup_s", "write_s",
          "chart_s", "other_s", "rows_per_second", "jvm_peak_mb", "python_peak_mb", "exit_code",
          "actions"]
PHASES = (("setup_s", "nb.setup("), ("chart_s", "nb.save_chart("), ("write_s", "nb.write("),
          ("write_s", "nb.save_table("), ("chart_s", "nb.fetch("))


def dataset(orders: int) -> Path:
    folder = CACHE / "data" / str(orders)
    if not (folder / "tickets.csv").exists():
        customers = CUSTOMERS.get(orders, max(1000, orders // 10))
        subprocess.run([sys.executable, str(ROOT / "generate_data.py"), "--out", str(folder),
                        "--orders", str(orders), "--customers", str(customers),
                        "--reference-date", REFERENCE_DATE], check=True)
    return folder


class PeakMemory(threading.Thread):
    """Samples the RSS of a process tree: Java processes vs Python processes."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.jvm = self.python = 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(0.2):
            jvm = python = 0
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in tree:
                try:
                    rss, name = proc.memory_info().rss, proc.name()
                except psutil.Error:
                    continue
                if name == "java":
                    jvm += rss
                elif name.startswith("python"):
                    python += rss
            self.jvm, self.python = max(self.jvm, jvm), max(self.python, python)


def _phase(source: str) -> str:
    return next((name for name, call in PHASES if call in source), "other_s")


def _actions(output: Path, notebook: str) -> str:
    """The Spark actions the notebook's helpers timed, as ``what=seconds; ...``."""
    manifest = read_manifest(manifest_path(output, notebook)) or {}
    return "; ".join(f"{a['action']}={a['seconds']:.2f}" for a in manifest.get("actions", []))


def notebook_phases(output: Path, base: dict) -> list[dict]:
    """Per notebook: its wall time split by what its cells do."""
    rows = []
    for executed in sorted((output / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(executed.read_text())
        total = nb.get("metadata", {}).get("papermill", {}).get("duration")
        if total is None:
            continue
        row = {**base, "notebook": executed.stem, "wall_seconds": round(total, 2),
               "setup_s": 0.0, "write_s": 0.0, "chart_s": 0.0, "other_s": 0.0,
               "actions": _actions(output, executed.stem)}
        for cell in nb["cells"]:
            seconds = cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                row[_phase(source)] = round(row[_phase(source)] + seconds, 2)
        cells = sum(row[k] for k in ("setup_s", "write_s", "chart_s", "other_s"))
        row["kernel_s"] = round(max(0.0, total - cells), 2)
        rows.append(row)
    return rows


def _flight_recording(orders: int) -> str:
    """The runner's option that has its server's JVM record a JFR file."""
    jfr = RESULTS / f"server-{orders}.jfr"
    return f"--server-java-option=-XX:StartFlightRecording=filename={jfr},settings=profile"


def _start_profilers(orders: int, pid: int):
    """A thread sampler on the runner ``pid``'s tree, which starts a py-spy
    recorder on the runner and on each kernel as it appears."""
    for old in RESULTS.glob(f"python-{orders}-*.txt"):
        old.unlink()
    spies: list[subprocess.Popen] = []

    def record(process: int, kind: str) -> None:
        if "Python" in kind and "other" not in kind:
            spies.append(subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(process),
                 "--nonblocking", "--rate", "50", "--format", "raw",
                 "--output", str(RESULTS / f"python-{orders}-{process}.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    threads = ThreadCpu(pid, on_process=record)
    threads.start()
    return threads, spies


def _write_profile(orders: int, threads: ThreadCpu, spies: list[subprocess.Popen]) -> Path:
    threads.stopped.set()
    threads.join()
    for spy in spies:
        try:
            spy.wait(timeout=30)  # each ends with its process and writes its samples
        except subprocess.TimeoutExpired:
            spy.terminate()
    summary = RESULTS / f"profile-{orders}.md"
    python = python_categories(sorted(RESULTS.glob(f"python-{orders}-*.txt")))
    summary.write_text(f"# Profile of the suite at {orders:,} orders\n\n"
                       + report(RESULTS / f"server-{orders}.jfr", threads.table(), python))
    return summary


def run_suite(orders: int, shared: bool, rerun: bool = False, profile: bool = False,
              warm: bool = False) -> list[dict]:
    """One suite run into a fresh folder (``rerun``: again into the last one,
    nothing changed); returns the suite row, then one row per notebook run.
    ``profile``: also write where the CPU went (``output/bench/profile-<orders>.md``).
    ``warm``: a first, untimed run leaves its server warm; the timed run is a
    second one (``--force``) that reuses it; the server is stopped after it."""
    output = CACHE / "out" / f"{orders}-{'warm' if warm else 'shared' if shared else 'own'}"
    if not rerun:
        shutil.rmtree(output, ignore_errors=True)
    server = ("--keep-warm", "120", "--server-state", str(WARM_STATE)) if warm else COLD
    command = [sys.executable, "-m", "lib.run", *server, "--data-dir", str(dataset(orders)),
               "--output-dir", str(output), "--as-of-date", REFERENCE_DATE]
    if not shared:
        command.append("--no-shared-session")
    if profile:
        command.append(_flight_recording(orders))
    mode = WARM if warm else \
        ("shared" if shared else "no-shared-session") + (" unchanged rerun" if rerun else "")
    log = (CACHE / f"run-{orders}-{'warm' if warm else mode.replace(' ', '-')}.log").open("w")
    env = dict(os.environ)
    env.pop("SPARK_REMOTE", None)
    try:
        if warm:
            subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
                           timeout=3600)
            command.append("--force")
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env=env)
        memory = PeakMemory(process.pid)  # a warm server is not the runner's child: no JVM here
        memory.start()
        profiler = _start_profilers(orders, process.pid) if profile else None
        exit_code = process.wait()
        wall = time.perf_counter() - started
    finally:
        if warm:  # what make stop does
            subprocess.run([sys.executable, "-m", "lib.suite.warm_server", "stop",
                            "--state-file", str(WARM_STATE)], cwd=ROOT, stdout=log,
                           stderr=subprocess.STDOUT, timeout=120)
    memory.stopped.set()
    memory.join()
    if profiler:
        print(f"profile: {_write_profile(orders, *profiler)}", flush=True)
    suite = {
        "orders": orders, "mode": mode, "notebook": "suite",
        "wall_seconds": round(wall, 1), "rows_per_second": round(orders / wall),
        "jvm_peak_mb": "" if warm else round(memory.jvm / 2**20),
        "python_peak_mb": round(memory.python / 2**20), "exit_code": exit_code,
    }
    return [suite, *([] if rerun else notebook_phases(output, {"orders": orders, "mode": mode}))]


def chart(rows: list[dict]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shared = sorted((r for r in rows if r["mode"] == "shared" and r["notebook"] == "suite"),
                    key=lambda r: r["orders"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs, ys = [r["orders"] for r in shared], [r["wall_seconds"] for r in shared]
    ax.loglog(xs, ys, "o-", label="whole suite (shared Spark)")
    if xs:
        ax.loglog(xs, [ys[0] * x / xs[0] for x in xs], ":", color="grey", label="linear from 10k")
    for x, y in zip(xs, ys, strict=True):
        ax.annotate(f"{y:.0f} s", (x, y), textcoords="offset points", xytext=(6, -12))
    ax.set_xlabel("orders (log)")
    ax.set_ylabel("wall seconds (log)")
    ax.set_title("Notebook suite: time against input size")
    ax.legend()
    path = RESULTS / "suite_scaling.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="10000,1000000,10000000")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-no-shared", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="record where the CPU goes in the first shared run of each scale")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for orders in [int(s) for s in args.scales.split(",")]:
        dataset(orders)
        small = orders == min(int(s) for s in args.scales.split(","))
        runs = [(True, False, False), *([(True, True, False)] if small else []),
                *([(False, False, False)] if small and not args.skip_no_shared else []),
                *([(True, False, True)] if small else [])]
        for shared, rerun, warm in runs:
            for repeat in range(args.repeat):
                profile = args.profile and shared and not rerun and not warm and repeat == 0
                ran = run_suite(orders, shared, rerun, profile, warm)
                rows.extend(ran)
                print(json.dumps({k: ran[0][k] for k in ("orders", "mode", "wall_seconds",
                                                         "jvm_peak_mb", "exit_code")}), flush=True)
                for row in ran[1:]:
                    print("   " + "  ".join(f"{k}={row[k]}" for k in FIELDS[2:9]), flush=True)
                    print("      actions: " + (row["actions"] or "-"), flush=True)
    with (RESULTS / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    smallest = min(r["orders"] for r in rows)
    suites = [r for r in rows if r["orders"] == smallest and r["notebook"] == "suite"]
    best = {m: min(r["wall_seconds"] for r in suites if r["mode"] == m)
            for m in {r["mode"] for r in suites}}
    summary = [f"{m} {s} s" for m, s in sorted(best.items())]
    if "shared" in best and "no-shared-session" in best:
        summary.append(f"ratio {best['no-shared-session'] / best['shared']:.1f}x")
    print(f"{smallest:,} orders: " + ", ".join(summary))
    print(f"wrote {RESULTS / 'results.csv'} and {chart(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
