"""What every insight notebook does around its one transform: validate the
parameters, get Spark and the staged data, preview, chart and write.

Environment overrides: when a parameter still has its literal default, the
variables ``TICKET_INSIGHTS_DATA_DIR``, ``TICKET_INSIGHTS_OUTPUT_DIR``,
``TICKET_INSIGHTS_AS_OF_DATE`` and ``TICKET_INSIGHTS_SEASON_START_MONTH`` win.
The nbval tests use them to pin data and parameters without editing notebooks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from lib.config import DEFAULT_SEASON_START_MONTH, Params, make_params
from lib.staged import Staged, is_staged, load_staged
from lib.writer import write_csv

_DEFAULTS = {
    "data_dir": "data",
    "output_dir": "output",
    "as_of_date": None,
    "season_start_month": DEFAULT_SEASON_START_MONTH,
}
PREVIEW_ROWS = 10


@dataclass(frozen=True)
class Context:
    params: Params
    spark: SparkSession
    staged: Staged


def _with_env_overrides(values: dict) -> dict:
    resolved = dict(values)
    for name, default in _DEFAULTS.items():
        env_value = os.environ.get(f"TICKET_INSIGHTS_{name.upper()}")
        if env_value and resolved.get(name) == default:
            resolved[name] = env_value
    return resolved


def setup(
    data_dir: str = "data",
    output_dir: str = "output",
    as_of_date: str | None = None,
    season_start_month: int = DEFAULT_SEASON_START_MONTH,
) -> Context:
    """Validate parameters (before Spark starts), then get Spark and the
    staged clean data for this notebook."""
    params = make_params(**_with_env_overrides({
        "data_dir": data_dir,
        "output_dir": output_dir,
        "as_of_date": as_of_date,
        "season_start_month": season_start_month,
    }))
    from lib.input_checks import check_input_files
    from lib.session import get_spark

    if not is_staged(params):  # file checks before any JVM starts (cheap when staged)
        check_input_files(params.tickets_path, params.customers_path)
    spark = get_spark()
    print(f"as_of_date={params.as_of_date}  season_start_month={params.season_start_month}")
    return Context(params=params, spark=spark, staged=load_staged(spark, params))


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

    ctx.params.charts_dir.mkdir(parents=True, exist_ok=True)
    with replacing(ctx.params.charts_dir / f"{name}.png") as scratch:  # never a half PNG
        fig.savefig(scratch, format="png", dpi=100, bbox_inches="tight")


def write(df: DataFrame, ctx: Context, relative_path: str) -> None:
    """Write an output CSV under the output folder (atomically)."""
    write_csv(df, ctx.params.output_dir / relative_path)
    df.unpersist()  # the write is each result's last use
    print(f"wrote {relative_path}")
