"""Unit-test fixtures: one local Spark session for the whole test run, and a
headless-capable chromium for the tests that check pages in a real browser."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="session")
def spark():
    from lib.session import get_spark

    session = get_spark("ticket-insights-tests")
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
