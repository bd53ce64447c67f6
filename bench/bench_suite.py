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
Writes ``output/bench/results.csv`` and ``output/bench/suite_scaling.png``.
Only measures; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench"
RESULTS = ROOT / "output" / "bench"
REFERENCE_DATE = "2026-11-01"
CUSTOMERS = {10_000: 2_000, 1_000_000: 100_000, 10_000_000: 500_000}
NOTEBOOKS = [f"{n:02d}" for n in range(12)]
FIELDS = ["orders", "mode", "wall_seconds", "rows_per_second", "jvm_peak_mb",
          "python_peak_mb", "exit_code", *[f"nb{n}_seconds" for n in NOTEBOOKS]]


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


def notebook_seconds(output: Path) -> dict[str, float]:
    seconds = {}
    for executed in sorted((output / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        meta = json.loads(executed.read_text()).get("metadata", {}).get("papermill", {})
        if meta.get("duration") is not None:
            seconds[f"nb{executed.name[:2]}_seconds"] = round(meta["duration"], 1)
    return seconds


def run_suite(orders: int, shared: bool) -> dict:
    output = CACHE / "out" / f"{orders}-{'shared' if shared else 'own'}"
    shutil.rmtree(output, ignore_errors=True)
    command = [sys.executable, "-m", "lib.run", "--data-dir", str(dataset(orders)),
               "--output-dir", str(output), "--as-of-date", REFERENCE_DATE]
    if not shared:
        command.append("--no-shared-session")
    log = (CACHE / f"run-{orders}-{'shared' if shared else 'own'}.log").open("w")
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    memory = PeakMemory(process.pid)
    memory.start()
    exit_code = process.wait()
    wall = time.perf_counter() - started
    memory.stopped.set()
    memory.join()
    return {
        "orders": orders, "mode": "shared" if shared else "no-shared-session",
        "wall_seconds": round(wall, 1), "rows_per_second": round(orders / wall),
        "jvm_peak_mb": round(memory.jvm / 2**20), "python_peak_mb": round(memory.python / 2**20),
        "exit_code": exit_code, **notebook_seconds(output),
    }


def chart(rows: list[dict]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shared = sorted((r for r in rows if r["mode"] == "shared"), key=lambda r: r["orders"])
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
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for orders in [int(s) for s in args.scales.split(",")]:
        dataset(orders)
        modes = [True] if orders != 10_000 or args.skip_no_shared else [True, False]
        for shared in modes:
            for _ in range(args.repeat):
                row = run_suite(orders, shared)
                rows.append(row)
                print(json.dumps({k: row[k] for k in FIELDS[:7]}), flush=True)
    with (RESULTS / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    small = [r for r in rows if r["orders"] == 10_000]
    best = {m: min(r["wall_seconds"] for r in small if r["mode"] == m)
            for m in {r["mode"] for r in small}}
    if len(best) == 2:
        print(f"10k: shared {best['shared']} s, own sessions {best['no-shared-session']} s, "
              f"ratio {best['no-shared-session'] / best['shared']:.1f}x")
    print(f"wrote {RESULTS / 'results.csv'} and {chart(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
