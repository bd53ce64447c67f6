"""The project's two file-system mechanisms, each written once: whole files and
folders written atomically (scratch name, then rename), and ``flock`` file locks
(docs/design.md, "Files written atomically, and file locks").
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRATCH_SUFFIX = ".tmp"
RETIRED_SUFFIX = ".old"


def scratch_path(target: str | os.PathLike, suffix: str = SCRATCH_SUFFIX) -> Path:
    """A fresh hidden name next to ``target`` (its folder is created)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.parent / f".{target.name}.{uuid.uuid4().hex}{suffix}"


def remove_path(path: Path) -> None:
    """Delete a file or a folder tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def replacing(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a scratch file path; when the block ends without an error it is
    renamed over ``target`` (e.g. ``fig.savefig(scratch, format="png")``)."""
    scratch = scratch_path(target)
    try:
        yield scratch
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Write a whole text file atomically (UTF-8)."""
    with replacing(target) as scratch:
        scratch.write_text(text, encoding="utf-8")
    return Path(target)


def write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write a whole binary file atomically."""
    with replacing(target) as scratch:
        scratch.write_bytes(data)
    return Path(target)


def write_private_text(target: str | os.PathLike, text: str) -> Path:
    """:func:`write_text` for a file only its owner may read (it holds a secret)."""
    with replacing(target) as scratch:
        with open(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w",
                  encoding="utf-8") as out:
            out.write(text)
    return Path(target)


def publish_dir(scratch: Path, target: Path) -> None:
    """Put the complete folder ``scratch`` in place of ``target``.

    An older ``target`` is first renamed aside (``.<name>.<id>.old``), so a
    crash between the two renames leaves the old folder under that name, which
    :func:`restore_retired` puts back. Callers that share ``target`` with other
    processes call this under a :func:`file_lock`.
    """
    retired = None
    if target.exists():
        retired = scratch_path(target, RETIRED_SUFFIX)
        target.rename(retired)
    scratch.rename(target)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


@contextmanager
def replacing_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a scratch folder to fill; published over ``target`` on success,
    removed on failure."""
    target = Path(target)
    scratch = scratch_path(target)
    scratch.mkdir()
    try:
        yield scratch
        publish_dir(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def restore_retired(folder: Path, is_name) -> None:
    """Undo a :func:`publish_dir` killed between its renames: a retired
    ``.<name>.<id>.old`` whose ``<name>`` is gone is put back; any other
    retired folder is a leftover and is deleted. ``is_name`` says which
    names may be restored."""
    for retired in sorted(folder.glob(f".*{RETIRED_SUFFIX}")):
        name = retired.name[1:].rsplit(".", 2)[0]
        if is_name(name) and not (folder / name).exists():
            retired.rename(folder / name)
        else:
            remove_path(retired)


def remove_scratch(folder: str | os.PathLike) -> None:
    """Drop the hidden scratch files and folders a killed writer left."""
    for stale in Path(folder).glob(f".*{SCRATCH_SUFFIX}"):
        remove_path(stale)


class LockBusy(Exception):
    """A non-blocking :func:`file_lock` found the lock held; ``owner`` is what
    the holder wrote into the lock file (its pid), if anything."""

    def __init__(self, path: Path, owner: str):
        super().__init__(f"{path} is held by {owner or 'another process'}")
        self.path, self.owner = path, owner


def wait_for_flock(handle, operation: int, timeout: float | None) -> None:
    """``flock`` that waits at most ``timeout`` s (None: as long as it takes,
    0: not at all), in short steps so signals are handled meanwhile; raises
    BlockingIOError when the time is up."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, operation | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if deadline is not None and time.monotonic() >= deadline:
                raise
        time.sleep(0.05)


@contextmanager
def file_lock(path: str | os.PathLike, blocking: bool = True,
              timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block.

    Non-blocking, a held lock raises :class:`LockBusy` at once; blocking, after
    ``timeout`` s when one is given. The holder's pid is written into the
    file, for that message.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            wait_for_flock(handle, fcntl.LOCK_EX, timeout if blocking else 0)
        except BlockingIOError:
            handle.seek(0)
            raise LockBusy(path, handle.read().strip()) from None
        try:
            _note_owner(handle.fileno())
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _note_owner(fd: int) -> None:
    """Write our pid into a held lock file, for :class:`LockBusy`'s message;
    on a full disk the lock still holds, only the note is missing."""
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
