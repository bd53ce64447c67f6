"""What the harness's modules share about the processes they start and talk to:
where Spark is (:data:`SPARK_HOME`), a child that dies with its parent
(:data:`DIE_WITH_PARENT`), whether a port accepts connections
(:func:`accepts`), a child's environment without this process's choice of
Spark (:func:`without_spark`), what a Spark JVM started from here needs in
its environment (:func:`spark_environment`), and the terminal colours a
child's error text may carry (:func:`strip_ansi`).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import signal
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

# The pyspark package carries Spark's jars and bin/ (found, not imported: importing it costs seconds)
SPARK_HOME = Path(importlib.util.find_spec("pyspark").origin).resolve().parent
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PR_SET_PDEATHSIG = 1


def _prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _prctl()  # looked up here, not in the forked child


def _die_with_parent() -> None:  # runs in the child between fork and exec
    _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


# ``preexec_fn`` for a child that gets SIGTERM when the thread that started it
# dies, even by ``kill -9`` (Linux ``PR_SET_PDEATHSIG``); None elsewhere.
DIE_WITH_PARENT = _die_with_parent if _PRCTL is not None else None


def accepts(host: str, port, timeout: float = 1.0) -> bool:
    """True when something accepts a TCP connection at ``host:port`` (a port
    that answers may be anyone's: ``connect_server.listens`` tells whose)."""
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError, TypeError):  # refused, unreachable, no such name, no port
        return False


# What names this process's Spark: the user's endpoint, and the marker pyspark
# sets once a Spark Connect session exists in the process (a child that inherits
# it cannot make a classic session).
SPARK_CHOICE = ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")


def without_spark(env: Mapping[str, str], *also: str) -> dict[str, str]:
    """``env`` without :data:`SPARK_CHOICE` (and the names in ``also``): for a
    child that is told its Spark explicitly, or makes its own."""
    dropped = {*SPARK_CHOICE, *also}
    return {name: value for name, value in env.items() if name not in dropped}


def spark_environment() -> dict[str, str]:
    """This process's environment without :data:`SPARK_CHOICE`, with what a
    Spark JVM started from here needs: Java (found or fetched), SPARK_HOME,
    UTC, and this Python for Python workers."""
    from lib.java import ensure_java

    java_home = ensure_java()
    env = without_spark(os.environ)
    env.update({
        "JAVA_HOME": str(java_home),
        "PATH": f"{java_home / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "SPARK_HOME": str(SPARK_HOME),
        "PYSPARK_PYTHON": sys.executable,  # workers for Python UDFs: same Python
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "TZ": "UTC",
    })
    return env


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (IPython colours its tracebacks)."""
    return _ANSI_ESCAPE.sub("", text)
