"""What every insight notebook does around its one transform: validate the
parameters, get Spark and the staged data, preview, chart and write, and
record each write in the notebook's manifest (:mod:`lib.manifest`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from lib.config import DEFAULTS, make_params
from lib.manifest import Recorder, TrackedParams, notebook_name
from lib.staged import Staged, is_staged, load_staged
from lib.writer import write_csv

PREVIEW_ROWS = 10


@dataclass(frozen=True)
class Context:
    params: TrackedParams  # a Params that notes which run parameters were read
    spark: SparkSession
    staged: Staged
    recorder: Recorder


def setup(
    data_dir: str = DEFAULTS["data_dir"],
    output_dir: str = DEFAULTS["output_dir"],
    as_of_date: str | None = DEFAULTS["as_of_date"],
    season_start_month: int = DEFAULTS["season_start_month"],
) -> Context:
    """Validate parameters (before Spark starts), then get Spark and the
    staged clean data for this notebook."""
    params = make_params(data_dir, output_dir, as_of_date, season_start_month)
    from lib.input_checks import check_input_files
    from lib.session import get_spark, spark_ui_url

    if not is_staged(params):  # file checks before any JVM starts (cheap when staged)
        check_input_files(params.tickets_path, params.customers_path)
    spark = get_spark()
    print(f"as_of_date={params.as_of_date}  season_start_month={params.season_start_month}")
    if ui := spark_ui_url(spark):  # e.g. the shared server of `make lab`
        print(f"Spark UI: {ui}")
    tracked = TrackedParams(params)
    return Context(params=tracked, spark=spark, staged=load_staged(spark, params),
                   recorder=Recorder(notebook_name(), tracked))


def preview(df: DataFrame, rows: int = PREVIEW_ROWS, keep: bool = True) -> int:
    """Print the row count and the first rows (as they will be written).

    With ``keep`` the result is cached on first use, so the chart, the table
    and the CSV that follow reuse it instead of computing it again;
    :func:`write` releases it.
    """
    from lib.writer import format_for_csv

    if keep:
        df.persist()
    count = df.count()
    head = format_for_csv(df).limit(rows).toPandas()
    print(f"{count:,} rows; first {min(rows, count)}:")
    if count:
        print(head.to_string(index=False, na_rep=""))
    return count


def save_chart(fig, ctx: Context, name: str) -> None:
    """Save a matplotlib figure as ``<output>/charts/<name>.png``."""
    from lib.fileio import replacing

    chart = ctx.params.charts_dir / f"{name}.png"
    with replacing(chart) as scratch:  # never a half PNG
        fig.savefig(scratch, format="png", dpi=100, bbox_inches="tight")
    ctx.recorder.wrote(chart, "chart")


def write(df: DataFrame, ctx: Context, relative_path: str) -> None:
    """Write an output CSV under the output folder (atomically)."""
    written = write_csv(df, ctx.params.output_dir / relative_path)
    df.unpersist()  # the write is each result's last use
    ctx.recorder.wrote(written.path, "csv", written.rows)
    print(f"wrote {relative_path}")


def save_table(df: DataFrame, ctx: Context, name: str) -> None:
    """Persist ``df`` as the Spark SQL table ``name`` (:func:`lib.tables.save_table`)."""
    from lib.tables import save_table as save

    ctx.recorder.wrote(save(df, ctx.params, name), "table")
