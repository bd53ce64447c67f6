"""The shareable report (lib/suite/share.py, docs/contract.md §5.7) on a
hand-made output folder; then on a real run of every notebook (slow): the zip
holds no email address, phone number or postcode of the inputs, in any file,
the lineage names every output and the data docs' checks pass."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import stat
import zipfile
from pathlib import Path

import pytest
from report_outputs import (
    CUSTOMERS,
    EMAIL,
    PHONE,
    POSTCODE,
    assert_self_contained,
    check_in_browser,
)
from suite_runner import run_suite, suite_env

from lib.config import PROJECT_ROOT
from lib.suite.report import build_report
from lib.suite.share import (
    NOT_PERSONAL,
    PERSONAL,
    ShareKeyError,
    Tokens,
    Treatment,
    load_key,
    pseudonymise_csv,
    share_key_file,
)

KEY_A = "11" * 32
KEY_B = "22" * 32
PERSONAL_VALUES = [EMAIL, PHONE, POSTCODE, "olu.b@example.org", "+44 7700 900456", "M1 1AE",
                   "lost.one@example.net", "07700 900999", "EH1 1YZ", "Bello"]


def token(key_hex: str, customer_id: str) -> str:
    """The contract's token, worked out here independently of the code."""
    mac = hmac.new(bytes.fromhex(key_hex), f"customer_id:{customer_id}".encode(), hashlib.sha256)
    return "c_" + mac.hexdigest()[:16]


def _key(path: Path, hex_text: str) -> Path:
    path.write_text(hex_text + "\n")
    path.chmod(0o600)
    return path


def _zip_texts(archive: Path) -> dict[str, str]:
    with zipfile.ZipFile(archive) as zipped:
        return {name: zipped.read(name).decode("utf-8", "replace") for name in zipped.namelist()}


def test_the_shareable_zip_holds_no_personal_value_and_the_internal_report_keeps_them(
        shareable_output, tmp_path):
    build_report(shareable_output, share_key_file=_key(tmp_path / "a.key", KEY_A))
    texts = _zip_texts(shareable_output / "report-share.zip")
    assert "report-share/index.html" in texts and "report-share/notebooks/09_data_model.html" in texts
    for name, text in texts.items():
        for value in PERSONAL_VALUES:
            assert value not in text, f"{value!r} in {name}"
    internal = (shareable_output / "report" / "notebooks" / "09_data_model.html").read_text()
    assert EMAIL in internal and EMAIL in (shareable_output / "report" / "index.html").read_text()
    assert (shareable_output / "report" / "data" / "09_dim_customer.csv").read_text() == CUSTOMERS

    shared = shareable_output / "report-share"
    assert (shared / "data" / "09_dim_customer.csv").read_text() == (
        "customer_id,customer_title\n"
        f"{token(KEY_A, '17')},Mrs\n{token(KEY_A, '18')},Mr\n")
    # the same customer has the same token in every file; an unclassified column is left out
    assert (shared / "data" / "09_fact_transaction.csv").read_text() == (
        "order_id,customer_id,event_id,quantity\n"
        f"O-1,{token(KEY_A, '17')},EV-1,2\nO-2,{token(KEY_A, '18')},EV-1,1\n"
        f"O-3,{token(KEY_A, '17')},EV-1,4\n")
    assert (shared / "data" / "rejects" / "customers_rejected.csv").read_text() == (
        "reject_reason\nmalformed_json\n")
    # charts are the same bytes; the notebook page keeps its chart, not its printed rows
    assert (shared / "charts" / "09_data_model.png").read_bytes() == (
        shareable_output / "charts" / "09_data_model.png").read_bytes()
    page = (shared / "notebooks" / "09_data_model.html").read_text()
    assert "iVBORw0KGgo=" in page and "Jane" not in page and "09 · Data model" in page
    index = (shared / "index.html").read_text()
    assert token(KEY_A, "17") in index and "Shareable copy" in index
    assert_self_contained(shared)


def test_the_shareable_report_loads_in_a_browser(browser, shareable_output, tmp_path):
    build_report(shareable_output, share_key_file=_key(tmp_path / "a.key", KEY_A))
    result = check_in_browser(browser, shareable_output / "report-share", tmp_path)
    assert result.get("error") is None, result
    assert result["title"] == "Ticket insights report (shareable)" and result["images"] == 1
    assert result["badImages"] == [] and result["badLinks"] == [] and result["console"] == []


def test_same_key_same_tokens_across_runs_another_key_other_tokens(shareable_output, tmp_path):
    key_a = _key(tmp_path / "a.key", KEY_A)
    build_report(shareable_output, share_key_file=key_a)
    first = (shareable_output / "report-share" / "data" / "09_dim_customer.csv").read_text()
    build_report(shareable_output, share_key_file=key_a)  # next week, same key
    assert (shareable_output / "report-share" / "data" / "09_dim_customer.csv").read_text() == first
    build_report(shareable_output, share_key_file=_key(tmp_path / "b.key", KEY_B))
    other = (shareable_output / "report-share" / "data" / "09_dim_customer.csv").read_text()
    assert token(KEY_B, "17") in other and token(KEY_A, "17") not in other
    assert token(KEY_A, "17") != token(KEY_B, "17")


def test_the_key_file_is_made_private_and_refused_where_it_would_leak(shareable_output, tmp_path):
    new = tmp_path / "conf" / "share.key"
    key = load_key(new, shareable_output)
    assert len(key) == 32 and stat.S_IMODE(new.stat().st_mode) == 0o600
    assert load_key(new, shareable_output) == key  # kept, not replaced
    with pytest.raises(ShareKeyError, match="inside the output folder"):
        load_key(shareable_output / "share.key", shareable_output)
    new.chmod(0o644)
    with pytest.raises(ShareKeyError, match="read by others"):
        load_key(new, shareable_output)
    with pytest.raises(ShareKeyError, match="shorter than 16 bytes"):
        load_key(_key(tmp_path / "short.key", "abcd"), shareable_output)
    assert not (shareable_output / "report-share").exists()


def test_the_contract_lists_the_personal_columns_the_code_treats():
    text = (PROJECT_ROOT / "docs" / "contract.md").read_text()
    section = text[text.index("### 5.7 "):text.index("## 6. ")]
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ([^|]+) \|$", section, re.M)
    treatments = {"replaced by a keyed token": Treatment.TOKEN, "dropped": Treatment.DROP}
    assert {name: treatments[what.strip()] for name, what in rows} == PERSONAL
    assert not set(PERSONAL) & NOT_PERSONAL


# -- a real run ----------------------------------------------------------------------

def _input_personal_values(data_dir: Path) -> set[str]:
    """Every email, phone and postcode in customer.json, read here as text."""
    text = (data_dir / "customer.json").read_text(encoding="utf-8", errors="replace")
    # a value within one line (a record cut off mid-value is not a whole value)
    found = re.findall(r'"(?:Email|phone|postcode)"[ \t]*:[ \t]*"((?:[^"\\\n]|\\.)*)"', text)
    return {json.loads(f'"{v}"').strip() for v in found} - {""}


@pytest.mark.slow
def test_a_real_run_shared_holds_no_personal_value_and_shows_lineage_and_data_docs(
        browser, spark_remote, pinned, tmp_path):
    out = tmp_path / "output"
    run = run_suite("--output-dir", str(out), "--data-dir", pinned["data_dir"], "--as-of-date",
                    "2026-11-01", "--share", "--share-key-file", str(tmp_path / "share.key"),
                    env=suite_env(spark_remote), timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    values = _input_personal_values(Path(pinned["data_dir"]))
    assert len(values) > 3000  # emails, phones and postcodes of 2,000 customers
    texts = _zip_texts(out / "report-share.zip")
    assert len([n for n in texts if n.endswith(".html")]) == 13  # index and 12 notebook pages
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
    leaks = {name: m.group(0) for name, text in texts.items() if (m := pattern.search(text))}
    assert leaks == {}
    internal = (out / "report" / "index.html").read_text()
    assert pattern.search(internal)  # the internal report is as it was

    # the lineage names every output each manifest names; the data docs' checks pass
    for manifest in (out / "notebooks").glob("*.manifest.json"):
        recorded = json.loads(manifest.read_text())
        assert recorded["reads"], manifest.name
        for output in recorded["outputs"]:
            assert f"<title>{output['path']}</title>" in internal, output["path"]
    docs = internal[internal.index('id="data-model"'):internal.index('<section id="nb-')]
    assert docs.count('<span class="status-ok">ok</span>') == 10  # 3 + 1 + 3 + 3 checks
    assert "FAILED" not in docs and "not checked" not in docs
    shared = out / "report-share"
    for report in (out / "report", shared):
        result = check_in_browser(browser, report, tmp_path / report.name)
        assert result.get("error") is None, result
        assert result["badImages"] == [] and result["badLinks"] == [], result
        assert result["console"] == [], result


def test_a_pseudonymised_csv_keeps_the_contract_format_and_a_clean_one_its_bytes(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(b'order_id,event_name,customer_id,email\n'
                       b'O-1,"a\rb",17,x@example.com\nO-2,"c, ""d""",,\n')
    left_out = pseudonymise_csv(source, tmp_path / "out.csv", Tokens(bytes.fromhex(KEY_A)))
    assert left_out == ["email"]
    assert (tmp_path / "out.csv").read_bytes() == (
        b'order_id,event_name,customer_id\n'
        b'O-1,"a\rb",' + token(KEY_A, "17").encode() + b'\nO-2,"c, ""d""",\n')
    clean = tmp_path / "events.csv"
    clean.write_bytes(b'event_id,event_name\nEV-1,"x\r\ny"\n')
    assert pseudonymise_csv(clean, tmp_path / "same.csv", Tokens(b"k" * 16)) == []
    assert (tmp_path / "same.csv").read_bytes() == clean.read_bytes()


def test_a_relative_key_file_is_the_callers_even_after_the_runner_changes_directory(
        tmp_path, monkeypatch):
    from lib.suite.options import arguments

    monkeypatch.chdir(tmp_path)
    args = arguments(["--share", "--share-key-file", "keys/share.key"], "test")
    assert share_key_file(args) == str(tmp_path / "keys" / "share.key")
    assert share_key_file(arguments([], "test")) is None
