"""The HTML report (lib/report.py): content from a hand-made output folder, and
the page checked in a real headless browser (Debian's chromium, installed here
when missing and we are root): it loads, every image shows, every link
resolves and the console stays silent, also after the folder was zipped and
unzipped elsewhere."""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

import pytest
from report_outputs import (
    assert_self_contained,
    check_in_browser,
    executed_notebook,
    png,
    write_text,
)
from suite_runner import run_suite, suite_env

from lib.suite.report import build_report, render_page, rendered_page

# -- a hand-made output folder ---------------------------------------------------

@pytest.fixture
def output_dir(tmp_path) -> Path:
    out = tmp_path / "output"
    write_text(out / "data_quality.csv", "dataset,outcome,rows\ncustomers,clean,8\ncustomers,"
               "malformed_json,2\ntickets,clean,95\ntickets,malformed_row,5\n")
    write_text(out / "rejects" / "tickets_rejected.csv", "order_id,reject_reason\nO-1,malformed_row\n")
    executed_notebook(out / "notebooks" / "00_data_quality.ipynb", "00 · Data quality", "How clean?",
                      ["data_quality.csv", "rejects/tickets_rejected.csv"])
    rows = "".join(f"EV-{i:02d},\"Home, Away \"\"{i}\"\"\",{i * 1.5:.2f}\n" for i in range(25))
    write_text(out / "01_events.csv", "event_id,event_name,net_sales\n"
               "EV-XSS,<script>alert(1)</script>,0.00\n" + rows)
    (out / "charts").mkdir()
    (out / "charts" / "01_events.png").write_bytes(png())
    (out / "charts" / "02_stale.png").write_bytes(png())
    executed_notebook(out / "notebooks" / "01_events.ipynb", "01 · Events <b>&</b> sales",
                      "Which `events` sold **most**?", ["01_events.csv", "charts/01_events.png"])
    write_text(out / "02_stale.csv", "a\nfrom an older run\n")
    executed_notebook(out / "notebooks" / "02_stale.ipynb", "02 · Broken", "Does it fail?",
                      ["02_stale.csv", "charts/02_stale.png"],
                      error=("ValueError", "boom on purpose"))
    return out


# -- static checks -----------------------------------------------------------------

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


def test_pages_rendered_at_once_from_threads_equal_pages_rendered_alone(output_dir, tmp_path):
    """The runner renders pages from its worker threads with one shared
    exporter; what one page leaves in it must not reach another."""
    from concurrent.futures import ThreadPoolExecutor

    from lib.suite import pages

    executed = sorted((output_dir / "notebooks").glob("*.ipynb")) * 3
    alone = [pages._exporter.__wrapped__().from_filename(str(nb))[0] for nb in executed]
    targets = [tmp_path / "pages" / f"{n}.html" for n in range(len(executed))]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(pages.render_notebook, executed, targets))
    assert [t.read_text(encoding="utf-8") for t in targets] == alone


# -- the browser -------------------------------------------------------------------

def test_report_loads_in_a_browser_with_every_image_and_link(browser, output_dir, tmp_path):
    report = build_report(output_dir).parent
    result = check_in_browser(browser, report, tmp_path)
    assert result.get("error") is None, result
    assert result["title"] == "Ticket insights report"
    assert result["images"] == 1 and result["links"] >= 8
    assert result["badImages"] == [] and result["badLinks"] == []
    assert result["console"] == []


@pytest.mark.slow
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
    write_text(output_dir / "01_events.csv", f"event_id,event_name,net_sales\nEV-1,{big},1.00\n"
               + "".join(f"EV-{i},n,0.00\n" for i in range(2, 40)))
    text = build_report(output_dir).read_text(encoding="utf-8")
    assert "(26 rows; first 10)" in text  # the count recorded when 01 ran
    assert "EV-1" in text and "EV-10" in text and "EV-11" not in text
