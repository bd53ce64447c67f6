"""What the runner shows while and after it works: an overall progress bar
(notebooks done of total, and which are running) and a summary table.

On a terminal the bar redraws one line in place; elsewhere (CI logs, pipes)
each start and finish is a line of its own.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from lib.suite.models import Result, Status

BAR_WIDTH = 24


class Progress:
    """Thread-safe progress display for ``total`` notebooks."""

    def __init__(self, total: int, stream: TextIO | None = None):
        self.total = total
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.done = 0
        self.failed = 0
        self.running: dict[str, float] = {}
        self.began = time.monotonic()
        self._lock = threading.Lock()

    def started(self, name: str) -> None:
        with self._lock:
            self.running[name] = time.monotonic()
            if not self.live:
                self._line(f"start  {name}")
            self._draw()

    def finished(self, result: Result) -> None:
        with self._lock:
            self.running.pop(result.name, None)
            self.done += 1
            self.failed += not result.ok
            mark = "ok    " if result.ok else f"{result.status:<6}"
            self._line(f"{mark} {result.name} ({result.seconds:.1f} s)")
            self._draw()

    def skipped(self, result: Result) -> None:
        """A notebook not run because its outputs are current."""
        with self._lock:
            self.done += 1
            self._line(f"{Status.UP_TO_DATE} {result.name}")
            self._draw()

    def tick(self) -> None:
        """Redraw (elapsed time moves on); call about once a second."""
        with self._lock:
            self._draw()

    def close(self) -> None:
        with self._lock:
            if self.live:
                self.stream.write("\r\x1b[K")
                self.stream.flush()

    def _bar(self) -> str:
        filled = int(BAR_WIDTH * self.done / self.total) if self.total else BAR_WIDTH
        running = ", ".join(sorted(name[:2] for name in self.running)) or "-"
        failed = f", {self.failed} failed" if self.failed else ""
        elapsed = time.monotonic() - self.began
        return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} done"
                f"{failed} | running: {running} | {elapsed:.0f} s")

    def _line(self, text: str) -> None:
        prefix = "\r\x1b[K" if self.live else ""
        self.stream.write(f"{prefix}[{self.done:>2}/{self.total}] {text}\n")
        self.stream.flush()

    def _draw(self) -> None:
        if self.live:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r\x1b[K" + self._bar()[:width])
            self.stream.flush()


def summary_table(results: Sequence[Result]) -> str:
    """Notebook, status, seconds and output files written, one row each,
    then the failures' details."""
    rows = [("notebook", "status", "seconds", "outputs written")]
    for r in results:
        outputs = ", ".join(r.outputs) if r.outputs else "-"
        rows.append((r.name, r.status, f"{r.seconds:.1f}", outputs))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        lines.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}")
        if i == 0:
            lines.append("-" * (sum(widths) + 4 + 2 + len("outputs written")))
    for r in results:
        if r.status in (Status.FAILED, Status.INTERRUPTED) and (r.error or r.executed):
            lines.append("")
            lines.append(f"{r.name} {r.status}:")
            lines.extend(f"    {text}" for text in r.error.splitlines())
            if r.executed:
                lines.append(f"    executed notebook: {r.executed}")
    return "\n".join(lines)
