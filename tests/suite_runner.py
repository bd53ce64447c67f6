"""The one way tests launch the suite runner, ``python -m lib.run``: to
completion (:func:`run_suite`) or in the background in its own process group
(:class:`Runner`), so a test can signal or kill the whole run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lib.config import PROJECT_ROOT
from lib.suite.processes import without_spark

NO_LAB = Path("/nonexistent/ticket-insights/spark-server.json")  # no Lab's state file


def runner_command(*args: str) -> list[str]:
    """The runner as ``make run`` starts it, except that it keeps no server
    warm after the run (``--keep-warm 0``) and never joins the developer's
    own Lab or warm server (no state file). A test that wants either passes
    ``--keep-warm``/``--server-state`` in ``args``: the last one given wins."""
    return [sys.executable, "-m", "lib.run", "--keep-warm", "0", "--server-state", str(NO_LAB),
            *args]


def suite_env(remote: str | None = None) -> dict[str, str]:
    """The environment for a run: ``remote`` as SPARK_REMOTE (a shared
    server), or none, so the runner starts its own."""
    env = without_spark(os.environ)  # not the tests' own Connect session
    return {**env, "SPARK_REMOTE": remote} if remote else env


def run_suite(*args: str, cwd: Path = PROJECT_ROOT, env: dict | None = None,
              timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the suite to the end; stdout and stderr captured as text."""
    return subprocess.run(runner_command(*args), cwd=cwd, env=env if env is not None else
                          suite_env(), capture_output=True, text=True, timeout=timeout)


class Runner:
    """``python -m lib.run`` in its own process group, output to a file."""

    def __init__(self, cwd: Path, log: Path, *args: str, env: dict):
        self.log = log
        with log.open("w") as handle:
            self.proc = subprocess.Popen(
                runner_command(*args), cwd=cwd, env=env,
                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
            )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float = 600) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            pytest.fail(f"the runner did not finish in {timeout} s:\n{self.output}")

    def wait_for(self, condition, what: str, timeout: float = 300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            if self.proc.poll() is not None:
                pytest.fail(f"the runner ended before {what}:\n{self.output}")
            time.sleep(0.02)
        os.killpg(self.proc.pid, signal.SIGKILL)
        pytest.fail(f"timed out waiting for {what}:\n{self.output}")
