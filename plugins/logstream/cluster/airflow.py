"""Airflow on a host of its own: api-server, scheduler, dag-processor and triggerer in the airflow
host's namespace, its metadata database on the postgres host, the project's DAGs unchanged, and
connections made of the cluster's addresses alone (``AIRFLOW_CONN_*``): a deployment is its
connections plus ``pipeline.yaml``. Its tasks (LocalExecutor) run on the same host and reach
Kafka, HDFS, ZooKeeper, Nimbus, PostgreSQL and the Thrift server only over the bridge. Alerts go to
a mail catcher on the airflow host (aiosmtpd, as on the local stack)."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from logstream.cluster.network import Host
from logstream.cluster.services import HostService, cluster_secret
from logstream.results.store import CONNECT_TIMEOUT_SECONDS, SESSION_OPTIONS
from logstream.stack.config import StackConfig
from logstream.stack.process import ServiceError
from logstream.stack.service import Health

if TYPE_CHECKING:
    from logstream.cluster.cluster import Cluster

API_PORT = 8080
SMTP_PORT = 2525
# the order they start in; the api-server first runs the metadata database's migration
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# the api-server's health report's name for each component it reports on
REPORTED_AS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}


def cluster_connections(cluster: Cluster) -> dict[str, dict]:
    """Every connection the DAGs use, pointing at the cluster's hosts."""
    results = {"conn_type": "postgres", "host": cluster.postgres.host.address, "port": cluster.postgres.port,
               "login": "logstream", "password": cluster.postgres.password("logstream"), "schema": "logstream",
               "extra": {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "options": SESSION_OPTIONS}}
    reader = cluster.postgres.readers["logstream"]
    airflow = cluster.airflow_host
    tiers = cluster.flume_agents[0].tiers
    return {
        "kafka_default": {"conn_type": "kafka", "extra": {
            "bootstrap.servers": cluster.kafka_bootstrap, "group.id": "logstream", "auto.offset.reset": "earliest",
            "socket.timeout.ms": 30000}},
        "webhdfs_default": {"conn_type": "webhdfs", "host": cluster.namenode.host.address, "port": 9870,
                            "login": "root", "extra": {"timeout": 60}},
        "zookeeper_default": {"conn_type": "generic", "host": cluster.zookeepers[0].host.address, "port": 2181,
                              "extra": {"hosts": cluster.zookeeper_hosts}},
        "hiveserver2_default": cluster.hive.connection(),
        "postgres_default": results,
        "logstream_results": results,
        "logstream_results_reader": {**results, "login": reader, "password": cluster.postgres.password(reader)},
        # the services run under their hosts (here: `cluster up`): services_health checks them, starts none
        "local_stack": {"conn_type": "generic", "extra": {"supervisor": "hosts"}},
        # the topology's Python components run the environment every Supervisor host fetched; the
        # daemons run under their hosts (here: `cluster up`), never started by a task
        "storm_default": {"conn_type": "storm", "host": cluster.nimbus.host.address, "port": 6627,
                          "extra": {"streamparse_run": cluster.streamparse_run, "supervisor": "hosts",
                                    "supervisors": len(cluster.supervisors)}},
        # the agents run under their hosts (here: `cluster up`) and fetch their configurations from
        # ZooKeeper, where the flume_tiers DAG publishes them
        "flume_default": {"conn_type": "generic", "host": tiers.address(tiers.agents[0].name),
                          "port": tiers.metrics_base_port,
                          "extra": {"avro_base_port": tiers.avro_base_port, "home": str(tiers.home), "supervisor": "hosts",
                                    "config": "zookeeper", "config_path": tiers.config_path,
                                    "agent_addresses": {name: host.address for name, host in tiers.agent_hosts.items()},
                                    # the front ends' files: read on each host, through its sshd
                                    "host_ssh_conn_id": "ssh_{host}",
                                    "host_home": str(cluster.host_view_path / tiers.home.name)}},
        **{f"ssh_{host.name}": cluster.ssh_server(tiers.agent_hosts[host.name].name).connection()
           for host in tiers.pipeline.flume.hosts},
        "smtp_default": {"conn_type": "smtp", "host": airflow.address, "port": SMTP_PORT,
                         "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "logstream@airflow"}},
    }


def cluster_airflow_env(cluster: Cluster) -> dict[str, str]:
    """The environment of every Airflow process on the airflow host."""
    from logstream.stack.airflow import airflow_settings, stack_passwords, users_file

    credentials = SimpleNamespace(home=cluster.config.home)
    host = cluster.airflow_host
    home = host.home / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    stack_passwords(credentials)
    env = airflow_settings(
        home=home, repo=cluster.config.stack.repo, address=host.address, port=API_PORT,
        database_url=cluster.postgres.dsn("airflow").replace("postgresql://", "postgresql+psycopg2://", 1),
        users=users_file(credentials), jwt_secret=cluster_secret(cluster.config.home, "cluster-airflow-jwt"))
    env.update({f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn) for conn_id, conn in cluster_connections(cluster).items()})
    return env


class AirflowComponent(HostService):
    """One Airflow component on the airflow host."""

    start_timeout = 240.0

    def __init__(self, stack: StackConfig, host: Host, node_id: int, component: str,
                 env: Callable[[], dict[str, str]]) -> None:
        self.kind = f"airflow-{component}"
        super().__init__(stack, host, node_id)
        self.component = component
        self.env = env

    @property
    def url(self) -> str:
        return f"http://{self.host.address}:{API_PORT}"

    def _airflow(self) -> str:
        return str(self.stack.venv_bin / "airflow")

    def launch(self) -> None:
        env = {**os.environ, **self.env()}
        if self.component == "api-server":
            migrate = subprocess.run(self.host.argv([self._airflow(), "db", "migrate"]), env=env, capture_output=True,
                                     text=True)
            if migrate.returncode != 0:
                raise ServiceError(f"airflow db migrate on {self.host.name} failed:\n{migrate.stdout[-3000:]}\n"
                                   f"{migrate.stderr[-3000:]}")
        self.process.start(self.host.argv([self._airflow(), self.component]), env=env, cwd=self.host.home / "airflow")

    def report(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=3) as response:
                return json.load(response)
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def health(self) -> Health:
        report = self.report()
        if report is None:
            return Health(False, f"api-server not answering at {self.url}")
        part = REPORTED_AS.get(self.component, "metadatabase")
        status = (report.get(part) or {}).get("status")
        return Health(status == "healthy", f"{part} {status}" + (f", UI {self.url}" if self.component == "api-server"
                                                                   else ""))


class MailCatcher(HostService):
    """An SMTP server (aiosmtpd) on the airflow host keeping every alert in a maildir."""

    kind = "mail"
    start_timeout = 30.0

    @property
    def maildir(self) -> Path:
        return self.data_dir / "maildir"

    def launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process.start(self.host.argv([self.stack.python, "-m", "aiosmtpd", "-n", "-l",
                                           f"{self.host.address}:{SMTP_PORT}", "-c", "aiosmtpd.handlers.Mailbox",
                                           str(self.maildir)]))

    def health(self) -> Health:
        try:
            with smtplib.SMTP(self.host.address, SMTP_PORT, timeout=2) as smtp:
                code, _ = smtp.noop()
        except OSError as err:
            return Health(False, f"no SMTP answer on {self.host.address}:{SMTP_PORT}: {err}")
        return Health(code == 250, f"SMTP on {self.host.address}:{SMTP_PORT}, mail kept in {self.maildir}")


def airflow_users(cluster: Cluster) -> dict[str, str]:
    """The generated passwords of the cluster Airflow's users (operator, viewer)."""
    from logstream.stack.airflow import stack_passwords

    return stack_passwords(SimpleNamespace(home=cluster.config.home))
