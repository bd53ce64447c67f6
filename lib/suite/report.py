"""One HTML page for a run: ``<output>/report/index.html``.

It shows the parameters, the data-quality summary and, per insight, its title,
its question, its chart, a preview of the first rows, and links to its CSV and
to its executed notebook rendered as HTML. Everything comes from the output
folder (executed notebooks under ``notebooks/``, CSVs, ``charts/``), so it can
also be rebuilt on its own: ``python -m lib.report --output-dir output``.

The report folder is self-contained and uses relative links only, so it can be
zipped and mailed: charts are copied in, CSVs hard-linked (or copied) in, and
notebooks rendered without any script from the internet.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import html
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import nbformat

from lib.fileio import replacing_dir

PREVIEW_ROWS = 10
DATA_QUALITY = "data_quality.csv"
TEMPLATE = Path(__file__).with_name("report_template.html")
_NUMBER = re.compile(r"^-?[0-9][0-9,]*(\.[0-9]+)?$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# nbconvert's lab template, minus the scripts it would fetch from a CDN
_OFFLINE_NOTEBOOK = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


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
    charts: list[str] = field(default_factory=list)

    @property
    def number(self) -> str:
        return self.name[:2]


def _markdown(text: str) -> str:
    import mistune

    return mistune.create_markdown(escape=True)(text)


def _title_and_question(nb) -> tuple[str, str]:
    title, question = "", ""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for paragraph in re.split(r"\n\s*\n", cell.source):
            text = paragraph.strip()
            if not title and text.startswith("# "):
                title = text.splitlines()[0][2:].strip()
            if not question and text.startswith("**Question.**"):
                question = text[len("**Question.**"):].strip()
        if title and question:
            break
    return title, question


def _error_of(nb) -> str:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                text = _ANSI.sub("", f"{out.get('ename')}: {out.get('evalue')}")
                return "\n".join(text.strip().splitlines()[:8])
    return ""


def files_written(nb) -> list[str]:
    """Files the notebook reported writing ("wrote X" from ``nb.write``)."""
    found: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                for name in re.findall(r"^wrote (\S.*?)\s*$", out.get("text", ""), re.M):
                    if name not in found:
                        found.append(name)
    return found


def read_insight(executed: Path, output_dir: Path, run_result=None) -> Insight:
    nb = nbformat.read(executed, as_version=4)
    meta = nb.metadata.get("papermill", {})
    title, question = _title_and_question(nb)
    failed = bool(meta.get("exception")) or (run_result is not None and not run_result.ok)
    insight = Insight(
        name=executed.stem,
        title=title or executed.stem,
        question_html=_markdown(question) if question else "",
        status=(run_result.status if run_result is not None else ("FAILED" if failed else "ok")),
        seconds=run_result.seconds if run_result is not None else meta.get("duration"),
        error=(run_result.error if run_result is not None and run_result.error else _error_of(nb)),
        parameters=dict(meta.get("parameters", {})),
    )
    if insight.status == "ok":  # a failed notebook's older files would mislead
        written = [p for p in files_written(nb) if p.endswith(".csv") and (output_dir / p).is_file()]
        pattern = f"{insight.number}_*.csv"
        insight.csvs = written or sorted(p.name for p in output_dir.glob(pattern))
        insight.charts = sorted(f"charts/{p.name}" for p in
                                (output_dir / "charts").glob(f"{insight.number}_*.png"))
    return insight


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return
    try:
        os.link(source, target)  # no second copy of a large CSV
    except OSError:
        shutil.copy2(source, target)


def read_preview(path: Path, rows: int = PREVIEW_ROWS) -> tuple[list[str], list[list[str]], int]:
    """Header, the first ``rows`` rows and the total row count of a CSV."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        first, total = [], 0
        for row in reader:
            if total < rows:
                first.append(row)
            total += 1
    return header, first, total


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(value: str, tag: str = "td") -> str:
        num = ' class="num"' if tag == "td" and _NUMBER.match(value or "") else ""
        return f"<{tag}{num}>{html.escape(value)}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_notebook(executed: Path, target: Path) -> None:
    """The executed notebook as one HTML page (images inline, no CDN scripts)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", template_file="offline.html.j2",
                            extra_loaders=[DictLoader({"offline.html.j2": _OFFLINE_NOTEBOOK})])
    body, _ = exporter.from_filename(str(executed))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")


def _status(status: str) -> str:
    css = "status-ok" if status == "ok" else "status-bad"
    return f'<span class="{css}">{html.escape(status)}</span>'


def _seconds(value) -> str:
    return f"{value:.1f}" if isinstance(value, (int, float)) else ""


def _data_quality(output_dir: Path, report_dir: Path) -> str:
    path = output_dir / DATA_QUALITY
    if not path.is_file():
        return "<p class='muted'>No data_quality.csv: notebook 00 has not run.</p>"
    header, rows, _ = read_preview(path, rows=1000)
    totals: dict[str, list[int]] = {}
    for dataset, outcome, count in rows:
        clean_rejected = totals.setdefault(dataset, [0, 0])
        clean_rejected[0 if outcome == "clean" else 1] += int(count)
    recon = [[d, str(c + r), str(c), str(r), f"{100 * r / (c + r):.2f}" if c + r else ""]
             for d, (c, r) in sorted(totals.items())]
    _link_or_copy(path, report_dir / "data" / path.name)
    return ("<p>Every input record is either clean or rejected with its first failing "
            "reason; the counts reconcile (records read = clean + rejected).</p>"
            + _table(["dataset", "records read", "clean", "rejected", "rejected %"], recon)
            + _table(header, rows)
            + f'<p class="links"><a href="data/{path.name}">data_quality.csv</a></p>')


def _insight_section(insight: Insight, output_dir: Path, report_dir: Path) -> str:
    parts = [f'<section id="nb-{insight.number}"><h2>{html.escape(insight.title)}</h2>',
             f'<p class="muted">{html.escape(insight.name)} &middot; {_status(insight.status)}'
             f" &middot; {_seconds(insight.seconds)} s</p>"]
    if insight.question_html:
        parts.append(f'<div class="question">{insight.question_html}</div>')
    if insight.error:
        parts.append(f'<pre class="error">{html.escape(insight.error)}</pre>')
    for chart in insight.charts:
        shutil.copy2(output_dir / chart, report_dir / chart)
        parts.append(f'<figure><img src="{html.escape(chart)}" alt="chart: '
                     f'{html.escape(Path(chart).stem)}"></figure>')
    links = []
    for name in insight.csvs:
        _link_or_copy(output_dir / name, report_dir / "data" / name)
        links.append(f'<a href="data/{html.escape(name)}">{html.escape(name)}</a>')
        if name == DATA_QUALITY:  # shown in full in its own section
            continue
        header, rows, total = read_preview(output_dir / name)
        parts.append(f"<h3>{html.escape(name)} <span class='muted'>({total:,} rows; "
                     f"first {len(rows)})</span></h3><div class='preview'>"
                     f"{_table(header, rows)}</div>")
    links.append(f'<a href="notebooks/{html.escape(insight.name)}.html">executed notebook</a>')
    parts.append(f'<p class="links">{"".join(links)}</p></section>')
    return "\n".join(parts)


def _run_section(insights: list[Insight], run_info: dict | None) -> str:
    params = next((i.parameters for i in insights if i.parameters), {})
    rows = [[key, str(value)] for key, value in params.items()]
    rows += [[key, str(value)] for key, value in (run_info or {}).items()]
    summary = [f"<tr><td><a href='#nb-{i.number}'>{html.escape(i.name)}</a></td>"
               f"<td>{_status(i.status)}</td><td class='num'>{_seconds(i.seconds)}</td>"
               f"<td><a href='notebooks/{html.escape(i.name)}.html'>notebook</a></td></tr>"
               for i in insights]
    return ("<h2 id='run'>Run</h2>" + _table(["parameter", "value"], rows)
            + "<table><thead><tr><th>notebook</th><th>status</th><th>seconds</th>"
            + "<th>executed</th></tr></thead><tbody>" + "".join(summary) + "</tbody></table>")


def build_report(output_dir: str | os.PathLike, results: Sequence | None = None,
                 run_info: dict | None = None) -> Path:
    """Write ``<output_dir>/report/`` (replacing an older one); return index.html."""
    output_dir = Path(output_dir).resolve()
    by_name = {r.name: r for r in results or []}
    executed = sorted((output_dir / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    insights = [read_insight(nb, output_dir, by_name.get(nb.stem)) for nb in executed]
    final = output_dir / "report"
    with replacing_dir(final) as scratch:
        for sub in ("charts", "data", "notebooks"):
            (scratch / sub).mkdir(parents=True)
        for nb in executed:
            render_notebook(nb, scratch / "notebooks" / f"{nb.stem}.html")
        failed = sum(i.status != "ok" for i in insights)
        toc = "".join(f"<li><a href='#nb-{i.number}'>{html.escape(i.title)}</a></li>" for i in insights)
        body = [
            "<h1>Ticket insights</h1>",
            f"<p class='muted'>Report generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
            f" &middot; notebooks: {len(insights) - failed} ok, {failed} not ok</p>",
            f"<nav><ol>{toc}</ol></nav>",
            _run_section(insights, run_info),
            "<h2 id='data-quality'>Data quality</h2>" + _data_quality(output_dir, scratch),
            *(_insight_section(i, output_dir, scratch) for i in insights),
        ]
        page = Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
            title="Ticket insights report", body="\n".join(body))
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
