"""One local Spark Connect server that many notebooks share.

Starting a JVM per notebook costs ~10 s plus a cold first job; a client of a
warm server connects in about a second. :func:`start_server` launches the
server shipped in the ``pyspark`` package (``spark-submit --class
...SparkConnectServer``) on this Python (client and server Pythons must match)
and the project's Java (:func:`lib.java.ensure_java`), bound to 127.0.0.1 on a
free port and guarded by a random token, and waits until a real client query
succeeds. Its owner stops it (``server.stop()``) on success, failure and
Ctrl-C, in a ``finally``.

If the process that started it dies without stopping it (even ``kill -9``), the
kernel sends the server SIGTERM (Linux ``PR_SET_PDEATHSIG``). That signal is
tied to the starting *thread*: start the server from a thread that outlives it
(the main thread).
"""

from __future__ import annotations

import ctypes
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

from lib.errors import TicketInsightsError
from lib.java import ensure_java
from lib.session import LOCAL_SETTINGS, SESSION_SETTINGS, out_of_memory_message
from lib.suite.watch import out_of_memory_in_log

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
SPARK_HOME = Path(pyspark.__file__).resolve().parent
HOST = "127.0.0.1"
START_TIMEOUT = 180.0
STOP_GRACE = 15.0


class ConnectServerError(TicketInsightsError):
    """The Spark Connect server did not start (the message holds its log tail)."""


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _prctl()  # looked up here, not in the forked child
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def _command(port: int, app_name: str, extra_conf: dict[str, str]) -> list[str]:
    conf = {
        **LOCAL_SETTINGS,
        **SESSION_SETTINGS,  # server-wide defaults; every client sets them again
        "spark.connect.grpc.binding.address": HOST,
        "spark.connect.grpc.binding.port": str(port),
        **extra_conf,
    }
    command = [str(SPARK_HOME / "bin" / "spark-submit"), "--class", SERVER_CLASS,
               "--name", app_name, "--master", os.environ.get("SPARK_MASTER", "local[*]")]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    return command


def _environment(token: str) -> dict[str, str]:
    java_home = ensure_java()
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    env.update({
        "JAVA_HOME": str(java_home),
        "SPARK_HOME": str(SPARK_HOME),
        "PYSPARK_PYTHON": sys.executable,  # workers for Python UDFs: same Python
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        # from the environment, not the command line, so `ps` does not show it
        "SPARK_CONNECT_AUTHENTICATE_TOKEN": token,
        "TZ": "UTC",
    })
    return env


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no server log)"
    return "\n".join(text[-lines:]) or "(server log is empty)"


@dataclass
class ConnectServer:
    """A running server; ``url`` is what SPARK_REMOTE should hold."""

    process: subprocess.Popen
    port: int
    token: str = field(repr=False)
    log_path: Path
    started_in: float = 0.0

    @property
    def url(self) -> str:
        # 'localhost' + token: the client sends the token over a local
        # (loopback-only) gRPC channel without TLS.
        return f"sc://localhost:{self.port}/;token={self.token}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM the server's process group, SIGKILL after ``grace`` s. Idempotent."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if not self.running():
                break
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        try:  # workers the JVM may have left in its group
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _check_with_client(url: str) -> None:
    """One real query through a Spark Connect client (also warms the JVM up).

    Uses the Connect session class directly: the generic builder would mark
    this whole process as "Spark Connect mode" for later classic sessions.
    """
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    session = ConnectSession.builder.remote(url).create()
    try:
        if session.range(10).count() != 10:
            raise ConnectServerError("the Spark Connect server answered a test query wrongly")
    finally:
        session.stop()


def _wait_until_ready(server: ConnectServer, deadline: float) -> None:
    while not _port_open(server.port):
        if not server.running() and out_of_memory_in_log(server.log_path):
            raise ConnectServerError(f"the Spark Connect server did not start: "
                                     f"{out_of_memory_message()}")
        if not server.running():
            raise ConnectServerError(
                f"the Spark Connect server exited with code {server.process.returncode} "
                f"before listening; log {server.log_path}:\n{_log_tail(server.log_path)}"
            )
        if time.monotonic() > deadline:
            raise ConnectServerError(
                f"the Spark Connect server did not listen on {HOST}:{server.port} in time; "
                f"log {server.log_path}:\n{_log_tail(server.log_path)}"
            )
        time.sleep(0.2)
    _check_with_client(server.url)


def start_server(
    log_path: str | os.PathLike,
    app_name: str = "ticket-insights-connect",
    timeout: float = START_TIMEOUT,
    conf: dict[str, str] | None = None,
    attempts: int = 3,
) -> ConnectServer:
    """Start a local Spark Connect server and return once it answers a query.

    Raises :class:`ConnectServerError` (with the server log's tail) if it does
    not come up within ``timeout`` seconds. A port taken between choosing it
    and the server binding it is retried with another port.
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    deadline = began + timeout
    token = secrets.token_urlsafe(24)
    env = _environment(token)
    last_error: ConnectServerError | None = None
    for _ in range(attempts):
        port = free_port()
        with log_path.open("w") as log:
            process = subprocess.Popen(
                _command(port, app_name, conf or {}), env=env, cwd=str(log_path.parent),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, not the JVM; we stop it in order
                preexec_fn=_die_with_parent if _PRCTL is not None else None,
            )
        server = ConnectServer(process=process, port=port, token=token, log_path=log_path)
        try:
            _wait_until_ready(server, deadline)
        except ConnectServerError as error:
            server.stop()
            last_error = error
            if "Address already in use" in _log_tail(log_path, 200) and time.monotonic() < deadline:
                continue
            raise
        except BaseException:
            server.stop()
            raise
        server.started_in = time.monotonic() - began
        return server
    raise last_error  # type: ignore[misc]


def spark_for_batch(shared: bool, log_path: Path, shown_log: str):
    """The Spark a runner's batch uses: (description, server or None). Starts
    a server unless ``SPARK_REMOTE`` names one or sessions are not ``shared``;
    sets ``SPARK_REMOTE`` for the kernels."""
    if not shared:
        if os.environ.pop("SPARK_REMOTE", None):
            print("note: --no-shared-session: ignoring SPARK_REMOTE", file=sys.stderr)
        return "a local Spark session per notebook", None
    remote = os.environ.get("SPARK_REMOTE", "").strip()
    if remote:
        shown = re.sub(r";token=[^;]*", ";token=***", remote)
        return f"Spark Connect endpoint from SPARK_REMOTE ({shown})", None
    print(f"Starting a local Spark Connect server (log: {shown_log})...", end=" ", flush=True)
    server = start_server(log_path)
    print(f"ready in {server.started_in:.1f} s (127.0.0.1:{server.port}, pid {server.pid})",
          flush=True)
    os.environ["SPARK_REMOTE"] = server.url  # kernels inherit it
    return f"shared local Spark Connect server (127.0.0.1:{server.port})", server
