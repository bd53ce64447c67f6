"""One HTML page for a run: ``<output>/report/index.html``.

It shows the parameters, the data-quality summary and, per insight, its title,
its question, its chart, a preview of the first rows, and links to its CSV and
to its executed notebook rendered as HTML. What each notebook wrote, and how
many rows, comes from its manifest (:mod:`lib.manifest`); the page itself is
the Jinja2 template ``report.html.j2``. It can be rebuilt on its own:
``python -m lib.report --output-dir output``.

The report folder is self-contained and uses relative links only, so it can be
zipped and mailed: charts are copied in, CSVs hard-linked (or copied) in, and
notebooks rendered without any script from the internet.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lib.fileio import replacing, replacing_dir
from lib.manifest import manifest_path, read_manifest

PREVIEW_ROWS = 10
DATA_QUALITY = "data_quality.csv"
TEMPLATE = "report.html.j2"
_NUMBER = re.compile(r"^-?[0-9][0-9,]*(\.[0-9]+)?$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# nbconvert's lab template, minus the scripts it would fetch from a CDN
_OFFLINE_NOTEBOOK = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


@dataclass
class Preview:
    name: str  # relative to the output folder
    header: list[str]
    rows: list[list[str]]
    total: int | None  # from the manifest; None when unknown


@dataclass
class Insight:
    """What the report shows for one executed notebook."""

    name: str  # "03_customer_events"
    title: str
    question_html: str
    status: str
    seconds: float | None
    error: str
    parameters: dict
    csvs: list[str] = field(default_factory=list)  # relative to the output folder
    rows: dict[str, int] = field(default_factory=dict)  # csv -> data rows
    charts: list[str] = field(default_factory=list)
    previews: list[Preview] = field(default_factory=list)

    @property
    def number(self) -> str:
        return self.name[:2]


def _markdown(text: str) -> str:
    import mistune

    return mistune.create_markdown(escape=True)(text)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _title_and_question(nb: dict) -> tuple[str, str]:
    title, question = "", ""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        for paragraph in re.split(r"\n\s*\n", _source(cell)):
            text = paragraph.strip()
            if not title and text.startswith("# "):
                title = text.splitlines()[0][2:].strip()
            if not question and text.startswith("**Question.**"):
                question = text[len("**Question.**"):].strip()
        if title and question:
            break
    return title, question


def _error_of(nb: dict) -> str:
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                text = _ANSI.sub("", f"{out.get('ename')}: {out.get('evalue')}")
                return "\n".join(text.strip().splitlines()[:8])
    return ""


def read_insight(executed: Path, output_dir: Path, run_result=None) -> Insight:
    # plain JSON: importing nbformat costs seconds, and this only reads
    nb = json.loads(executed.read_text(encoding="utf-8"))
    meta = nb.get("metadata", {}).get("papermill", {})
    title, question = _title_and_question(nb)
    failed = bool(meta.get("exception")) or (run_result is not None and not run_result.ok)
    manifest = read_manifest(manifest_path(output_dir, executed.stem)) or {}
    insight = Insight(
        name=executed.stem,
        title=title or executed.stem,
        question_html=_markdown(question) if question else "",
        status=(run_result.status if run_result is not None else ("FAILED" if failed else "ok")),
        seconds=manifest.get("seconds", meta.get("duration")),
        error=(run_result.error if run_result is not None and run_result.error else _error_of(nb)),
        parameters=dict(meta.get("parameters", {})),
    )
    if not failed:  # a failed notebook's older files would mislead
        for out in manifest.get("outputs", []):
            if not (output_dir / out["path"]).is_file():
                continue
            if out["kind"] == "csv":
                insight.csvs.append(out["path"])
                insight.rows[out["path"]] = out.get("rows")
            elif out["kind"] == "chart":
                insight.charts.append(out["path"])
    return insight


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


def render_notebook(executed: Path, target: Path) -> None:
    """The executed notebook as one HTML page (images inline, no CDN scripts)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", template_file="offline.html.j2",
                            extra_loaders=[DictLoader({"offline.html.j2": _OFFLINE_NOTEBOOK})])
    body, _ = exporter.from_filename(str(executed))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")


def rendered_page(executed: Path) -> Path:
    """Where an executed notebook's HTML page is kept, next to it."""
    return executed.with_suffix(".html")


def render_page(executed: Path) -> Path:
    """Render ``executed`` into :func:`rendered_page` (atomically). The runner
    calls it as each notebook finishes, while others still run, so the report
    at the end only copies pages."""
    page = rendered_page(executed)
    with replacing(page) as scratch:
        render_notebook(executed, scratch)
    return page


def _render_or_reuse(executed: Path, target: Path, previous: Path) -> None:
    """Rendering takes a fraction of a second a notebook: reuse the page kept
    next to the executed notebook, or the previous report's, when the executed
    notebook has not changed since."""
    for page in (rendered_page(executed), previous / target.name):
        if page.is_file() and page.stat().st_mtime_ns >= executed.stat().st_mtime_ns:
            shutil.copy2(page, target)
            return
    render_notebook(executed, target)


def _data_quality(output_dir: Path, report_dir: Path) -> dict | None:
    path = output_dir / DATA_QUALITY
    if not path.is_file():
        return None
    header, rows = read_preview(path, rows=1000)
    totals: dict[str, list[int]] = {}
    for dataset, outcome, count in rows:
        clean_rejected = totals.setdefault(dataset, [0, 0])
        clean_rejected[0 if outcome == "clean" else 1] += int(count)
    reconciled = [[d, str(c + r), str(c), str(r), f"{100 * r / (c + r):.2f}" if c + r else ""]
                  for d, (c, r) in sorted(totals.items())]
    _link_or_copy(path, report_dir / "data" / path.name)
    return {"reconciled": reconciled, "header": header, "rows": rows, "file": path.name}


def _copy_outputs(insight: Insight, output_dir: Path, report_dir: Path) -> None:
    for chart in insight.charts:
        (report_dir / chart).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(output_dir / chart, report_dir / chart)
    for name in insight.csvs:
        _link_or_copy(output_dir / name, report_dir / "data" / name)
        if name != DATA_QUALITY:  # shown in full in its own section
            header, rows = read_preview(output_dir / name)
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


def build_report(output_dir: str | os.PathLike, results: Sequence | None = None,
                 run_info: dict | None = None, review: dict | None = None) -> Path:
    """Write ``<output_dir>/report/`` (replacing an older one); return index.html.
    ``review``: the run's record, with its changes and warnings (by default
    the folder's latest ``run_results.json``)."""
    output_dir = Path(output_dir).resolve()
    review = review or _run_record(output_dir) or {}
    by_name = {r.name: r for r in results or []}
    executed = sorted((output_dir / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    insights = [read_insight(nb, output_dir, by_name.get(nb.stem)) for nb in executed]
    final = output_dir / "report"
    with replacing_dir(final) as scratch:
        for sub in ("charts", "data", "notebooks"):
            (scratch / sub).mkdir(parents=True)
        for nb in executed:
            _render_or_reuse(nb, scratch / "notebooks" / f"{nb.stem}.html", final / "notebooks")
        for insight in insights:
            _copy_outputs(insight, output_dir, scratch)
        parameters = next((i.parameters for i in insights if i.parameters), {})
        page = _environment().get_template(TEMPLATE).render(
            title="Ticket insights report",
            generated=f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            insights=insights,
            failed=sum(i.status not in ("ok", "up to date") for i in insights),
            run_rows=[*parameters.items(), *(run_info or {}).items()],
            quality=_data_quality(output_dir, scratch),
            review=review,
        )
        (scratch / "index.html").write_text(page, encoding="utf-8")
    return final / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="output")
    args = parser.parse_args(argv)
    print(build_report(Path(args.output_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
