"""The executed notebooks as HTML pages for the report (nbconvert's lab
template, without the scripts it would fetch from a CDN).

The runner renders each page as its notebook finishes (:func:`render_page`),
while others still run, so the report at the end only copies pages. The
shareable report renders its own pages from the notebooks with every output
but the charts removed (:func:`render_without_outputs`): code and text stay,
no previewed row can.
"""

from __future__ import annotations

import functools
import shutil
import threading
from pathlib import Path

from lib.fileio import replacing

# nbconvert's lab template, minus the scripts it would fetch from a CDN
_OFFLINE_NOTEBOOK = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
CHART_TYPES = frozenset({"image/png"})  # the only outputs a shareable page keeps


# One exporter for the process: a new one compiles nbconvert's templates again
# (about 0.4 CPU s a page, most of a page's cost). Pages are rendered from the
# runner's worker threads; an exporter keeps per-call state, so one at a time.
_EXPORTER_LOCK = threading.Lock()


@functools.cache
def _exporter():
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", template_file="offline.html.j2",
                        extra_loaders=[DictLoader({"offline.html.j2": _OFFLINE_NOTEBOOK})])


def load_exporter() -> None:
    """Make the exporter now (nbconvert's imports, about 2 CPU s) rather than
    at the first page, which comes while the notebooks keep both cores busy."""
    with _EXPORTER_LOCK:
        _exporter()


def render_notebook(executed: Path, target: Path) -> None:
    """The executed notebook as one HTML page (images inline, no CDN scripts)."""
    with _EXPORTER_LOCK:
        body, _ = _exporter().from_filename(str(executed))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")


def without_outputs(nb: dict) -> dict:
    """``nb`` (notebook JSON) with every cell output removed except PNG
    images, which keep only their image; execution metadata goes too."""
    for cell in nb.get("cells", []):
        cell["metadata"] = {}
        if cell.get("cell_type") != "code":
            cell.pop("attachments", None)
            continue
        kept = []
        for out in cell.get("outputs", []):
            images = {k: v for k, v in out.get("data", {}).items() if k in CHART_TYPES}
            if out.get("output_type") in ("display_data", "execute_result") and images:
                kept.append({"output_type": "display_data", "data": images, "metadata": {}})
        cell["outputs"] = kept
        if "execution_count" in cell:
            cell["execution_count"] = None
    nb["metadata"] = {k: v for k, v in nb.get("metadata", {}).items()
                      if k in ("kernelspec", "language_info")}
    return nb


def render_without_outputs(executed: Path, target: Path) -> None:
    """Render ``executed`` with :func:`without_outputs` applied."""
    import nbformat

    nb = without_outputs(nbformat.read(executed, as_version=4))
    with _EXPORTER_LOCK:
        body, _ = _exporter().from_notebook_node(nbformat.from_dict(nb))
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


def render_or_reuse(executed: Path, target: Path, previous: Path) -> None:
    """Rendering takes a fraction of a second a notebook: reuse the page kept
    next to the executed notebook, or the previous report's, when the executed
    notebook has not changed since."""
    for page in (rendered_page(executed), previous / target.name):
        if page.is_file() and page.stat().st_mtime_ns >= executed.stat().st_mtime_ns:
            shutil.copy2(page, target)
            return
    render_notebook(executed, target)
