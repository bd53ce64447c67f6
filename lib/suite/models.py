"""How a notebook's run went: its :class:`Status` and its :class:`Result`.

A status is a ``StrEnum``: it prints, compares and is written to
``run_results.json`` as its text (``ok``, ``FAILED``, ...), as in the
summary table (docs/run_results.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    UP_TO_DATE = "up to date"  # not run: its outputs are current
    FAILED = "FAILED"
    INTERRUPTED = "interrupted"  # Ctrl-C or a signal ended the run first
    NOT_RUN = "not run"  # the batch stopped before it started
    PENDING = "pending"

    @property
    def succeeded(self) -> bool:
        return self in (Status.OK, Status.UP_TO_DATE)


@dataclass
class Result:
    """How one notebook's run went."""

    name: str  # e.g. "03_customer_events"
    status: Status = Status.PENDING
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)
    executed: str = ""  # path of the executed notebook, as shown to the user
    error: str = ""  # failing cell and the error's first lines
    # output path -> its file fingerprint (size, time, SHA-256), taken as the
    # notebook finished (lib.suite.run_record.output_fingerprints)
    fingerprints: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.status = Status(self.status)  # a bad status fails here, not in the report

    @property
    def ok(self) -> bool:
        return self.status.succeeded
