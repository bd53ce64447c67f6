"""The HTML report (lib/report.py): content from a hand-made output folder, and
the page checked in a real headless browser (Debian's chromium, installed here
when missing and we are root): it loads, every image shows, every link
resolves and the console stays silent, also after the folder was zipped and
unzipped elsewhere."""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import struct
import subprocess
import threading
import zipfile
import zlib
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from suite_runner import run_suite, suite_env

from lib.manifest import manifest_path, write_manifest
from lib.suite.report import build_report, render_page, rendered_page

# -- a hand-made output folder ---------------------------------------------------

def png_bytes(width: int = 4, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def write_executed(path: Path, title: str, question: str, written: list[str],
                   error: tuple[str, str] | None = None) -> None:
    """An executed notebook and the manifest of what it wrote."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {
        "parameters": {"data_dir": "/d", "output_dir": "/o", "as_of_date": "2026-11-01",
                       "season_start_month": 8},
        "duration": 12.5, "exception": error is not None,
    }
    nb.cells.append(nbformat.v4.new_markdown_cell(
        f"# {title}\n\n**Question.** {question}\n\n**How.** Not shown."))
    cell = nbformat.v4.new_code_cell("nb.write(result, ctx, 'x.csv')")
    cell.outputs = [nbformat.v4.new_output(
        "stream", name="stdout", text="".join(f"wrote {name}\n" for name in written))]
    if error:
        cell.outputs.append(nbformat.v4.new_output(
            "error", ename=error[0], evalue=error[1], traceback=[f"\x1b[31m{error[0]}\x1b[0m"]))
    nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    out = path.parent.parent
    outputs = [{"path": name, "kind": "chart"} if name.endswith(".png") else
               {"path": name, "kind": "csv", "rows": (out / name).read_text().count("\n") - 1}
               for name in written]
    write_manifest(manifest_path(out, path.stem), {"notebook": path.stem, "seconds": 12.5,
                                                   "parameters": {}, "outputs": outputs})


def write_csv(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def output_dir(tmp_path) -> Path:
    out = tmp_path / "output"
    write_csv(out / "data_quality.csv", "dataset,outcome,rows\ncustomers,clean,8\ncustomers,"
              "malformed_json,2\ntickets,clean,95\ntickets,malformed_row,5\n")
    write_csv(out / "rejects" / "tickets_rejected.csv", "order_id,reject_reason\nO-1,malformed_row\n")
    write_executed(out / "notebooks" / "00_data_quality.ipynb", "00 · Data quality", "How clean?",
                   ["data_quality.csv", "rejects/tickets_rejected.csv"])
    rows = "".join(f"EV-{i:02d},\"Home, Away \"\"{i}\"\"\",{i * 1.5:.2f}\n" for i in range(25))
    write_csv(out / "01_events.csv", "event_id,event_name,net_sales\n"
              "EV-XSS,<script>alert(1)</script>,0.00\n" + rows)
    (out / "charts").mkdir()
    (out / "charts" / "01_events.png").write_bytes(png_bytes())
    (out / "charts" / "02_stale.png").write_bytes(png_bytes())
    write_executed(out / "notebooks" / "01_events.ipynb", "01 · Events <b>&</b> sales",
                   "Which `events` sold **most**?", ["01_events.csv", "charts/01_events.png"])
    write_csv(out / "02_stale.csv", "a\nfrom an older run\n")
    write_executed(out / "notebooks" / "02_stale.ipynb", "02 · Broken", "Does it fail?",
                   ["02_stale.csv", "charts/02_stale.png"],
                   error=("ValueError", "boom on purpose"))
    return out


# -- static checks -----------------------------------------------------------------

class _Targets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img" and "src" in attrs:
            self.refs.append(attrs["src"])
        if tag == "a" and "href" in attrs:
            self.refs.append(attrs["href"])


def assert_self_contained(report_dir: Path) -> _Targets:
    """Every img/link in index.html is relative and resolves inside the folder."""
    page = _Targets()
    page.feed((report_dir / "index.html").read_text(encoding="utf-8"))
    assert page.refs
    for ref in page.refs:
        assert not re.match(r"^[a-z][a-z0-9+.-]*:|^/", ref, re.I), f"not a relative link: {ref}"
        if ref.startswith("#"):
            assert ref[1:] in page.ids, f"anchor without target: {ref}"
            continue
        target = (report_dir / ref).resolve()
        assert target.is_relative_to(report_dir.resolve()), f"leaves the report folder: {ref}"
        assert target.is_file(), f"broken link: {ref}"
    return page


def test_report_shows_each_insight_and_links_only_inside_its_folder(output_dir):
    index = build_report(output_dir, run_info={"spark": "test", "jobs": 2})
    assert index == output_dir / "report" / "index.html"
    text = index.read_text(encoding="utf-8")
    page = assert_self_contained(index.parent)

    assert "01 · Events &lt;b&gt;&amp;&lt;/b&gt; sales" in text  # title, escaped
    assert "Which <code>events</code> sold <strong>most</strong>?" in text  # the question
    assert "charts/01_events.png" in page.refs and "data/01_events.csv" in page.refs
    assert "notebooks/01_events.html" in page.refs
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text
    assert "(26 rows; first 10)" in text and "EV-08" in text and "EV-09" not in text
    assert 'Home, Away "3"' in html.unescape(text)  # RFC 4180 quoting read back
    # data quality: reconciled totals per input, and the rejects linked
    assert "<td>customers</td><td class=\"num\">10</td><td class=\"num\">8</td>" in text
    assert "data/rejects/tickets_rejected.csv" in page.refs
    # parameters and run information
    assert "season_start_month" in text and "2026-11-01" in text and "<td>spark</td>" in text
    # a failed notebook: its error, no stale outputs
    assert "FAILED" in text and "ValueError: boom on purpose" in text
    assert "02_stale.csv" not in text and "02_stale.png" not in text
    assert "notebooks/02_stale.html" in page.refs


def test_executed_notebooks_render_without_internet_scripts(output_dir):
    report = build_report(output_dir).parent
    rendered = sorted(p.name for p in (report / "notebooks").iterdir())
    assert rendered == ["00_data_quality.html", "01_events.html", "02_stale.html"]
    body = (report / "notebooks" / "01_events.html").read_text(encoding="utf-8")
    assert "wrote 01_events.csv" in body
    assert not re.search(r"<script[^>]+src=[\"']https?:", body)


def test_rebuilding_replaces_the_old_report(output_dir):
    build_report(output_dir)
    (output_dir / "notebooks" / "02_stale.ipynb").unlink()
    report = build_report(output_dir).parent
    assert not (report / "notebooks" / "02_stale.html").exists()
    assert not list(output_dir.glob(".report*"))


def test_a_page_rendered_as_its_notebook_finished_is_reused_not_rendered_again(output_dir):
    executed = output_dir / "notebooks" / "01_events.ipynb"
    page = render_page(executed)
    assert page == rendered_page(executed) and "wrote 01_events.csv" in page.read_text()
    page.write_text("pre-rendered by the runner", encoding="utf-8")  # newer than the notebook
    report = build_report(output_dir).parent
    assert (report / "notebooks" / "01_events.html").read_text() == "pre-rendered by the runner"
    os.utime(page, ns=(0, 0))  # older than the notebook: stale, rendered again
    shutil.rmtree(report)  # (and no previous report to reuse either)
    report = build_report(output_dir).parent
    assert "wrote 01_events.csv" in (report / "notebooks" / "01_events.html").read_text()


# -- the browser -------------------------------------------------------------------

_HARNESS = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="page" src="report/index.html" style="width:1200px;height:900px"></iframe>
<script>
const frame = document.getElementById("page");
const show = (value) => { document.getElementById("result").textContent =
  "RESULT:" + JSON.stringify(value) + ":END"; };
frame.addEventListener("load", async () => {
  try {
    const doc = frame.contentDocument;
    const images = Array.from(doc.images);
    for (let i = 0; i < 200 && !images.every((im) => im.complete); i++) {
      await new Promise((done) => setTimeout(done, 50));
    }
    const badImages = images.filter((im) => !(im.complete && im.naturalWidth > 0))
      .map((im) => im.getAttribute("src"));
    const hrefs = [...new Set(Array.from(doc.querySelectorAll("a[href]"))
      .map((a) => a.getAttribute("href")))];
    const badLinks = [];
    for (const href of hrefs) {
      if (href.startsWith("#")) {
        if (!doc.getElementById(href.slice(1))) badLinks.push(href);
        continue;
      }
      const response = await fetch(new URL(href, doc.baseURI));
      if (!response.ok) badLinks.push(href + " " + response.status);
    }
    show({title: doc.title, images: images.length, links: hrefs.length, badImages, badLinks});
  } catch (error) { show({error: String(error)}); }
});
</script></body></html>
"""


def check_in_browser(browser: str, report_dir: Path, scratch: Path) -> dict:
    """Zip the report folder, unzip it elsewhere, serve it on 127.0.0.1 and let
    headless chromium load it: returns counts and any image/link that failed."""
    site = scratch / "site"
    archive = shutil.make_archive(str(scratch / "report"), "zip", report_dir)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(site / "report")
    (site / "check.html").write_text(_HARNESS, encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                   "--no-first-run", "--disable-background-networking",
                   "--enable-logging=stderr", "--v=0",  # the page's console messages
                   "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                   f"--user-data-dir={scratch / 'profile'}", "--virtual-time-budget=30000",
                   "--dump-dom", f"http://127.0.0.1:{server.server_address[1]}/check.html"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    finally:
        server.shutdown()
        server.server_close()
    match = re.search(r"RESULT:(.*?):END", html.unescape(done.stdout), re.S)
    assert match, f"the page did not report back; chromium said:\n{done.stderr[-2000:]}"
    result = json.loads(match.group(1))
    # the report has no script of its own: any console message from it is an error
    result["console"] = [line for line in done.stderr.splitlines()
                         if ":CONSOLE" in line and "/report/" in line]
    return result


def test_report_loads_in_a_browser_with_every_image_and_link(browser, output_dir, tmp_path):
    report = build_report(output_dir).parent
    result = check_in_browser(browser, report, tmp_path)
    assert result.get("error") is None, result
    assert result["title"] == "Ticket insights report"
    assert result["images"] == 1 and result["links"] >= 8
    assert result["badImages"] == [] and result["badLinks"] == []
    assert result["console"] == []


def test_report_of_a_real_run_in_a_browser(browser, spark_remote, pinned, tmp_path):
    """``python -m lib.run --only 00`` on the pinned data, then its report."""
    out = tmp_path / "output"
    run = run_suite("--only", "00", "--output-dir", str(out), "--data-dir", pinned["data_dir"],
                    "--as-of-date", "2026-11-01", env=suite_env(spark_remote))
    assert run.returncode == 0, run.stdout + run.stderr
    report = out / "report"
    assert_self_contained(report)
    result = check_in_browser(browser, report, tmp_path)
    assert result.get("error") is None, result
    assert result["images"] >= 1 and result["badImages"] == [] and result["badLinks"] == []
    assert result["console"] == []


def test_a_ten_megabyte_field_does_not_stop_the_report(output_dir):
    """The csv module's default field limit is 128 KiB; the report reads past
    it, and only the first rows of a CSV (the row count is the manifest's)."""
    big = "x" * (10 * 1024 * 1024)
    write_csv(output_dir / "01_events.csv", f"event_id,event_name,net_sales\nEV-1,{big},1.00\n"
              + "".join(f"EV-{i},n,0.00\n" for i in range(2, 40)))
    text = build_report(output_dir).read_text(encoding="utf-8")
    assert "(26 rows; first 10)" in text  # the count recorded when 01 ran
    assert "EV-1" in text and "EV-10" in text and "EV-11" not in text
