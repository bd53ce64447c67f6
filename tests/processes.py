"""Process facts for the tests, through psutil: process trees, command lines,
open files and listening sockets."""

from __future__ import annotations

import time

import psutil

_GONE = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)


def _live(process: psutil.Process) -> bool:
    try:
        return process.status() not in _GONE
    except psutil.Error:
        return False


def tree(root: int) -> set[int]:
    """``root`` and every live process descended from it."""
    try:
        top = psutil.Process(root)
        return {p.pid for p in [top, *top.children(recursive=True)] if _live(p)}
    except psutil.Error:
        return set()


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if psutil.pid_exists(pid) and _live(psutil.Process(pid))}


def wait_gone(pids: set[int], timeout: float = 30) -> set[int]:
    """Waits until none of ``pids`` lives; returns those still alive."""
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


def cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def open_files(pid: int) -> set[str]:
    try:
        return {f.path for f in psutil.Process(pid).open_files()}
    except psutil.Error:
        return set()


def listening(pids: set[int]) -> list[tuple[int, str, int]]:
    """(pid, local address, port) of every listening TCP socket of ``pids``."""
    return [(c.pid, c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.pid in pids]


def port_owner(port: int | None) -> int | None:
    """The process listening on ``port`` now, if any."""
    return next((c.pid for c in psutil.net_connections(kind="tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == port), None)
