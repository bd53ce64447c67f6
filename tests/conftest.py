"""Unit-test fixtures: one local Spark session for the whole test run."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from lib.session import get_spark

    session = get_spark("ticket-insights-tests")
    yield session
    session.stop()
