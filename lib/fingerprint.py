"""What the pipeline's results are computed by, as one digest per part: the
pipeline's code, the lock file of its dependencies and the Spark version.

Both reuse decisions go by it: the staged (cleaned) inputs' folder
(:func:`staged_fingerprint`, used by :mod:`lib.staged`) and a notebook's
up-to-date check (``lib.suite.freshness``). So a change to any of the three
rebuilds the staged data and re-runs the notebooks; none is silently reused.

The code is every file of ``lib`` except the harness in ``lib/suite`` (which
imports ``lib``, never the reverse): not only what cleaning imports, because
settings outside that import graph decide cleaning results too (the session's
time zone and parsing settings in ``lib/session.py``). The lock file stands
for the versions of every dependency (pandas, pyarrow...), ``pyspark``'s
version for the engine actually loaded.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import pyspark

from lib.config import PROJECT_ROOT

LOCK_FILE = "requirements.txt"  # every package pinned (make lock)
HARNESS = "suite"  # lib/suite: runs the pipeline, decides no result
CODE_SUFFIXES = (".py", ".properties")
CODE, LOCK, SPARK = "lib", "lock", "spark"  # the parts of pipeline_parts, in order
PART_DIGITS = 12


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def code_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """The pipeline's source files under ``root/lib``, sorted."""
    lib = root / "lib"
    return [path for path in sorted(lib.rglob("*"))
            if path.is_file() and path.suffix in CODE_SUFFIXES
            and path.relative_to(lib).parts[0] != HARNESS]


def _code_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in code_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def pipeline_parts(root: Path = PROJECT_ROOT, spark_version: str = pyspark.__version__
                   ) -> dict[str, str]:
    """Part name (:data:`CODE`, :data:`LOCK`, :data:`SPARK`) -> its digest,
    :data:`PART_DIGITS` hex digits each. Read once per process: a running
    kernel keeps the code it loaded, so its results follow that code. A
    missing lock file (an install without it) counts as an empty one."""
    lock = root / LOCK_FILE
    parts = {CODE: _code_digest(root),
             LOCK: _digest(lock.read_bytes() if lock.is_file() else b""),
             SPARK: _digest(spark_version.encode())}
    return {name: value[:PART_DIGITS] for name, value in parts.items()}


def input_part(path: str, version: list[int]) -> str:
    """One input's part: its path and :func:`lib.staged.file_version`."""
    return _digest(f"{path}|{'|'.join(map(str, version))}".encode())[:PART_DIGITS]


def staged_fingerprint(inputs: dict[str, list[int]], root: Path = PROJECT_ROOT,
                       spark_version: str = pyspark.__version__) -> str:
    """The staged folder's name for these input versions (path ->
    file_version) cleaned by the pipeline at ``root``: 20 hex digits."""
    parts = [*pipeline_parts(root, spark_version).values(),
             *(input_part(path, version) for path, version in inputs.items())]
    return _digest("-".join(parts).encode())[:20]
