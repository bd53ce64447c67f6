"""Project-wide pytest set-up, loaded for unit tests and for nbval runs alike.

Pins the data and parameters the notebooks run with under nbval
(lib/suite/pinned.py): a dataset made by generate_data.py with a fixed seed and
reference date, in a temporary folder. The parameters are injected after each
notebook's parameters cell, as papermill does, so ``pytest --nbval-lax
notebooks/NN_x.ipynb`` works from the project root with no other preparation.
Tests get the same values from the ``pinned`` fixture.

Notebook kernels under nbval share one warm Spark: a local Spark Connect server
(lib/suite/connect_server.py), started in the background as soon as the
collected tests show that one needs it (the first such test waits for it), and
stopped when pytest ends;
under pytest-xdist (``make test``) the controller starts that one server at
once and records its address in a file its workers read (nothing is passed
through the environment), so the workers share one JVM;
``SPARK_REMOTE`` points the kernels at it while notebook items run. If the
caller already set ``SPARK_REMOTE``, that endpoint is used and nothing is
started. Tests get the same server from the ``spark_remote`` fixture: their
``spark`` session (tests/conftest.py) and the notebooks they run in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

_scratch: Path | None = None
_pinned: dict = {}
_server = None  # lib.suite.connect_server.ConnectServer, started on first need
_server_error: Exception | None = None
_server_lock = threading.Lock()  # the early start below and the first test that needs Spark
_session_over = threading.Event()
_callers_remote = os.environ.get("SPARK_REMOTE")
_WORKERS_RECORD = "spark_server_record"  # xdist's workerinput key: the controller's record file
_record_for_workers: Path | None = None  # xdist's controller: where it records its server
_controllers_record: Path | None = None  # an xdist worker: the record of the controller's server
_controllers_url: str | None = None


def _pinned_parameters() -> dict:
    global _scratch
    if not _pinned:
        from lib.suite.pinned import pinned_parameters

        _scratch = Path(tempfile.mkdtemp(prefix="ticket-insights-pinned-"))
        _pinned.update(pinned_parameters(_scratch))
    return _pinned


def _is_notebook_item(item) -> bool:
    return Path(str(getattr(item, "path", getattr(item, "fspath", "")))).suffix == ".ipynb"


def _needs_spark(item) -> bool:
    return _is_notebook_item(item) or not {"spark", "spark_remote"}.isdisjoint(
        getattr(item, "fixturenames", ()))


def pytest_configure(config):
    global _record_for_workers, _controllers_record
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None:
        if worker_input.get(_WORKERS_RECORD):
            _controllers_record = Path(worker_input[_WORKERS_RECORD])
    elif config.getoption("numprocesses", None) and not _callers_remote:
        # the controller collects nothing, so it cannot tell whether a test
        # needs Spark: its server starts now, beside the workers' first tests
        _record_for_workers = Path(tempfile.mkdtemp(prefix="ticket-insights-workers-")) / "server.json"
        threading.Thread(target=_start_and_hold, args=(_record_for_workers,),
                         name="spark-server", daemon=True).start()


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: in the controller, for each worker
def pytest_configure_node(node):
    if _record_for_workers is not None:
        node.workerinput[_WORKERS_RECORD] = str(_record_for_workers)


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected
def pytest_collection_modifyitems(session, config, items):
    from lib.suite.pinned import inject_parameters, is_parameters_cell

    for item in items:
        cell = getattr(item, "cell", None)
        if _is_notebook_item(item) and cell is not None and is_parameters_cell(cell):
            cell.source = inject_parameters(cell.source, _pinned_parameters())
    # The server's start (a JVM, 12-15 s) overlaps the tests that come before
    # the first one that needs it; that one waits for the start to finish.
    if not _callers_remote and _controllers_record is None and any(map(_needs_spark, items)):
        threading.Thread(target=_start_and_hold, name="spark-server", daemon=True).start()


def _start_and_hold(record: Path | None = None) -> None:
    """Start the server (and write its address, or why it did not start, to
    ``record`` for xdist's workers), then keep this thread alive until pytest
    ends: the server dies with the thread that started it
    (processes.DIE_WITH_PARENT)."""
    from lib.fileio import write_text
    from lib.suite.connect_server import ConnectServerError

    try:
        url = shared_spark_remote()
    except Exception as error:  # whatever stopped the start, the workers hear of it at once
        if record is not None:
            write_text(record, json.dumps({"error": str(error)}))
        if not isinstance(error, ConnectServerError):
            raise
        return  # kept in _server_error: the first test needing Spark raises it
    if record is not None:
        write_text(record, json.dumps({"url": url}))
    _session_over.wait()


@pytest.fixture(scope="session")
def pinned() -> dict:
    """The pinned notebook parameters: data_dir (pinned data), output_dir,
    as_of_date, season_start_month."""
    return dict(_pinned_parameters())


def shared_spark_remote() -> str:
    """URL of the Spark Connect server shared by notebook runs (started once)."""
    if _callers_remote:
        return _callers_remote
    if _controllers_record is not None:
        return _controllers_server_url()
    with _server_lock:
        return _started_server_url()


def _controllers_server_url() -> str:
    """An xdist worker: the address of the server its controller started,
    once the controller has recorded it (the start has its own deadline)."""
    global _controllers_url
    from lib.suite.connect_server import START_TIMEOUT

    if _controllers_url is None:
        deadline = time.monotonic() + START_TIMEOUT + 30
        while not _controllers_record.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test run's Spark server was not recorded in "
                                   f"{START_TIMEOUT + 30:.0f} s ({_controllers_record})")
            time.sleep(0.2)
        record = json.loads(_controllers_record.read_text())
        if "error" in record:
            raise RuntimeError(f"the test run's Spark server did not start: {record['error']}")
        _controllers_url = record["url"]
    return _controllers_url


def _started_server_url() -> str:
    global _server, _server_error
    if _server_error is not None:  # do not wait for a broken server once per cell
        raise _server_error
    if _server is None or not _server.running():
        from lib.session import server_java_options
        from lib.suite import class_archive
        from lib.suite.connect_server import start_server

        log_dir = Path(tempfile.mkdtemp(prefix="ticket-insights-connect-"))
        try:
            _server = start_server(log_dir / "connect-server.log", app_name="ticket-insights-tests",
                                   java_options=(*server_java_options(0),  # pinned data: small
                                                 *class_archive.for_server()))
        except Exception as error:
            _server_error = error
            raise
    return _server.url


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # before nbval's own set-up starts the notebook's kernel, which inherits this
    if _is_notebook_item(item):
        os.environ["SPARK_REMOTE"] = shared_spark_remote()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    if _is_notebook_item(item) and not _callers_remote:
        os.environ.pop("SPARK_REMOTE", None)


@pytest.fixture(scope="session")
def spark_remote() -> str:
    """SPARK_REMOTE value for notebooks run in a subprocess by a test."""
    return shared_spark_remote()


def pytest_unconfigure(config):
    with _server_lock:  # a start still under way finishes first, or its JVM is left behind
        if _server is not None:
            _server.stop()
            shutil.rmtree(_server.log_path.parent, ignore_errors=True)
    _session_over.set()  # the server is stopped: its starting thread may end
    for folder in (_scratch, _record_for_workers and _record_for_workers.parent):
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
