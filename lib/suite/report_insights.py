"""What the report shows for each executed notebook (:class:`Insight`): its
title and question from its markdown, its status and error, and from its
manifest (:mod:`lib.manifest`) the CSVs and charts it wrote."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from lib.manifest import manifest_path, read_manifest
from lib.suite.models import Status
from lib.suite.processes import strip_ansi


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
    status: Status
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
                text = strip_ansi(f"{out.get('ename')}: {out.get('evalue')}")
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
        status=(Status(run_result.status) if run_result is not None
                else Status.FAILED if failed else Status.OK),
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
