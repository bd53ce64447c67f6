"""Run parameters and paths: the one place that knows where things live.

Notebooks pass their papermill parameters to :func:`make_params`, which
validates them before any Spark session exists.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from lib.errors import ParameterError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TICKETS_FILE = "tickets.csv"
CUSTOMERS_FILE = "customer.json"
# Held in the output folder by whoever runs a whole batch into it (lib.suite.cleanup).
BATCH_LOCK_FILE = ".run.lock"
# The run parameters' defaults, in one place: the notebooks' setup, the runner
# and the Makefile take them from here (a notebook's parameters cell repeats
# them as literals, as papermill needs; a test checks they agree).
DEFAULTS = {
    "data_dir": "data",
    "output_dir": "output",
    "as_of_date": None,  # today
    "season_start_month": 8,
    "run_context": None,  # the suite runner's context file (lib.run_context); None outside it
}


@dataclass(frozen=True)
class Params:
    """Validated parameters shared by every notebook."""

    data_dir: Path
    output_dir: Path
    as_of_date: dt.date
    season_start_month: int

    @property
    def tickets_path(self) -> Path:
        return self.data_dir / TICKETS_FILE

    @property
    def customers_path(self) -> Path:
        return self.data_dir / CUSTOMERS_FILE

    @property
    def staging_dir(self) -> Path:
        """Cleaned inputs as parquet, reused while the inputs are unchanged."""
        return self.output_dir / "_staging"

    @property
    def warehouse_dir(self) -> Path:
        """Parquet folders behind the Spark SQL tables of 08 and 09."""
        return self.output_dir / "warehouse"

    @property
    def charts_dir(self) -> Path:
        return self.output_dir / "charts"

    @property
    def rejects_dir(self) -> Path:
        return self.output_dir / "rejects"


def _resolve(path: str | os.PathLike, name: str, base: Path) -> Path:
    if path is None or str(path).strip() == "":
        raise ParameterError(f"{name} must be a folder path, got {path!r}")
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = base / candidate
    return candidate.resolve()


def _check_output_dir_can_be_made(output: Path) -> None:
    """The output folder exists as a folder, or it can be created: its nearest
    existing ancestor is a folder we may create folders in. Creates nothing."""
    existing = output
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    verb = "created"
    if not existing.is_dir():
        why = f"{existing} is {'a file, ' if existing.is_file() else ''}not a folder"
    elif existing != output and not os.access(existing, os.W_OK | os.X_OK):
        why = f"no permission to create folders in {existing}"
    elif existing == output and not os.access(output, os.W_OK | os.X_OK):
        # not ours to write, or on a read-only file system (access() says so even to root)
        why, verb = "no permission to write in it", "written"
    else:
        return
    raise ParameterError(f"output_dir {output} cannot be {verb}: "
                         f"{why}; choose another output folder (--output-dir, make run OUTPUT_DIR=...)")


def parse_as_of_date(value: str | dt.date | None) -> dt.date:
    """``None`` means today (in UTC, the time zone of every Spark session);
    otherwise a real ISO ``yyyy-mm-dd`` date."""
    if value is None or value == "":
        return dt.datetime.now(dt.UTC).date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParameterError(
            f"as_of_date must be a real ISO date yyyy-mm-dd, got {value!r}"
        ) from None


def parse_season_start_month(value: int | str) -> int:
    try:
        month = int(str(value).strip())
    except ValueError:
        month = 0
    if not 1 <= month <= 12 or str(value).strip() not in (str(month), f"{month:02d}"):
        raise ParameterError(
            f"season_start_month must be a whole number 1-12, got {value!r}"
        )
    return month


def make_params(
    data_dir: str | os.PathLike = DEFAULTS["data_dir"],
    output_dir: str | os.PathLike = DEFAULTS["output_dir"],
    as_of_date: str | dt.date | None = DEFAULTS["as_of_date"],
    season_start_month: int | str = DEFAULTS["season_start_month"],
    base_dir: Path = PROJECT_ROOT,
) -> Params:
    """Validate raw parameters (from papermill, the CLI or a test).

    Relative folders are taken from ``base_dir`` (the project root), so a
    notebook finds ``data/`` whether it runs in JupyterLab, papermill or nbval.
    """
    data = _resolve(data_dir, "data_dir", base_dir)
    output = _resolve(output_dir, "output_dir", base_dir)
    if output == data or data in output.parents:
        raise ParameterError(
            f"output_dir {output} is the same as or inside data_dir {data}; "
            "choose another output folder so inputs are never overwritten"
        )
    _check_output_dir_can_be_made(output)
    return Params(
        data_dir=data,
        output_dir=output,
        as_of_date=parse_as_of_date(as_of_date),
        season_start_month=parse_season_start_month(season_start_month),
    )
