"""What every insight notebook does around its one transform: validate the
parameters, get Spark and the staged data, write and preview, fetch small
results for charts, and record each write and each Spark action's seconds in
the notebook's manifest (:mod:`lib.manifest`).

Each result is computed once, by its write; the preview is read back from the
written file. Charts aggregate the written file in Spark (:func:`written`) and
fetch only the aggregate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession

from lib.config import DEFAULTS, make_params
from lib.manifest import Recorder, TrackedParams, notebook_name
from lib.run_context import read_run_context
from lib.staged import STAGED_PARTS, Staged, is_staged, load_staged, part_sources
from lib.writer import write_csv

PREVIEW_ROWS = 10
MAX_FETCH_ROWS = 100_000  # what fetch brings to the driver at most: small results only


class TrackedStaged:
    """A :class:`~lib.staged.Staged` that notes in the manifest which staged
    data the notebook used, and the inputs it is cleaned from (the lineage)."""

    def __init__(self, staged: Staged, recorder: Recorder, params: TrackedParams):
        self._staged, self._recorder, self._params = staged, recorder, params

    def __getattr__(self, name: str):
        value = getattr(self._staged, name)
        if name in STAGED_PARTS and self._staged.folder is not None:
            for part in STAGED_PARTS[name]:
                self._recorder.read(self._staged.folder / part, "staged",
                                    part_sources(self._params, part))
        return value


@dataclass(frozen=True)
class Context:
    params: TrackedParams  # a Params that notes which run parameters were read
    spark: SparkSession
    staged: Staged | TrackedStaged
    recorder: Recorder


def setup(
    data_dir: str = DEFAULTS["data_dir"],
    output_dir: str = DEFAULTS["output_dir"],
    as_of_date: str | None = DEFAULTS["as_of_date"],
    season_start_month: int = DEFAULTS["season_start_month"],
    run_context: str | None = DEFAULTS["run_context"],
) -> Context:
    """Validate parameters (before Spark starts), then get Spark and the
    staged clean data for this notebook: the suite runner's endpoint and pinned
    inputs when it ran the notebook (``run_context``), else Spark from the
    environment and the inputs as they are now."""
    params = make_params(data_dir, output_dir, as_of_date, season_start_month)
    context = read_run_context(run_context)
    pin = context.pin if context else None
    from lib.input_checks import check_input_files
    from lib.session import get_spark, spark_ui_url

    if not is_staged(params, pin):  # file checks before any JVM starts (cheap when staged)
        check_input_files(params.tickets_path, params.customers_path)
    spark = get_spark(remote=context.spark_remote if context else None)
    print(f"as_of_date={params.as_of_date}  season_start_month={params.season_start_month}")
    if ui := spark_ui_url(spark):  # e.g. the shared server of `make lab`
        print(f"Spark UI: {ui}")
    tracked = TrackedParams(params)
    recorder = Recorder(context.notebook if context else notebook_name(), tracked)
    return Context(params=tracked, spark=spark, recorder=recorder,
                   staged=TrackedStaged(load_staged(spark, params, pin), recorder, params))


def write(df: DataFrame, ctx: Context, relative_path: str, rows: int = PREVIEW_ROWS) -> None:
    """Write an output CSV under the output folder (atomically), then show its
    row count and first ``rows`` rows as written.

    The write is the result's one Spark job: the count comes from the writer
    and the preview from the file itself, so nothing is computed twice and
    nothing needs caching.
    """
    began = time.monotonic()
    written = write_csv(df, ctx.params.output_dir / relative_path)
    ctx.recorder.timed(f"write {relative_path}", time.monotonic() - began)
    ctx.recorder.wrote(written.path, "csv", written.rows)
    _print_head(written.rows, read_head(written.path, rows))
    print(f"wrote {relative_path}")


def written(df: DataFrame, ctx: Context, relative_path: str) -> DataFrame:
    """The CSV :func:`write` wrote from ``df``, read back as ``df`` (its
    schema): what a chart aggregates, so the result is not computed a second
    time (at 1M orders that took a third of 03-07's time)."""
    from lib.writer import read_written

    return read_written(ctx.spark, ctx.params.output_dir / relative_path, df.schema)


def read_head(path: Path, rows: int = PREVIEW_ROWS) -> pd.DataFrame:
    """The first ``rows`` rows of a written CSV, every field as its text."""
    return pd.read_csv(path, nrows=rows, dtype=str, keep_default_na=False)


def read_small_output(ctx: Context, relative_path: str, max_rows: int = MAX_FETCH_ROWS) -> pd.DataFrame:
    """A whole written CSV of a small grain (events, titles, seasons) as
    pandas, typed by pandas, e.g. for a chart; refuses a large one."""
    frame = pd.read_csv(ctx.params.output_dir / relative_path, nrows=max_rows + 1)
    if len(frame) > max_rows:
        raise ValueError(f"{relative_path} has more than {max_rows:,} rows; "
                         "read_small_output is for small outputs")
    return frame


def fetch(df: DataFrame, ctx: Context, what: str, max_rows: int = MAX_FETCH_ROWS) -> pd.DataFrame:
    """Bring a small, aggregated result to the driver (for a chart or a
    table), timed in the manifest as ``what``; refuses more than ``max_rows``
    rows, so a full-data result never reaches the driver by mistake."""
    began = time.monotonic()
    frame = df.limit(max_rows + 1).toPandas()
    ctx.recorder.timed(what, time.monotonic() - began)
    if len(frame) > max_rows:
        raise ValueError(f"{what}: more than {max_rows:,} rows; fetch is for small results")
    return frame


def show(df: DataFrame, ctx: Context, what: str, rows: int = PREVIEW_ROWS) -> pd.DataFrame:
    """Print a small computed result that is not written (e.g. a SQL
    summary) the way :func:`write` previews a file: row count, first rows."""
    from lib.writer import format_for_csv

    frame = fetch(format_for_csv(df), ctx, what)
    _print_head(len(frame), frame.head(rows))
    return frame


def _print_head(count: int, head: pd.DataFrame) -> None:
    print(f"{count:,} rows; first {min(len(head), count)}:")
    if count:
        print(head.to_string(index=False, na_rep=""))


def save_chart(fig, ctx: Context, name: str) -> None:
    """Save a matplotlib figure as ``<output>/charts/<name>.png`` and show that
    PNG as the cell's output.

    The figure is drawn once and closed: left open, the inline backend would
    draw it twice more after the cell (once for pyplot's interactive redraw,
    once for its own PNG), 0.1 CPU s a chart for a picture already made.
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    from lib.fileio import write_bytes

    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    chart = write_bytes(ctx.params.charts_dir / f"{name}.png", png.getvalue())  # never a half PNG
    ctx.recorder.wrote(chart, "chart")
    display(Image(data=png.getvalue(), format="png"))


def save_table(df: DataFrame, ctx: Context, name: str) -> DataFrame:
    """Persist ``df`` as the Spark SQL table ``name`` (:func:`lib.tables.save_table`)
    and return the saved table, to write its CSV from without computing it again."""
    from lib.tables import save_table as save

    began = time.monotonic()
    path = save(df, ctx.params, name)
    ctx.recorder.timed(f"save table {name}", time.monotonic() - began)
    ctx.recorder.wrote(path, "table")
    return ctx.spark.read.parquet(str(path))
