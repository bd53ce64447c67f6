"""One fingerprint (lib/fingerprint.py) for the staged data and the up-to-date
check: editing any module the cleaning imports, the lock file or the Spark
version gives a new staged folder (the staged data is rebuilt) and a new
notebook fingerprint. The project's files are copied into ``tmp_path`` and
edited there; no Spark is started."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pyspark
import pytest

from lib import staged
from lib.config import PROJECT_ROOT, make_params
from lib.fingerprint import CODE, LOCK, SPARK, code_files, pipeline_parts, staged_fingerprint
from lib.manifest import manifest_path, write_manifest
from lib.suite.freshness import fingerprint_parts, run_fingerprint, stale_reason

INPUTS = {"/data/tickets.csv": [120, 1, 2, 3], "/data/customer.json": [40, 4, 5, 6]}


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the pipeline's code and lock file."""
    shutil.copytree(PROJECT_ROOT / "lib", tmp_path / "lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "requirements.txt", tmp_path)
    return tmp_path


@pytest.fixture
def run_layout(tmp_path):
    """Params of two tiny inputs, and a notebook."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "tickets.csv").write_text("header\n")
    (data / "customer.json").write_text("{}\n")
    notebook = tmp_path / "00.ipynb"
    notebook.write_text("{}")
    return make_params(data, tmp_path / "out", "2024-09-10", 8), notebook


def cleaning_modules(root: Path, module: str = "lib.staged") -> set[Path]:
    """The files of the ``lib`` modules ``module`` imports, directly or not."""
    found, todo = set(), [module]
    while todo:
        name = todo.pop()
        path = root / (name.replace(".", "/") + ".py")
        if not path.is_file():
            path = root / name.replace(".", "/") / "__init__.py"
        if path in found or not path.is_file():
            continue
        found.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                todo += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                todo += [alias.name for alias in node.names]
    return {path for path in found if path.relative_to(root).parts[0] == "lib"}


def _fresh(root: Path, spark_version: str = pyspark.__version__) -> str:
    pipeline_parts.cache_clear()  # files edited in this process: read them again
    return staged_fingerprint(INPUTS, root, spark_version)


def test_the_cleaning_imports_are_found():
    modules = {p.relative_to(PROJECT_ROOT).as_posix() for p in cleaning_modules(PROJECT_ROOT)}
    assert {"lib/staged.py", "lib/cleaning.py", "lib/readers.py", "lib/columns.py",
            "lib/schema.py", "lib/fingerprint.py"} <= modules
    assert not any(m.startswith("lib/suite/") for m in modules)


def test_editing_any_module_the_cleaning_imports_changes_the_staged_fingerprint(project):
    before = _fresh(project)
    modules = cleaning_modules(project)
    assert set(modules) <= set(code_files(project))
    for module in sorted(modules):
        source = module.read_bytes()
        module.write_bytes(source + b"\n# edited\n")
        assert _fresh(project) != before, f"{module.name} edited, same staged folder"
        module.write_bytes(source)
    assert _fresh(project) == before  # nothing else goes in: reused when unchanged


def test_the_lock_file_and_the_spark_version_are_in_the_staged_fingerprint(project):
    before = _fresh(project)
    lock = project / "requirements.txt"
    lock.write_text(lock.read_text().replace("\npandas==", "\npandas==0.0.0+", 1))
    assert _fresh(project) != before
    shutil.copy(PROJECT_ROOT / "requirements.txt", lock)
    assert _fresh(project) == before
    assert _fresh(project, "4.9.9") != before
    lock.unlink()  # an install without the lock: still a fingerprint, another one
    assert _fresh(project) != before


def test_the_harness_is_not_in_it(project):
    before = _fresh(project)
    runner = project / "lib" / "suite" / "run.py"
    runner.write_text(runner.read_text() + "\n# edited\n")
    assert _fresh(project) == before


def test_the_inputs_name_the_staged_folder():
    assert staged_fingerprint(INPUTS) != staged_fingerprint(
        {**INPUTS, "/data/tickets.csv": [120, 1, 2, 7]})  # ctime moved: a new version


def test_staged_data_and_notebooks_go_by_the_same_parts(run_layout):
    params, notebook = run_layout
    parts = fingerprint_parts(notebook, params)
    assert list(parts)[:3] == [CODE, LOCK, SPARK]
    assert {k: parts[k] for k in (CODE, LOCK, SPARK)} == pipeline_parts()
    assert staged.fingerprint(params) == staged_fingerprint(staged.input_state(params))


def test_the_dry_run_names_a_new_lock_file_or_spark(run_layout, tmp_path):
    params, notebook = run_layout
    parts = fingerprint_parts(notebook, params)
    recorded = "-".join({**parts, LOCK: "0" * 12, SPARK: "1" * 12}.values())
    write_manifest(manifest_path(params.output_dir, notebook.stem),
                   {"notebook": notebook.stem, "fingerprint": recorded})
    assert stale_reason(notebook, tmp_path / "x.ipynb", params, run_fingerprint(
        notebook, params)) == "lock file changed (dependencies); Spark version changed"
