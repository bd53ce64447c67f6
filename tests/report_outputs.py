"""Hand-made output folders for the report tests and the checks of a built
report: every link stays inside its folder, and the page loads in a real browser."""

from __future__ import annotations

import functools
import html
import http.server
import json
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
import pyarrow as pa
import pyarrow.parquet as pq

from lib.manifest import manifest_path, read_manifest, write_manifest


def png(width: int = 4, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def executed_notebook(path: Path, title: str, question: str, written: list[str],
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


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


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


EMAIL, PHONE, POSTCODE = "jane.doe@example.com", "07700 900123", "SW1A 1AA"
CUSTOMERS = (
    "customer_id,customer_title,first_name,last_name,email,phone,postcode\n"
    f"17,Mrs,Jane,Doe,{EMAIL},{PHONE},{POSTCODE}\n"
    "18,Mr,Olu,Bello,olu.b@example.org,+44 7700 900456,M1 1AE\n"
)
RAW = json.dumps({"CustomerIdentity": "x", "Email": "lost.one@example.net",
                  "contact_details": {"phone": "07700 900999", "postcode": "EH1 1YZ"}})


def _table(out: Path, name: str, columns: dict) -> None:
    folder = out / "warehouse" / name
    folder.mkdir(parents=True)
    pq.write_table(pa.table(columns), folder / "part-00000.parquet")


def make_shareable_output(tmp_path: Path) -> Path:
    """00 and 09 as hand-made outputs: personal values in the CSVs, in the
    rejects and in the executed notebooks' printed previews; 09's tables."""
    out = tmp_path / "output"
    write_text(out / "data_quality.csv", "dataset,outcome,rows\ncustomers,clean,2\n"
               "customers,malformed_json,1\n")
    raw = '"' + RAW.replace('"', '""') + '"'
    write_text(out / "rejects" / "customers_rejected.csv", f"raw_record,reject_reason\n{raw},malformed_json\n")
    executed_notebook(out / "notebooks" / "00_data_quality.ipynb", "00 · Data quality", "How clean?",
                      ["data_quality.csv", "rejects/customers_rejected.csv"])
    write_text(out / "09_dim_customer.csv", CUSTOMERS)
    write_text(out / "09_fact_transaction.csv", "order_id,customer_id,event_id,quantity,secret_note\n"
               "O-1,17,EV-1,2,unclassified\nO-2,18,EV-1,1,unclassified\nO-3,17,EV-1,4,x\n")
    (out / "charts").mkdir()
    (out / "charts" / "09_data_model.png").write_bytes(png())
    executed_notebook(out / "notebooks" / "09_data_model.ipynb", "09 · Data model", "Which model?",
                      ["09_dim_customer.csv", "09_fact_transaction.csv", "charts/09_data_model.png"])
    # the notebook printed its preview, with the personal values, as 09 does
    nb = nbformat.read(out / "notebooks" / "09_data_model.ipynb", as_version=4)
    nb.cells[1].outputs.append(nbformat.v4.new_output("stream", name="stdout", text=CUSTOMERS))
    nb.cells[1].outputs.append(nbformat.v4.new_output(
        "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": f"<Figure {EMAIL}>"}))
    nbformat.write(nb, out / "notebooks" / "09_data_model.ipynb")
    _table(out, "dim_customer", {"customer_id": [17, 18]})
    _table(out, "fact_transaction", {"order_id": ["O-1", "O-2", "O-2"],
                                     "customer_id": [17, 18, 99], "event_id": ["EV-1"] * 3})
    manifest = read_manifest(manifest_path(out, "09_data_model"))
    manifest["outputs"] += [{"path": f"warehouse/{t}", "kind": "table"}
                            for t in ("dim_customer", "fact_transaction")]
    manifest["reads"] = [{"path": "_staging/abc/customers", "kind": "staged",
                          "sources": ["/d/customer.json"]},
                         {"path": "_staging/abc/tickets", "kind": "staged",
                          "sources": ["/d/tickets.csv", "/d/customer.json"]}]
    write_manifest(manifest_path(out, "09_data_model"), manifest)
    return out
