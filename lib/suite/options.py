"""The suite runner's command line: its options, which notebooks ``--only``
picks, and how many run at once (``--jobs``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from lib.config import DEFAULTS, PROJECT_ROOT
from lib.errors import TicketInsightsError
from lib.suite.run_record import KEEP_RUNS
from lib.suite.share import add_share_options

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
KEEP_WARM = 600.0  # s the runner's Spark server stays up after its last use (--keep-warm)


def default_jobs(shared: bool) -> int:
    """Notebooks at once. With one shared server the kernels mostly wait on it,
    so twice the cores keeps it busy (on 2 cores, 4 at once was the fastest of
    2, 3 and 4); with local sessions each notebook is a JVM: one per core."""
    cores = os.cpu_count() or 2
    return max(2, min(6, 2 * cores)) if shared else max(1, min(4, cores))


def arguments(argv: list[str] | None, description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lib.run", description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", default=DEFAULTS["data_dir"],
                        help="folder with tickets.csv and customer.json (default: %(default)s)")
    parser.add_argument("--output-dir", default=DEFAULTS["output_dir"],
                        help="folder the outputs go to (default: %(default)s)")
    parser.add_argument("--as-of-date", default=DEFAULTS["as_of_date"],
                        help="yyyy-mm-dd (default: today)")
    parser.add_argument("--season-start-month", default=DEFAULTS["season_start_month"],
                        help="1-12 (default: %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="run every notebook, also those whose outputs are up to date")
    parser.add_argument("--only", default="", help="comma-separated notebook numbers, e.g. 03,05")
    parser.add_argument("--jobs", default=None, help="notebooks at once (default: what suits the machine)")
    parser.add_argument("--no-shared-session", action="store_true",
                        help="give every notebook its own local Spark session")
    parser.add_argument("--notebooks-dir", default=str(PROJECT_ROOT / "notebooks"),
                        help="where the notebooks are (default: the project's notebooks/)")
    parser.add_argument("--no-report", action="store_true", help="skip the HTML report")
    parser.add_argument("--timeout", default=None,
                        help="seconds a notebook may run before it is stopped and fails "
                             "(default: 10 minutes plus 2 s per MB of input)")
    parser.add_argument("--server-java-option", action="append", default=[], metavar="OPTION",
                        dest="server_java_options",
                        help="an option for the JVM of the Spark Connect server started here "
                             "(repeatable; e.g. a flight recording: make bench PROFILE=1)")
    parser.add_argument("--keep-warm", type=_seconds, default=KEEP_WARM, metavar="SECONDS",
                        help="keep the Spark Connect server up for this long after its last "
                             "use, for the next run to reuse (0: a server of this run's own, "
                             "stopped at its end; default: %(default)g; make stop stops it)")
    parser.add_argument("--server-state", type=Path, default=None, metavar="FILE",
                        help="where the shared server (make lab's or a warm one) is recorded "
                             "(default: output/.spark-server.json)")
    add_share_options(parser)
    weekly = parser.add_argument_group("run records and changes (lib.suite.review)")
    weekly.add_argument("--dry-run", action="store_true",
                        help="list each notebook with what it would do and why; start nothing")
    weekly.add_argument("--compare-to", default=None, metavar="RECORD",
                        help="compare with this run (output/runs/<id>) instead of the previous one")
    weekly.add_argument("--fail-on-drift", action="store_true",
                        help="exit 3 when a change since the compared run is flagged")
    weekly.add_argument("--keep-runs", type=int, default=KEEP_RUNS, metavar="N",
                        help="run records kept in <output>/runs (default: %(default)s)")
    return parser.parse_args(argv)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"a number of seconds >= 0, got {value!r}")
    return seconds


def select(folder: Path, only: str) -> list[Path]:
    if not folder.is_dir():
        raise TicketInsightsError(f"notebooks folder {folder} not found")
    available = sorted(folder.glob(NOTEBOOK_GLOB))
    if not available:
        raise TicketInsightsError(f"no notebooks NN_*.ipynb in {folder}")
    wanted = [part.strip() for part in only.split(",") if part.strip()]
    if not wanted:
        return available
    numbers = {nb.name[:2] for nb in available}
    chosen = set()
    for part in wanted:
        if not part.isdigit() or f"{int(part):02d}" not in numbers:
            raise TicketInsightsError(
                f"--only: no notebook {part!r} in {folder} (have {', '.join(sorted(numbers))})"
            )
        chosen.add(f"{int(part):02d}")
    return [nb for nb in available if nb.name[:2] in chosen]


def jobs(value: str | None, shared: bool) -> int:
    if value is None or str(value).strip() == "":
        return default_jobs(shared)
    if not str(value).strip().isdigit() or int(value) < 1:
        raise TicketInsightsError(f"--jobs must be a whole number >= 1, got {value!r}")
    return int(value)


def timeout(value: str | None, input_bytes: int) -> float:
    """Seconds one notebook may run. The default is generous and grows with
    the input: a 10M-order input (1.1 GB) gets about 47 minutes a notebook."""
    if value is None or str(value).strip() == "":
        return 600.0 + 2.0 * input_bytes / 1e6
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise TicketInsightsError(f"--timeout must be a number of seconds > 0, got {value!r}")
    return seconds
