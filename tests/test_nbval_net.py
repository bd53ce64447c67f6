"""The nbval regression net catches a changed result.

``make test`` compares a fresh run of each notebook against its stored outputs
(``--nbval-lax``: the cells marked ``# NBVAL_CHECK_OUTPUT``). This test executes
a copy of notebook 00 on the pinned data to store fresh outputs, alters one
stored number in a checked cell of a second copy, and runs nbval on both in a
separate pytest: the untouched copy must pass (which also shows two runs give
the same output) and the altered one must fail. It does not depend on whether
the committed notebooks are up to date: the nbval run of ``notebooks/`` checks
that.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import nbformat
import papermill
import pytest

from lib.config import PROJECT_ROOT

NOTEBOOK = PROJECT_ROOT / "notebooks" / "00_data_quality.ipynb"
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def _checked_output_with_number(nb) -> tuple[int, int] | None:
    """(cell index, output index) of the first checked cell's stored stdout holding a number."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or CHECK_MARK not in cell.source:
            continue
        for out_index, out in enumerate(cell.get("outputs", [])):
            if out.get("output_type") == "stream" and re.search(r"\d", out.get("text", "")):
                return index, out_index
    return None


def _alter_one_number(text: str) -> tuple[str, str, str]:
    """Change the last digit of the first number (``1,234`` -> ``1,235``)."""
    match = re.search(r"\d[\d,.]*", text)
    old = match.group(0)
    last = max(i for i, ch in enumerate(old) if ch.isdigit())
    new = old[:last] + str((int(old[last]) + 1) % 10) + old[last + 1:]
    return text[:match.start()] + new + text[match.end():], old, new


@pytest.mark.slow
def test_nbval_fails_when_a_stored_result_changes(tmp_path, spark_remote, pinned, monkeypatch):
    monkeypatch.setenv("SPARK_REMOTE", spark_remote)
    untouched = tmp_path / "untouched.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(untouched), kernel_name="ticket-insights",
                               cwd=str(PROJECT_ROOT), progress_bar=False, start_timeout=180,
                               parameters={**pinned, "output_dir": str(tmp_path / "output")})
    nb = nbformat.read(untouched, as_version=4)
    found = _checked_output_with_number(nb)
    assert found, f"{NOTEBOOK.name} has no checked cell that prints a number"
    cell_index, out_index = found
    output = nb.cells[cell_index].outputs[out_index]
    output["text"], old, new = _alter_one_number(output["text"])
    nbformat.write(nb, tmp_path / "altered.ipynb")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the project's settings

    env = dict(os.environ)
    report = tmp_path / "junit.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(tmp_path / "pytest.ini"), "--rootdir",
         str(tmp_path), "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-current-env", f"--junitxml={report}", "untouched.ipynb", "altered.ipynb"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )
    log = done.stdout[-4000:] + done.stderr[-2000:]
    assert report.is_file(), log
    outcomes: dict[str, list[str]] = {"untouched": [], "altered": []}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = "altered" if "altered" in (case.get("classname", "") + case.get("file", "")) \
            else "untouched"
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[name].append("failed" if failed else "passed")
    assert outcomes["untouched"] and set(outcomes["untouched"]) == {"passed"}, log
    assert "failed" in outcomes["altered"], log
    assert done.returncode == 1
    assert new in done.stdout and old in done.stdout  # nbval shows both values
