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

import nbformat
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from suite_runner import run_suite, suite_env
from test_report import (
    assert_self_contained,
    check_in_browser,
    png_bytes,
    write_csv,
    write_executed,
)

from lib.config import PROJECT_ROOT
from lib.manifest import manifest_path, read_manifest, write_manifest
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
EMAIL, PHONE, POSTCODE = "jane.doe@example.com", "07700 900123", "SW1A 1AA"
CUSTOMERS = (
    "customer_id,customer_title,first_name,last_name,email,phone,postcode\n"
    f"17,Mrs,Jane,Doe,{EMAIL},{PHONE},{POSTCODE}\n"
    "18,Mr,Olu,Bello,olu.b@example.org,+44 7700 900456,M1 1AE\n"
)
RAW = json.dumps({"CustomerIdentity": "x", "Email": "lost.one@example.net",
                  "contact_details": {"phone": "07700 900999", "postcode": "EH1 1YZ"}})
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


def _table(out: Path, name: str, columns: dict) -> None:
    folder = out / "warehouse" / name
    folder.mkdir(parents=True)
    pq.write_table(pa.table(columns), folder / "part-00000.parquet")


@pytest.fixture
def output_dir(tmp_path) -> Path:
    return shared_output(tmp_path)


def shared_output(tmp_path: Path) -> Path:
    """00 and 09 as hand-made outputs: personal values in the CSVs, in the
    rejects and in the executed notebooks' printed previews; 09's tables."""
    out = tmp_path / "output"
    write_csv(out / "data_quality.csv", "dataset,outcome,rows\ncustomers,clean,2\n"
              "customers,malformed_json,1\n")
    raw = '"' + RAW.replace('"', '""') + '"'
    write_csv(out / "rejects" / "customers_rejected.csv", f"raw_record,reject_reason\n{raw},malformed_json\n")
    write_executed(out / "notebooks" / "00_data_quality.ipynb", "00 · Data quality", "How clean?",
                   ["data_quality.csv", "rejects/customers_rejected.csv"])
    write_csv(out / "09_dim_customer.csv", CUSTOMERS)
    write_csv(out / "09_fact_transaction.csv", "order_id,customer_id,event_id,quantity,secret_note\n"
              "O-1,17,EV-1,2,unclassified\nO-2,18,EV-1,1,unclassified\nO-3,17,EV-1,4,x\n")
    (out / "charts").mkdir()
    (out / "charts" / "09_data_model.png").write_bytes(png_bytes())
    write_executed(out / "notebooks" / "09_data_model.ipynb", "09 · Data model", "Which model?",
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


def _zip_texts(archive: Path) -> dict[str, str]:
    with zipfile.ZipFile(archive) as zipped:
        return {name: zipped.read(name).decode("utf-8", "replace") for name in zipped.namelist()}


def test_the_shareable_zip_holds_no_personal_value_and_the_internal_report_keeps_them(
        output_dir, tmp_path):
    build_report(output_dir, share_key_file=_key(tmp_path / "a.key", KEY_A))
    texts = _zip_texts(output_dir / "report-share.zip")
    assert "report-share/index.html" in texts and "report-share/notebooks/09_data_model.html" in texts
    for name, text in texts.items():
        for value in PERSONAL_VALUES:
            assert value not in text, f"{value!r} in {name}"
    internal = (output_dir / "report" / "notebooks" / "09_data_model.html").read_text()
    assert EMAIL in internal and EMAIL in (output_dir / "report" / "index.html").read_text()
    assert (output_dir / "report" / "data" / "09_dim_customer.csv").read_text() == CUSTOMERS

    shared = output_dir / "report-share"
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
        output_dir / "charts" / "09_data_model.png").read_bytes()
    page = (shared / "notebooks" / "09_data_model.html").read_text()
    assert "iVBORw0KGgo=" in page and "Jane" not in page and "09 · Data model" in page
    index = (shared / "index.html").read_text()
    assert token(KEY_A, "17") in index and "Shareable copy" in index
    assert_self_contained(shared)


def test_the_shareable_report_loads_in_a_browser(browser, output_dir, tmp_path):
    build_report(output_dir, share_key_file=_key(tmp_path / "a.key", KEY_A))
    result = check_in_browser(browser, output_dir / "report-share", tmp_path)
    assert result.get("error") is None, result
    assert result["title"] == "Ticket insights report (shareable)" and result["images"] == 1
    assert result["badImages"] == [] and result["badLinks"] == [] and result["console"] == []


def test_same_key_same_tokens_across_runs_another_key_other_tokens(output_dir, tmp_path):
    key_a = _key(tmp_path / "a.key", KEY_A)
    build_report(output_dir, share_key_file=key_a)
    first = (output_dir / "report-share" / "data" / "09_dim_customer.csv").read_text()
    build_report(output_dir, share_key_file=key_a)  # next week, same key
    assert (output_dir / "report-share" / "data" / "09_dim_customer.csv").read_text() == first
    build_report(output_dir, share_key_file=_key(tmp_path / "b.key", KEY_B))
    other = (output_dir / "report-share" / "data" / "09_dim_customer.csv").read_text()
    assert token(KEY_B, "17") in other and token(KEY_A, "17") not in other
    assert token(KEY_A, "17") != token(KEY_B, "17")


def test_the_key_file_is_made_private_and_refused_where_it_would_leak(output_dir, tmp_path):
    new = tmp_path / "conf" / "share.key"
    key = load_key(new, output_dir)
    assert len(key) == 32 and stat.S_IMODE(new.stat().st_mode) == 0o600
    assert load_key(new, output_dir) == key  # kept, not replaced
    with pytest.raises(ShareKeyError, match="inside the output folder"):
        load_key(output_dir / "share.key", output_dir)
    new.chmod(0o644)
    with pytest.raises(ShareKeyError, match="read by others"):
        load_key(new, output_dir)
    with pytest.raises(ShareKeyError, match="shorter than 16 bytes"):
        load_key(_key(tmp_path / "short.key", "abcd"), output_dir)
    assert not (output_dir / "report-share").exists()


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
