"""One HTML page for a run: ``<output>/report/index.html``, self-contained.

Parameters, data quality, lineage, data docs and, per insight, its chart, a
preview and links to its CSV and executed notebook; ``--share`` adds the copy
without personal data. Rebuild alone: ``python -m lib.report --output-dir output``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lib.fileio import replacing_dir
from lib.suite.datadocs import table_docs
from lib.suite.lineage import build_lineage, mermaid, svg
from lib.suite.pages import render_or_reuse, render_page, render_without_outputs, rendered_page
from lib.suite.report_insights import Insight, Preview, read_insight
from lib.suite.share import (
    SHARE_DIR,
    ShareKeyError,
    Tokens,
    add_share_options,
    in_shared_copy,
    load_key,
    pseudonymise_csv,
    share_key_file,
    zip_folder,
)

__all__ = ["Insight", "Preview", "build_report", "main", "read_insight", "read_preview", "render_page", "rendered_page"]

PREVIEW_ROWS = 10
DATA_QUALITY = "data_quality.csv"
TEMPLATE = "report.html.j2"
_NUMBER = re.compile(r"^-?[0-9][0-9,]*(\.[0-9]+)?$")


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return
    try:
        os.link(source, target)  # no second copy of a large CSV
    except OSError:
        shutil.copy2(source, target)


def read_preview(path: Path, rows: int = PREVIEW_ROWS) -> tuple[list[str], list[list[str]]]:
    """Header and the first ``rows`` rows of a CSV (it is not read further)."""
    csv.field_size_limit(sys.maxsize)  # an input may carry one very long field
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        return header, [row for _, row in zip(range(rows), reader, strict=False)]


@dataclass
class Variant:
    """How one report folder gets its CSVs and notebook pages: the internal
    report links the files and reuses the rendered pages; the shareable one
    pseudonymises the files and renders pages without outputs."""

    folder: str  # under the output folder
    copy_csv: Callable[[Path, Path], object]
    page: Callable[[Path, Path, Path], None]  # (executed, target, previous folder)
    shared: bool = False


INTERNAL = Variant("report", _link_or_copy, render_or_reuse)


def _shared_variant(key: bytes) -> Variant:
    tokens = Tokens(key)
    return Variant(SHARE_DIR, lambda source, target: pseudonymise_csv(source, target, tokens),
                   lambda executed, target, _previous: render_without_outputs(executed, target),
                   shared=True)


def _data_quality(output_dir: Path, report_dir: Path, variant: Variant) -> dict | None:
    path = output_dir / DATA_QUALITY
    if not path.is_file():
        return None
    variant.copy_csv(path, report_dir / "data" / path.name)
    header, rows = read_preview(report_dir / "data" / path.name, rows=1000)
    totals: dict[str, list[int]] = {}
    for dataset, outcome, count in rows:
        clean_rejected = totals.setdefault(dataset, [0, 0])
        clean_rejected[0 if outcome == "clean" else 1] += int(count)
    reconciled = [[d, str(c + r), str(c), str(r), f"{100 * r / (c + r):.2f}" if c + r else ""]
                  for d, (c, r) in sorted(totals.items())]
    return {"reconciled": reconciled, "header": header, "rows": rows, "file": path.name}


def _copy_outputs(insight: Insight, output_dir: Path, report_dir: Path, variant: Variant) -> None:
    for chart in insight.charts:
        (report_dir / chart).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(output_dir / chart, report_dir / chart)
    for name in insight.csvs:
        variant.copy_csv(output_dir / name, report_dir / "data" / name)
        if name != DATA_QUALITY:  # shown in full in its own section; previews as copied
            header, rows = read_preview(report_dir / "data" / name)
            insight.previews.append(Preview(name, header, rows, insight.rows.get(name)))


def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(Path(__file__).parent),
                      autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.tests["number_text"] = lambda value: bool(_NUMBER.match(str(value or "")))
    return env


def _run_record(output_dir: Path) -> dict | None:
    """The latest run record (:mod:`lib.suite.run_record`), for a rebuilt report."""
    from lib.suite.run_record import load_record

    try:
        return load_record(output_dir)
    except (OSError, ValueError):
        return None


def _write_folder(output_dir: Path, variant: Variant, results: Sequence | None,
                  run_info: dict | None, review: dict, tables: list) -> Path:
    """Write one report folder (replacing an older one); return its index.html.
    ``tables``: the data docs, checked once for both folders (a pass over 08's
    and 09's tables each)."""
    by_name = {r.name: r for r in results or []}
    executed = sorted((output_dir / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    insights = [read_insight(nb, output_dir, by_name.get(nb.stem)) for nb in executed]
    graph = build_lineage(output_dir, [(i.name, i.status.succeeded) for i in insights])
    final = output_dir / variant.folder
    with replacing_dir(final) as scratch:
        for sub in ("charts", "data", "notebooks"):
            (scratch / sub).mkdir(parents=True)
        for nb in executed:
            variant.page(nb, scratch / "notebooks" / f"{nb.stem}.html", final / "notebooks")
        for insight in insights:
            _copy_outputs(insight, output_dir, scratch, variant)
            if variant.shared and insight.error:  # an error message may quote a record
                insight.error = "failed: the error is in the internal report"
        parameters = next((i.parameters for i in insights if i.parameters), {})
        page = _environment().get_template(TEMPLATE).render(
            title="Ticket insights report" + (" (shareable)" if variant.shared else ""),
            generated=f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            insights=insights, shared=variant.shared,
            failed=sum(not i.status.succeeded for i in insights),
            run_rows=[*parameters.items(), *(run_info or {}).items()],
            quality=_data_quality(output_dir, scratch, variant),
            lineage_svg=svg(graph), lineage_mermaid=mermaid(graph),
            tables=tables,
            review=review,
        )
        (scratch / "index.html").write_text(page, encoding="utf-8")
    return final / "index.html"


def build_report(output_dir: str | os.PathLike, results: Sequence | None = None,
                 run_info: dict | None = None, share_key_file: str | os.PathLike | None = None,
                 review: dict | None = None) -> Path:
    """Write ``<output_dir>/report/`` (replacing an older one); return its
    index.html. With ``share_key_file``, also the shareable copy
    ``report-share/`` and its zip (:mod:`lib.suite.share`). ``review``: the
    run's record, with its changes and warnings (by default the folder's
    latest ``run_results.json``)."""
    output_dir = Path(output_dir).resolve()
    review = review or _run_record(output_dir) or {}
    tables = table_docs(output_dir, in_shared_copy)  # the shared column shows in the share only
    index = _write_folder(output_dir, INTERNAL, results, run_info, review, tables)
    if share_key_file is not None:  # a bad key fails the share, after the internal report
        key = load_key(share_key_file, output_dir)
        shared = _write_folder(output_dir, _shared_variant(key), results, run_info, review, tables)
        zip_folder(shared.parent, output_dir / f"{SHARE_DIR}.zip")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="output")
    add_share_options(parser)
    args = parser.parse_args(argv)
    try:
        index = build_report(Path(args.output_dir), share_key_file=share_key_file(args))
    except ShareKeyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(index)
    if args.share:
        print(Path(args.output_dir) / f"{SHARE_DIR}.zip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
