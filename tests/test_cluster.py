"""Beyond one machine: the suite on a real Spark standalone cluster, and the
compose file's cluster profile.

The ``cluster`` tests start a master and two workers (1 core, 1 GiB each) on
127.0.0.1 from the ``pyspark`` package, run the whole suite on the pinned data
locally, through the runner's own Connect server on the master
(``SPARK_MASTER``) and through a shared Connect server on the master
(``SPARK_REMOTE``), and require byte-identical CSVs. Spark's event log proves
the executors ran the tasks. They take minutes, so they run only when asked:
``make test-cluster`` (``pytest -m cluster tests/test_cluster.py``).

The compose checks (no Docker needed) always run.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from helpers import output_csvs
from processes import alive, tree, wait_gone
from suite_runner import run_suite, suite_env

from lib.config import PROJECT_ROOT
from lib.suite import cluster
from lib.suite.connect_server import free_port, start_server
from lib.suite.pinned import PARAMETERS, make_pinned_data
from lib.suite.processes import DIE_WITH_PARENT, spark_environment

RUN_TIMEOUT = 1800
COMPOSE = PROJECT_ROOT / "docker-compose.yml"
CONTAINER_SPARK_HOME = Path("/app/.venv/lib/python3.11/site-packages/pyspark")


# -- docker-compose.yml, profile "cluster" (fast, always run) ---------------------------------

@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML (a dev dependency) reads docker-compose.yml")
    return yaml.safe_load(COMPOSE.read_text())


def _module_argv(service: dict) -> list[str]:
    command = service["command"]
    command = shlex.split(command) if isinstance(command, str) else command
    assert command[:3] == ["python", "-m", "lib.suite.cluster"], command
    return command[3:]


def test_compose_cluster_profile_has_the_services(compose):
    services = compose["services"]
    assert "profiles" not in services["two_circles"]  # still runs without the profile
    for name in ("spark-master", "spark-worker", "spark-connect", "two_circles-cluster"):
        assert services[name]["profiles"] == ["cluster"], name
        assert services[name]["build"] == "." and services[name]["image"] == "ticket-insights:latest"
        assert {"./data:/app/data", "./output:/app/output"} <= set(services[name]["volumes"]), name
    # scalable: no fixed host port, no container_name
    assert "ports" not in services["spark-worker"] and "container_name" not in services["spark-worker"]
    assert services["two_circles-cluster"]["environment"]["SPARK_REMOTE"] == \
        "sc://spark-connect:15002"
    for service in services.values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port


def test_compose_commands_are_the_cluster_modules(compose):
    """Each cluster service runs ``python -m lib.suite.cluster ...``, which execs
    exactly the command the native cluster test starts (same functions)."""
    services = compose["services"]
    home = {"spark_home": CONTAINER_SPARK_HOME}
    master = _module_argv(services["spark-master"])
    assert cluster.command_for(master) == cluster.master_command("spark-master", 7077, 8080)
    assert cluster.master_command("spark-master", 7077, 8080, **home)[1:] == \
        ["org.apache.spark.deploy.master.Master", "--host", "spark-master", "--port", "7077",
         "--webui-port", "8080"]
    worker = _module_argv(services["spark-worker"])
    assert cluster.command_for(worker) == cluster.worker_command("spark://spark-master:7077", 8081)
    assert cluster.worker_command("spark://spark-master:7077", 8081, **home)[1:] == [
        "org.apache.spark.deploy.worker.Worker", "spark://spark-master:7077", "--cores", "1",
        "--memory", "1g", "--webui-port", "8081"]
    connect = _module_argv(services["spark-connect"])
    expected = cluster.connect_command("spark://spark-master:7077", 15002, host="0.0.0.0",
                                       driver_host="spark-connect")
    assert cluster.command_for(connect) == expected
    conf = dict(arg.split("=", 1) for arg in expected[expected.index("--master") + 2:][1::2])
    assert conf["spark.connect.grpc.binding.port"] == "15002"
    assert conf["spark.connect.grpc.binding.address"] == "0.0.0.0"
    assert conf["spark.driver.host"] == "spark-connect"
    assert expected[expected.index("--master") + 1] == "spark://spark-master:7077"
    # the executors fit in a worker
    assert conf["spark.executor.memory"] == cluster.EXECUTOR_MEMORY == "512m"
    assert cluster.WORKER_MEMORY == "1g"


def test_native_commands_stay_on_loopback():
    assert cluster.master_command("127.0.0.1", 7077, 8080)[2:4] == ["--host", "127.0.0.1"]
    assert "--host" in cluster.worker_command("spark://127.0.0.1:7077", 8081, host="127.0.0.1")
    command = cluster.connect_command("spark://127.0.0.1:7077", 15002)
    assert "spark.connect.grpc.binding.address=127.0.0.1" in command
    assert "spark.driver.host=127.0.0.1" in command


# -- a real standalone cluster (slow: make test-cluster) -----------------------------------------

@dataclass
class Cluster:
    base: Path
    master_port: int
    webui_port: int
    events: Path
    conf_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    worker_dirs: list[Path] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    def state(self) -> dict:
        url = f"http://127.0.0.1:{self.webui_port}/json/"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)

    def pids(self) -> set[int]:
        return set().union(*(tree(p.pid) for p in self.processes)) if self.processes else set()


def _selected(config) -> bool:
    expression = config.getoption("markexpr") or ""
    return "cluster" in expression and "not cluster" not in expression


def _start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as handle:
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=handle,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=DIE_WITH_PARENT)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):  # workers before the master
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            if process.poll() is not None:
                break
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        try:
            os.killpg(process.pid, signal.SIGKILL)  # executors left in the group
        except (ProcessLookupError, PermissionError):
            pass


def _java_processes_under(base: Path) -> set[int]:
    found = set()
    for process in psutil.process_iter(["name", "cmdline", "environ"]):
        try:
            text = " ".join(process.info["cmdline"] or []) + " " + " ".join(
                f"{k}={v}" for k, v in (process.info["environ"] or {}).items())
        except psutil.Error:
            continue
        if "java" in (process.info["name"] or "") and str(base) in text:
            found.add(process.pid)
    return found


@pytest.fixture(scope="module")
def standalone(request, tmp_path_factory):
    """A master and two workers on 127.0.0.1; everything stopped afterwards."""
    if not _selected(request.config):
        pytest.skip("the standalone cluster tests take minutes: make test-cluster "
                    "(pytest -m cluster tests/test_cluster.py)")
    base = tmp_path_factory.mktemp("cluster")
    conf_dir, events = base / "conf", base / "events"
    conf_dir.mkdir()
    events.mkdir()
    # Every driver started with this SPARK_CONF_DIR writes an event log: which
    # executor ran each task. Executors of 512m fit the workers' 1g.
    (conf_dir / "spark-defaults.conf").write_text(
        f"spark.eventLog.enabled true\nspark.eventLog.dir file://{events}\n"
        "spark.eventLog.compress false\nspark.eventLog.rolling.enabled false\n"
        f"spark.executor.memory {cluster.EXECUTOR_MEMORY}\n")
    env = {**spark_environment(), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_CONF_DIR": str(conf_dir),
           "SPARK_LOG_DIR": str(base / "logs")}
    env.pop("SPARK_MASTER", None)
    found = Cluster(base, free_port(), free_port(), events, conf_dir)
    try:
        found.processes.append(_start(cluster.master_command(
            "127.0.0.1", found.master_port, found.webui_port), env, base / "master.log"))
        for n in (1, 2):
            work = base / f"worker{n}"
            work.mkdir()
            found.worker_dirs.append(work)
            found.processes.append(_start(
                cluster.worker_command(found.master_url, free_port(), host="127.0.0.1"),
                {**env, "SPARK_WORKER_DIR": str(work)}, base / f"worker{n}.log"))
        deadline = time.monotonic() + 240
        while True:
            try:
                workers = [w for w in found.state()["workers"] if w["state"] == "ALIVE"]
            except OSError:
                workers = []
            if len(workers) == 2:
                break
            dead = [p.args[1] for p in found.processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = "\n".join(p.read_text(errors="replace")[-2000:]
                                 for p in sorted(base.glob("*.log")))
                pytest.fail(f"the cluster did not come up (exited: {dead}):\n{logs}")
            time.sleep(1)
        yield found
    finally:
        pids = found.pids()
        _stop(found.processes)
        assert not wait_gone(pids, 30), "cluster processes left running"
        assert not _java_processes_under(base), "a java process of the cluster is left"


@pytest.fixture(scope="module")
def pinned_data(tmp_path_factory) -> Path:
    return make_pinned_data(tmp_path_factory.mktemp("pinned") / "data")


TIMINGS: dict[str, float] = {}


def _run(data: Path, out: Path, env: dict, name: str) -> None:
    began = time.monotonic()
    done = run_suite("--data-dir", str(data), "--output-dir", str(out), "--as-of-date",
                     PARAMETERS["as_of_date"], "--season-start-month",
                     str(PARAMETERS["season_start_month"]), "--no-report", env=env,
                     timeout=RUN_TIMEOUT)
    TIMINGS[name] = time.monotonic() - began
    print(f"\n[timing] {name}: {TIMINGS[name]:.1f} s")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]


@pytest.fixture(scope="module")
def local_run(standalone, pinned_data, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("local") / "output"
    env = suite_env()
    env.pop("SPARK_MASTER", None)
    _run(pinned_data, out, env, "local")
    found = output_csvs(out)
    assert "data_quality.csv" in found and any(name.startswith("rejects/") for name in found)
    return found


def _apps_since(standalone: Cluster, seen: set[str]) -> list[Path]:
    return [p for p in sorted(standalone.events.iterdir()) if p.name not in seen]


def _executor_tasks(event_log: Path) -> dict[str, int]:
    """Tasks finished per executor id, from a Spark event log."""
    tasks: dict[str, int] = {}
    for line in event_log.read_text().splitlines():
        event = json.loads(line)
        if event.get("Event") == "SparkListenerTaskEnd":
            executor = event["Task Info"]["Executor ID"]
            tasks[executor] = tasks.get(executor, 0) + 1
    return tasks


def _check_executors_did_the_work(standalone: Cluster, logs: list[Path]) -> dict[str, int]:
    assert len(logs) == 1, [p.name for p in logs]
    app_id = logs[0].name.removesuffix(".inprogress")
    assert app_id.startswith("app-"), app_id  # a standalone application, not local-*
    tasks = _executor_tasks(logs[0])
    assert "driver" not in tasks and set(tasks) == {"0", "1"}, tasks  # both workers' executors
    assert all(count > 0 for count in tasks.values())
    state = standalone.state()
    apps = {a["id"]: a for a in state["completedapps"] + state["activeapps"]}
    assert app_id in apps and apps[app_id]["name"] == cluster.CONNECT_APP
    assert apps[app_id]["memoryperexecutor"] == 512
    for work in standalone.worker_dirs:  # each worker launched an executor for it
        assert list((work / app_id).glob("*/stderr")), f"no executor of {app_id} in {work}"
    return tasks


@pytest.mark.cluster
def test_runner_on_the_master_gives_the_local_outputs(standalone, pinned_data, local_run,
                                                      tmp_path):
    """SPARK_MASTER=spark://...: the runner's own Connect server runs its jobs on
    the cluster's executors."""
    seen = {p.name for p in standalone.events.iterdir()}
    env = {**suite_env(), "SPARK_MASTER": standalone.master_url,
           "SPARK_CONF_DIR": str(standalone.conf_dir)}
    out = tmp_path / "output"
    _run(pinned_data, out, env, "SPARK_MASTER (runner's server on the cluster)")
    assert output_csvs(out) == local_run
    tasks = _check_executors_did_the_work(standalone, _apps_since(standalone, seen))
    print(f"[tasks per executor] {tasks}")


@pytest.mark.cluster
def test_shared_connect_server_on_the_master_gives_the_local_outputs(
        standalone, pinned_data, local_run, tmp_path, monkeypatch):
    """A Connect server started against the master and SPARK_REMOTE=its url: how a
    team shares one cluster."""
    seen = {p.name for p in standalone.events.iterdir()}
    monkeypatch.setenv("SPARK_MASTER", standalone.master_url)
    monkeypatch.setenv("SPARK_CONF_DIR", str(standalone.conf_dir))
    began = time.monotonic()
    server = start_server(tmp_path / "connect-server.log", app_name=cluster.CONNECT_APP,
                          conf=cluster.connect_conf())
    print(f"\n[timing] Connect server on the master ready in {time.monotonic() - began:.1f} s")
    standalone.processes.append(server.process)  # stopped by the fixture, whatever happens
    try:
        assert server.process.args == cluster.connect_command(standalone.master_url,
                                                              server.port)
        out = tmp_path / "output"
        _run(pinned_data, out, suite_env(server.url), "SPARK_REMOTE (shared server on the cluster)")
        assert output_csvs(out) == local_run
    finally:
        server.stop()
    tasks = _check_executors_did_the_work(standalone, _apps_since(standalone, seen))
    print(f"[tasks per executor] {tasks}")
    assert not alive({server.pid})
