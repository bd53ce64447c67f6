"""One local Spark Connect server that many notebooks share: started on loopback
with a token, waited for with deadlines, stopped by its owner or, if the owner
dies, by the kernel (docs/design.md, "One warm Spark Connect server").
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

from lib.errors import TicketInsightsError
from lib.session import LOCAL_SETTINGS, SESSION_SETTINGS, out_of_memory_message
from lib.suite.endpoint import wait_for_endpoint
from lib.suite.processes import DIE_WITH_PARENT, SPARK_HOME, spark_environment
from lib.suite.watch import out_of_memory_in_log

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
HOST = "127.0.0.1"
START_TIMEOUT = 180.0
STOP_GRACE = 15.0


class ConnectServerError(TicketInsightsError):
    """The Spark Connect server did not start (one line: its last error and its log)."""


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def server_command(port: int, app_name: str, extra_conf: dict[str, str],
                   java_options: tuple[str, ...] = ()) -> list[str]:
    conf = {
        **LOCAL_SETTINGS,
        **SESSION_SETTINGS,  # server-wide defaults; every client sets them again
        "spark.connect.grpc.binding.address": HOST,
        "spark.connect.grpc.binding.port": str(port),
        **extra_conf,
    }
    if java_options:  # e.g. a flight recording (make bench PROFILE=1)
        key = "spark.driver.extraJavaOptions"
        conf[key] = " ".join((conf[key], *java_options))
    command = [str(SPARK_HOME / "bin" / "spark-submit"), "--class", SERVER_CLASS,
               "--name", app_name, "--master", os.environ.get("SPARK_MASTER", "local[*]")]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    return command


# glibc gives a thread that meets a busy malloc arena a new one, up to 8 per
# core, and each keeps what it once held; a Spark server's dozens of threads
# left hundreds of MB resident that way. Two arenas: the JVM's peak at 10M
# orders 400-700 MB lower, at no more CPU (bench/README.md, eleventh session).
# A MALLOC_ARENA_MAX of the user's own wins.
MALLOC_ARENAS = "2"


def server_environment(token: str) -> dict[str, str]:
    """The environment a Spark Connect server started here runs in."""
    return {
        "MALLOC_ARENA_MAX": MALLOC_ARENAS,
        **spark_environment(),
        # from the environment, not the command line, so `ps` does not show it
        "SPARK_CONNECT_AUTHENTICATE_TOKEN": token,
        "SPARK_LOCAL_IP": HOST,  # where a UI binds (else every interface): loopback only
    }


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


def listens(pid: int, port: int) -> bool:
    """True when process ``pid`` or one of its children listens on ``port``
    (a port that merely answers may be another process's)."""
    try:
        top = psutil.Process(pid)
        family = [top, *top.children(recursive=True)]
    except psutil.Error:
        return False
    for process in family:
        try:
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port
                   for c in process.net_connections(kind="tcp")):
                return True
        except psutil.Error:
            continue
    return False


# One real query (it also warms the JVM up), from a client in a process of its
# own: a Connect client retries an endpoint for ten minutes, even at the exit
# of the process that made it, so none is made here. The URL (with its token)
# comes on stdin, not the command line, which `ps` shows.
_FIRST_QUERY = """import sys
from pyspark.sql.connect.session import SparkSession
session = SparkSession.builder.remote(sys.stdin.read().strip()).create()
try:
    assert session.range(10).count() == 10, "a test query answered wrongly"
finally:
    session.stop()
"""


def _last_error_line(path: Path) -> str:
    """The log's last line naming an exception or error (else its last line)."""
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no server log)"
    marked = [ln for ln in lines if "Exception" in ln or "Error" in ln]
    return (marked or lines or ["(server log is empty)"])[-1][:300]


def _died(server: ConnectServer) -> ConnectServerError:
    if out_of_memory_in_log(server.log_path):
        return ConnectServerError(f"the Spark Connect server did not start: "
                                  f"{out_of_memory_message()}")
    return ConnectServerError(
        f"the Spark Connect server exited (code {server.process.returncode}) before it answered: "
        f"{_last_error_line(server.log_path)} (log: {server.log_path})")


def _late(server: ConnectServer, what: str) -> ConnectServerError:
    return ConnectServerError(
        f"the Spark Connect server did not {what} on {HOST}:{server.port} in time; "
        f"last log line: {_last_error_line(server.log_path)} (log: {server.log_path})")


@contextmanager
def _query_client() -> Iterator[tuple[subprocess.Popen, IO[str]]]:
    """The process that asks :data:`_FIRST_QUERY`, started at once so that it
    imports pyspark (a second or two) while the server's JVM starts; it waits
    for the URL on stdin. Killed if still running when the block ends."""
    with tempfile.TemporaryFile("w+") as errors:
        check = subprocess.Popen(
            [sys.executable, "-c", _FIRST_QUERY], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=errors, text=True,
            preexec_fn=DIE_WITH_PARENT,
        )
        try:
            yield check, errors
        finally:
            if check.poll() is None:
                check.kill()
            check.wait()


def _first_query(server: ConnectServer, deadline: float,
                 check: subprocess.Popen, errors: IO[str]) -> None:
    """Sends the URL to ``check`` (:func:`_query_client`), then waits for its
    answer in short steps (so signals are handled); gives up at ``deadline`` or
    when the server dies."""
    try:
        check.stdin.write(server.url)
        check.stdin.close()
    except BrokenPipeError:  # it failed before asking (its error is read below)
        pass
    while True:
        try:
            code = check.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        if not server.running():
            raise _died(server)
        if time.monotonic() > deadline:
            raise _late(server, "answer a query")
    if code != 0:
        errors.seek(0)
        last = ([ln for ln in errors.read().splitlines() if ln.strip()] or ["?"])[-1]
        raise ConnectServerError(f"the Spark Connect server did not answer a test query: "
                                 f"{last.strip()[:300]} (log: {server.log_path})")


def wait_until_ready(server: ConnectServer, deadline: float) -> None:
    with _query_client() as (check, errors):
        while not listens(server.pid, server.port):
            if not server.running():
                raise _died(server)
            if time.monotonic() > deadline:
                raise _late(server, "listen")
            time.sleep(0.2)
        _first_query(server, deadline, check, errors)


def _lost_its_port(server: ConnectServer) -> bool:
    """The server could not bind the port chosen for it (taken meanwhile)."""
    tail = _log_tail(server.log_path, 400)
    return not server.running() and ("BindException" in tail or "Address already in use" in tail)


def start_server(
    log_path: str | os.PathLike,
    app_name: str = "ticket-insights-connect",
    timeout: float = START_TIMEOUT,
    conf: dict[str, str] | None = None,
    attempts: int = 3,
    java_options: tuple[str, ...] = (),
) -> ConnectServer:
    """Start a local Spark Connect server and return once it answers a query.

    Raises :class:`ConnectServerError` (one line: the log's last error and
    the log's path) if it dies or does not come up within ``timeout`` seconds.
    A port taken between choosing it and the server binding it is retried
    with another port, ``attempts`` times at most. ``java_options`` are added
    to the server JVM's options (e.g. :func:`lib.suite.class_archive.for_server`).
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    deadline = began + timeout
    token = secrets.token_urlsafe(24)
    env = server_environment(token)
    last_error: ConnectServerError | None = None
    for _ in range(attempts):
        port = free_port()
        with log_path.open("w") as log:
            process = subprocess.Popen(
                server_command(port, app_name, conf or {}, tuple(java_options)),
                env=env, cwd=str(log_path.parent),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, not the JVM; we stop it in order
                preexec_fn=DIE_WITH_PARENT,
            )
        server = ConnectServer(process=process, port=port, token=token, log_path=log_path)
        try:
            wait_until_ready(server, deadline)
        except ConnectServerError as error:
            lost_port = _lost_its_port(server)
            server.stop()
            last_error = error
            if lost_port and time.monotonic() < deadline:
                continue
            raise
        except BaseException:
            server.stop()
            raise
        server.started_in = time.monotonic() - began
        return server
    raise last_error  # type: ignore[misc]


def spark_for_batch(shared: bool, log_path: Path, shown_log: str, remote: str | None,
                    java_options: tuple[str, ...] = ()):
    """The Spark a runner's batch uses: (description, server or None, the
    endpoint's URL or None for a local session per notebook). Starts a server
    unless ``remote`` (the user's ``SPARK_REMOTE``) names one (then waits,
    bounded, until it accepts connections) or sessions are not ``shared``.
    ``java_options`` go to a server started here."""
    if not shared:
        if remote:
            print("note: --no-shared-session: ignoring SPARK_REMOTE", file=sys.stderr)
        return "a local Spark session per notebook", None, None
    if remote:
        wait_for_endpoint(remote)  # a cluster's server may still be starting
        shown = re.sub(r";token=[^;]*", ";token=***", remote)
        return f"Spark Connect endpoint from SPARK_REMOTE ({shown})", None, remote
    print(f"Starting a local Spark Connect server (log: {shown_log})...", end=" ", flush=True)
    server = start_server(log_path, java_options=java_options)
    print(f"ready in {server.started_in:.1f} s (127.0.0.1:{server.port}, pid {server.pid})",
          flush=True)
    return f"shared local Spark Connect server (127.0.0.1:{server.port})", server, server.url
