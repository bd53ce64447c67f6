"""The command lines of a small Spark standalone cluster, in one place.

``tests/test_cluster.py`` starts these natively; ``docker-compose.yml`` (profile
``cluster``) through this module's command line, e.g.
``python -m lib.suite.cluster worker spark://spark-master:7077 --webui-port 8081``.
Each subcommand sets ``JAVA_HOME`` and ``SPARK_HOME`` and execs the command.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lib.suite.connect_server import HOST, server_command
from lib.suite.processes import SPARK_HOME, spark_environment

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
WORKER_CORES = 1
WORKER_MEMORY = "1g"
EXECUTOR_MEMORY = "512m"  # fits a worker's WORKER_MEMORY
CONNECT_APP = "ticket-insights-connect"


def spark_class(spark_home: Path = SPARK_HOME) -> str:
    return str(Path(spark_home) / "bin" / "spark-class")


def master_command(host: str, port: int, webui_port: int,
                   spark_home: Path = SPARK_HOME) -> list[str]:
    return [spark_class(spark_home), MASTER_CLASS, "--host", host, "--port", str(port),
            "--webui-port", str(webui_port)]


def worker_command(master_url: str, webui_port: int, host: str | None = None,
                   cores: int = WORKER_CORES, memory: str = WORKER_MEMORY,
                   spark_home: Path = SPARK_HOME) -> list[str]:
    """A worker; without ``host`` it advertises its own address (a container's IP)."""
    command = [spark_class(spark_home), WORKER_CLASS, master_url]
    if host:
        command += ["--host", host]
    return command + ["--cores", str(cores), "--memory", memory, "--webui-port", str(webui_port)]


def connect_conf(host: str = HOST, driver_host: str = HOST,
                 executor_memory: str = EXECUTOR_MEMORY) -> dict[str, str]:
    """Settings a cluster's Connect server adds to the runner's server's."""
    return {
        "spark.connect.grpc.binding.address": host,
        "spark.driver.bindAddress": host,
        "spark.driver.host": driver_host,  # where executors call the driver back
        "spark.executor.memory": executor_memory,
    }


def connect_command(master_url: str, port: int, host: str = HOST, driver_host: str = HOST,
                    executor_memory: str = EXECUTOR_MEMORY) -> list[str]:
    """The Spark Connect server on ``master_url`` (spark-submit command line)."""
    command = server_command(port, CONNECT_APP, connect_conf(host, driver_host, executor_memory))
    command[command.index("--master") + 1] = master_url
    return command


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m lib.suite.cluster",
                                  description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="role", required=True)
    master = sub.add_parser("master", help="the standalone master")
    master.add_argument("--host", default=HOST)
    master.add_argument("--port", type=int, default=7077)
    master.add_argument("--webui-port", type=int, default=8080)
    worker = sub.add_parser("worker", help="a worker")
    worker.add_argument("master_url")
    worker.add_argument("--host", default=None)
    worker.add_argument("--cores", type=int, default=WORKER_CORES)
    worker.add_argument("--memory", default=WORKER_MEMORY)
    worker.add_argument("--webui-port", type=int, default=8081)
    connect = sub.add_parser("connect", help="a Spark Connect server on the master")
    connect.add_argument("master_url")
    connect.add_argument("--host", default=HOST)
    connect.add_argument("--port", type=int, default=15002)
    connect.add_argument("--driver-host", default=HOST)
    connect.add_argument("--executor-memory", default=EXECUTOR_MEMORY)
    return top


def command_for(argv: list[str]) -> list[str]:
    """The daemon command line this module's own command line stands for."""
    args = parser().parse_args(argv)
    if args.role == "master":
        return master_command(args.host, args.port, args.webui_port)
    if args.role == "worker":
        return worker_command(args.master_url, args.webui_port, args.host, args.cores,
                              args.memory)
    return connect_command(args.master_url, args.port, args.host, args.driver_host,
                           args.executor_memory)


def main(argv: list[str] | None = None) -> None:
    command = command_for(sys.argv[1:] if argv is None else argv)
    os.execve(command[0], command, spark_environment())


if __name__ == "__main__":
    main()
