"""The runner waits, bounded, for a Spark Connect server named by SPARK_REMOTE
that is still starting (a compose cluster whose client starts first)."""

from __future__ import annotations

import socket
import threading

import pytest

from lib.suite.connect_server import free_port, spark_for_batch
from lib.suite.endpoint import EndpointError, address, wait_for_endpoint


def _listen_later(port: int, ready: threading.Event, stop: threading.Event) -> None:
    """Listen on ``port`` once ``ready`` is set (after the first refused try)."""
    ready.wait()
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        stop.wait()


def test_address_of_a_connect_url():
    assert address("sc://spark-connect:15002") == ("spark-connect", 15002)
    assert address("sc://localhost:4711/;token=abc;user_id=x") == ("localhost", 4711)
    assert address("sc://somewhere") == ("somewhere", 15002)
    with pytest.raises(EndpointError, match="not a Spark Connect URL"):
        address("http://localhost:15002")


def test_waits_for_a_server_that_starts_late(capsys):
    port = free_port()
    ready, stop = threading.Event(), threading.Event()
    listener = threading.Thread(target=_listen_later, args=(port, ready, stop), daemon=True)
    listener.start()
    # the first try is refused; the server starts once the runner said it waits
    threading.Timer(1.5, ready.set).start()
    try:
        wait_for_endpoint(f"sc://127.0.0.1:{port}/;token=secret", timeout=60)
    finally:
        ready.set()
        stop.set()
        listener.join()
    said = capsys.readouterr().err.strip().splitlines()
    assert said == [f"Waiting up to 60 s for the Spark Connect server at 127.0.0.1:{port}..."]


def test_gives_up_in_one_line_when_nothing_listens():
    port = free_port()
    with pytest.raises(EndpointError) as raised:
        wait_for_endpoint(f"sc://127.0.0.1:{port}", timeout=2)
    message = str(raised.value)
    assert "\n" not in message and f"127.0.0.1:{port}" in message and "within 2 s" in message


def test_the_runner_checks_its_remote_before_use(tmp_path):
    """spark_for_batch waits for SPARK_REMOTE's server and starts none of its own."""
    port = free_port()
    ready, stop = threading.Event(), threading.Event()
    ready.set()
    listener = threading.Thread(target=_listen_later, args=(port, ready, stop), daemon=True)
    listener.start()
    remote = f"sc://127.0.0.1:{port}/;token=secret"
    try:
        description, server, url = spark_for_batch(True, tmp_path / "log", "log", remote)
    finally:
        stop.set()
        listener.join()
    assert server is None and url == remote
    assert "token=***" in description and "secret" not in description
