"""Command line: ``python -m logstream stack up|status|down|env|keep [SERVICE ...]``, ``cluster up|status|down``,
``demo [--cluster]``."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from logstream.stack.local_stack import LocalStack
from logstream.stack.process import ServiceError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m logstream")
    commands = parser.add_subparsers(dest="command", required=True)
    stack = commands.add_parser("stack", help="the embedded local stack")
    stack.add_argument("action", choices=["up", "status", "down", "env", "keep"],
                       help="keep: the keeper's loop (`up` starts it as a process of its own)")
    stack.add_argument("services", nargs="*", help="only these services (default: all)")
    stack.add_argument("--paused", action="store_true",
                       help="up: leave the scheduled DAGs paused (e.g. to run the tests against this stack)")
    cluster = commands.add_parser("cluster", help="the multi-host cluster (hosts as network namespaces; root)")
    cluster.add_argument("action", choices=["up", "status", "down"])
    demo = commands.add_parser("demo", help="the whole pipeline end to end on the local stack (or the cluster)")
    demo.add_argument("--records", type=int, default=300_000, help="generated entries per topic")
    demo.add_argument("--cluster", action="store_true",
                      help="on the multi-host cluster (hosts as network namespaces; root) instead of the local stack")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from logstream.demo import run

        try:
            return run(args.records, on_cluster=args.cluster)
        except (ServiceError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1

    if args.command == "cluster":
        return _cluster(args.action)

    local = LocalStack(only=args.services or None)
    if args.action == "keep":
        from logstream.stack.keeper import keep

        keep(local.config, lambda line: print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}", flush=True))
        return 0
    if args.action == "up":
        try:
            seconds = local.up()
        except (ServiceError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"stack up in {seconds:.1f}s")
        if not args.paused and any(service.name == "airflow" for service in local.services):
            from logstream.stack.airflow_api import AirflowApi, AirflowApiError

            try:
                AirflowApi.for_stack(local.config).unpause_scheduled()
            except AirflowApiError as err:
                print(f"error: the scheduled DAGs could not be unpaused: {err}", file=sys.stderr)
                return 1
        return 0
    if args.action == "down":
        local.down()
        return 0
    if args.action == "env":
        from logstream.stack.airflow import STACK_USERS, airflow_env, users_file

        # everything the airflow CLI needs to talk to the stack: `eval "$(python -m logstream stack env)"`
        for key, value in airflow_env(local.config).items():
            print(f"export {key}={shlex.quote(value)}")
        users = ", ".join(f"{user} ({role})" for user, role in STACK_USERS.items())
        print(f"# Airflow UI http://{local.config.host}:{local.config.ports['airflow']}: log in as {users};")
        print(f"# the passwords are in {users_file(local.config)}")
        return 0
    return _print_status(local.status(), width=10)


def _cluster(action: str) -> int:
    from logstream.cluster.cluster import Cluster
    from logstream.cluster.network import NetworkError

    cluster = Cluster()
    if action == "up":
        try:
            seconds = cluster.up()
        except (ServiceError, NetworkError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"cluster up in {seconds:.1f}s: Kafka {cluster.kafka_bootstrap}, ZooKeeper {cluster.zookeeper_hosts}, "
              f"WebHDFS {cluster.webhdfs_url}")
        return 0
    if action == "down":
        cluster.down()
        return 0
    return _print_status(cluster.status(), width=28)


def _print_status(status: dict, *, width: int) -> int:
    """One line per service with its health; the exit code says whether all are up."""
    for name, health in status.items():
        print(f"{name:<{width}} {'ok  ' if health.ok else 'DOWN'}  {health.detail}")
    return 0 if all(health.ok for health in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
