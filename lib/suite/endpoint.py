"""Waiting for a Spark Connect server the runner did not start (``SPARK_REMOTE``).

A cluster's Connect server may still be starting when the runner begins (compose
tools that skip the ``service_healthy`` wait, e.g. podman-compose on podman < 4.6):
its first notebook then failed with ``Connection refused``. The runner waits until
the server's port accepts a connection, for a bounded time, and says so in one line.
"""

from __future__ import annotations

import sys
import time
from urllib.parse import urlsplit

from lib.errors import TicketInsightsError
from lib.suite.processes import accepts

WAIT_TIMEOUT = 120.0
DEFAULT_PORT = 15002  # Spark Connect's own default


class EndpointError(TicketInsightsError):
    """The Spark Connect server named by SPARK_REMOTE did not answer in time."""


def address(url: str) -> tuple[str, int]:
    """(host, port) of a Spark Connect URL such as ``sc://host:15002/;token=...``."""
    parts = urlsplit(url.split(";", 1)[0])
    if parts.scheme != "sc" or not parts.hostname:
        raise EndpointError(f"SPARK_REMOTE is not a Spark Connect URL (sc://host:port): {url.split(';')[0]}")
    return parts.hostname, parts.port or DEFAULT_PORT


def wait_for_endpoint(url: str, timeout: float = WAIT_TIMEOUT) -> None:
    """Return once the server at ``url`` accepts a connection; raise
    :class:`EndpointError` after ``timeout`` seconds."""
    host, port = address(url)
    if accepts(host, port, timeout=5):
        return
    print(f"Waiting up to {timeout:.0f} s for the Spark Connect server at {host}:{port}...",
          file=sys.stderr, flush=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(1.0)
        if accepts(host, port, timeout=5):
            return
    raise EndpointError(f"the Spark Connect server at {host}:{port} (SPARK_REMOTE) did not accept "
                        f"a connection within {timeout:.0f} s")
