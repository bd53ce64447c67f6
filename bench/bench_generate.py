"""Benchmark generate_data.py: wall time, rows/s and output size at large scales.

Usage::

    python bench/bench_generate.py                      # 1M and 10M orders, once each
    python bench/bench_generate.py --scales 1000000 --repeat 3

Each run is a subprocess (``sys.executable generate_data.py ...``) writing into a
scratch directory under ``.cache/bench`` (removed afterwards unless ``--keep``).
Customers scale with orders (100k for 1M orders, 500k for 10M; else orders / 10,
capped at 500k). Results go to stdout as a table and to ``output/bench/generate.csv``.
No timing is asserted: this only measures.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CUSTOMERS = {1_000_000: 100_000, 10_000_000: 500_000}
FIELDS = ["orders", "customers", "seconds", "rows_per_second", "tickets_bytes"]


def customers_for(orders: int) -> int:
    return CUSTOMERS.get(orders, max(1000, min(500_000, orders // 10)))


def run_once(orders: int, customers: int, scratch: Path, seed: int) -> dict:
    if scratch.exists():
        shutil.rmtree(scratch)
    cmd = [sys.executable, str(ROOT / "generate_data.py"), "--orders", str(orders),
           "--customers", str(customers), "--seed", str(seed), "--out", str(scratch)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    return {
        "orders": orders,
        "customers": customers,
        "seconds": round(seconds, 2),
        "rows_per_second": round(orders / seconds),
        "tickets_bytes": (scratch / "tickets.csv").stat().st_size,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scales", default="1000000,10000000",
                   help="comma-separated order counts (default 1000000,10000000)")
    p.add_argument("--repeat", type=int, default=1, help="runs per scale (default 1)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--scratch", type=Path, default=ROOT / ".cache" / "bench" / "generate")
    p.add_argument("--csv", type=Path, default=ROOT / "output" / "bench" / "generate.csv")
    p.add_argument("--keep", action="store_true", help="keep the last generated files")
    a = p.parse_args(argv)
    results = []
    try:
        for orders in (int(s.replace("_", "")) for s in a.scales.split(",") if s.strip()):
            for _ in range(a.repeat):
                results.append(run_once(orders, customers_for(orders), a.scratch, a.seed))
                r = results[-1]
                print(f"{r['orders']:>12,} orders {r['seconds']:>8.2f} s", file=sys.stderr)
    finally:
        if not a.keep and a.scratch.exists():
            shutil.rmtree(a.scratch)
    a.csv.parent.mkdir(parents=True, exist_ok=True)
    with a.csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(results)
    print(f"{'orders':>12} {'customers':>10} {'seconds':>9} {'rows/s':>11} {'tickets MB':>11}")
    for r in results:
        print(f"{r['orders']:>12,} {r['customers']:>10,} {r['seconds']:>9.2f} "
              f"{r['rows_per_second']:>11,} {r['tickets_bytes'] / 1e6:>11.1f}")
    print(f"written {a.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
