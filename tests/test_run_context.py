"""The run context: what the suite runner hands each notebook, explicitly, in
a file; and nothing in the pipeline or the harness passes state through the
process's own environment or working folder."""

from __future__ import annotations

import ast
import stat

import pytest

from lib.config import PROJECT_ROOT
from lib.errors import ParameterError
from lib.run_context import RunContext, read_run_context


def test_a_context_round_trips_through_its_file_readable_by_its_owner_only(tmp_path):
    context = RunContext(notebook="01_events", spark_remote="sc://127.0.0.1:1/;token=t",
                         pin={"fingerprint": "abc", "inputs": {"/d/tickets.csv": [1, 2, 3, 4]}})
    path = context.write(context.path(tmp_path))
    assert path == tmp_path / ".run" / "01_events.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_run_context(str(path)) == context


def test_no_context_outside_a_run():
    assert read_run_context(None) is None and read_run_context("") is None


@pytest.mark.parametrize("text", ["{not json", '{"notebook": "01", "port": 1}'])
def test_a_broken_context_is_one_parameter_error_naming_it(tmp_path, text):
    path = tmp_path / "ctx.json"
    path.write_text(text)
    with pytest.raises(ParameterError, match=f"run_context {path} cannot be read"):
        read_run_context(path)


def _environment_writes_and_chdirs(source: str) -> list[str]:
    """``os.environ[...] = ``, ``os.environ.pop/setdefault/update/clear(...)``,
    ``del os.environ[...]``, ``os.putenv`` and ``os.chdir`` in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        target = None
        if isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            target = next((t for t in targets if isinstance(t, ast.Subscript)
                           and ast.unparse(t.value) == "os.environ"), None)
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name in ("os.chdir", "os.putenv", "os.unsetenv") or (
                    name.startswith("os.environ.")
                    and name.split(".")[-1] in ("pop", "setdefault", "update", "clear", "popitem")):
                target = node
        if target is not None:
            found.append(f"line {node.lineno}: {ast.unparse(node).splitlines()[0]}")
    return found


def test_the_checker_sees_each_kind_of_write():
    source = ("import os\nos.environ['A'] = '1'\nos.environ.pop('B')\ndel os.environ['C']\n"
              "os.chdir('/')\nos.environ.get('D')\n")
    assert len(_environment_writes_and_chdirs(source)) == 4


def test_no_module_changes_the_process_environment_or_working_folder():
    """State goes to a child as its environment dictionary or to a notebook in
    its run context. lib/java.py alone puts the Java it found on its own
    process's JAVA_HOME and PATH, which pyspark's JVM launch reads."""
    offenders = {}
    for path in sorted((PROJECT_ROOT / "lib").rglob("*.py")):
        if path.name == "java.py":
            continue
        found = _environment_writes_and_chdirs(path.read_text())
        if found:
            offenders[str(path.relative_to(PROJECT_ROOT))] = found
    assert offenders == {}
