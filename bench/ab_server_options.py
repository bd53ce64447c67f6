"""A/B the Spark Connect server's JVM options on the whole suite, interleaved.

Usage::

    python bench/ab_server_options.py --orders 10000 --rounds 3 \\
        --variant base= --variant c1=-XX:TieredStopAtLevel=1

Each round runs every variant once, in turn (A B A B ...), on the same cached
data (``bench_suite.dataset``) into a fresh output folder, with the variant's
options given to the runner's server (``--server-java-option``). Per run:
wall seconds, CPU seconds of the whole process tree (reaped children's rusage)
and of the server JVM's compiler and GC threads, the server's start time, the
1-minute load average before the run, and whether the CSVs equal the first
run's (``cmp``). Appends to ``output/bench/ab.csv``; prints medians.
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_suite import CACHE, COLD, REFERENCE_DATE, RESULTS, ROOT, dataset
from bench.profile_summary import ThreadCpu

FIELDS = ["variant", "orders", "round", "wall_s", "cpu_s", "jit_cpu_s", "gc_cpu_s",
          "server_ready_s", "load_1m", "exit_code", "csvs_equal"]


def _csvs(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*.csv")
                  if "runs" not in p.parts and "logs" not in p.parts)


def same_csvs(a: Path, b: Path) -> bool:
    names = _csvs(a)
    return names == _csvs(b) and all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def run(variant: str, options: list[str], orders: int, index: int) -> dict:
    output = CACHE / "ab" / f"{orders}-{variant}-{index}"
    shutil.rmtree(output, ignore_errors=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "lib.run", *COLD, "--data-dir", str(dataset(orders)),
               "--output-dir", str(output), "--as-of-date", REFERENCE_DATE,
               *(f"--server-java-option={o}" for o in options)]
    env = dict(os.environ)
    env.pop("SPARK_REMOTE", None)
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with (output.parent / f"{output.name}.log").open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        threads = ThreadCpu(process.pid)
        threads.start()
        code = process.wait()
    wall = time.perf_counter() - started
    threads.stopped.set()
    threads.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    jvm = {t: s for k, t, s in threads.table() if k == "Spark Connect server JVM"}
    text = (output.parent / f"{output.name}.log").read_text()
    ready = re.search(r"ready in ([\d.]+) s", text)
    return {"variant": variant, "orders": orders, "round": index, "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
            "jit_cpu_s": round(sum(s for t, s in jvm.items() if t.startswith("JIT")), 1),
            "gc_cpu_s": round(sum(s for t, s in jvm.items() if t.startswith("GC")), 1),
            "server_ready_s": float(ready.group(1)) if ready else "",
            "load_1m": round(load, 2), "exit_code": code, "output": output}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", action="append", required=True, metavar="NAME=OPTIONS",
                        help="a name and the server's JVM options, space-separated")
    args = parser.parse_args()
    variants = [(v.split("=", 1)[0], v.split("=", 1)[1].split()) for v in args.variant]
    RESULTS.mkdir(parents=True, exist_ok=True)
    table = RESULTS / "ab.csv"
    new = not table.exists()
    rows, reference = [], None
    with table.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        for index in range(args.rounds):
            for name, options in variants:
                row = run(name, options, args.orders, index)
                reference = reference or row["output"]
                row["csvs_equal"] = same_csvs(reference, row["output"])
                writer.writerow(row)
                handle.flush()
                rows.append(row)
                print({k: row[k] for k in FIELDS}, flush=True)
    for name, _ in variants:
        mine = [r for r in rows if r["variant"] == name]
        print(f"{name}: median wall {statistics.median(r['wall_s'] for r in mine):.1f} s, "
              f"median CPU {statistics.median(r['cpu_s'] for r in mine):.1f} s, "
              f"runs {len(mine)}, all CSVs equal: {all(r['csvs_equal'] for r in mine)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
