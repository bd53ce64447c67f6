"""Fixtures shared by test modules: one Spark session for the whole test run
(on the local Spark Connect server the notebooks share), a headless-capable
chromium for the tests that check pages in a real browser, an output folder
with the star schema's tables saved, and a hand-made output folder for the
shareable report."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# the helpers' asserts show both sides on failure, as a test module's do
pytest.register_assert_rewrite("helpers", "report_outputs")

from helpers import customers_df, tickets_df  # noqa: E402
from report_outputs import make_shareable_output  # noqa: E402
from star_rows import CUSTOMERS, TICKETS  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="session")
def spark(spark_remote):
    """One Spark session for the whole test run, on the local Spark Connect
    server the notebooks under nbval share (the root conftest.py starts it):
    one JVM to start and warm up instead of two, and small inline rows go to
    it as Arrow batches (a classic local session ran the unit tests 2.5x slower)."""
    from lib.session import get_spark

    session = get_spark("ticket-insights-tests", remote=spark_remote)
    yield session
    session.stop()


def _find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@pytest.fixture(scope="session")
def browser() -> str:
    """Path of a headless-capable chromium; installed with apt when missing."""
    found = _find_browser()
    if found is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        if subprocess.run(install, env=env, capture_output=True, timeout=900).returncode:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
            subprocess.run(install, env=env, capture_output=True, timeout=900)
        found = _find_browser()
    if found is None:
        pytest.skip("no chromium to check pages in a browser: install it "
                    "(Debian: apt-get install chromium); the tests install it themselves when root")
    return found


@pytest.fixture(scope="module")
def tickets(spark, request):
    """The test module's hand-made ``TICKETS`` as clean tickets (helpers.tickets_df)."""
    return tickets_df(spark, request.module.TICKETS)


@pytest.fixture(scope="module")
def customers(spark, request):
    """The test module's hand-made ``CUSTOMERS`` as clean customers (helpers.customers_df)."""
    return customers_df(spark, request.module.CUSTOMERS)


@pytest.fixture(scope="module")
def saved_tables(spark, tmp_path_factory):
    """An output folder where 08's and 09's tables have been saved from the rows
    of tests/star_rows.py (one per module: the SQL tests add their scratch to it)."""
    from lib import tables
    from lib.config import make_params
    from lib.insights import star_schema

    out = tmp_path_factory.mktemp("output")
    params = make_params(output_dir=out)
    tickets, customers = tickets_df(spark, TICKETS), customers_df(spark, CUSTOMERS)
    tables.save_table(
        star_schema.tickets_denormalized(tickets, customers, 8), params, "tickets_denormalized"
    )
    tables.save_table(star_schema.dim_customer(customers), params, "dim_customer")
    tables.save_table(star_schema.dim_event(tickets, 8), params, "dim_event")
    tables.save_table(star_schema.fact_transaction(tickets), params, "fact_transaction")
    return out


@pytest.fixture
def shareable_output(tmp_path) -> Path:
    """00 and 09 as hand-made outputs with personal values (tests/report_outputs.py)."""
    return make_shareable_output(tmp_path)
