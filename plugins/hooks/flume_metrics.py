"""The Flume agents' connection: where their metrics answer and where the deployment keeps them.

Connection ``flume_default`` (``AIRFLOW_CONN_FLUME_DEFAULT``): ``host`` the agents' address, ``port``
the first metrics port, extra ``avro_base_port`` (the first L2's Avro port) and ``home`` (configs,
state and the hosts' log dirs as this machine sees them). Agents on hosts of their own (compose):
extra ``agent_address`` (``flume-{name}``: where each agent answers) and ``supervisor: hosts`` (each
agent's host restarts it; the tasks never start one here). ``supervisor: airflow`` (the default) is
the local stack, whose agents the deploy and repair tasks start on this machine. Agents that fetch
their configuration from ZooKeeper (the cluster): extra ``config: zookeeper`` (the ensemble of the
``zookeeper_default`` connection, under extra ``config_path``) and ``agent_addresses`` (each agent's
host address, by agent name); the deploy then publishes there and writes no file. The L2s' Kafka is
the ``kafka_default`` connection's (extra ``kafka_conn_id`` names another). Front-end hosts whose
folders are not on the task's machine: extra ``host_ssh_conn_id`` (an SSH connection id per host, a
pattern with ``{host}``, e.g. ``ssh_{host}``) and ``host_home`` (``home`` as the hosts see it); the
line-gap finder, the refill and the TAILDIR lag then read the hosts' files through SSH/SFTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from logstream.cluster.network import Host
from logstream.flume.host_files import HostFiles, HostFilesError, LocalHostFiles, SshHostFiles
from logstream.flume.metrics import AgentMetrics, AgentUnreachable, read_metrics
from logstream.flume.zookeeper_config import DEFAULT_PATH as ZOOKEEPER_CONFIG_PATH
from logstream.pipeline_config import PipelineConfig
from logstream.stack.config import StackConfig
from logstream.stack.flume import FlumeTiers

# who starts a dead agent: the deploy and health tasks on this machine, or the agent's own host
SUPERVISORS = {"airflow", "hosts"}


class FlumeMetricsHook(BaseHook):
    """Reads the agents' ``GET /metrics`` and describes their deployment.

    :param flume_conn_id: the Flume agents' connection.
    """

    conn_name_attr = "flume_conn_id"
    default_conn_name = "flume_default"
    conn_type = "generic"
    hook_name = "Flume agents"

    def __init__(self, *, flume_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flume_conn_id = flume_conn_id

    @cached_property
    def connection(self) -> Any:
        return self.get_connection(self.flume_conn_id)

    def tiers(self, pipeline: PipelineConfig) -> FlumeTiers:
        extra = self.connection.extra_dejson
        supervisor = extra.get("supervisor", "airflow")
        if supervisor not in SUPERVISORS:
            raise ValueError(f"connection {self.flume_conn_id!r}: supervisor must be one of {sorted(SUPERVISORS)}, "
                             f"not {supervisor!r}")
        config = extra.get("config", "files")
        if config not in ("files", "zookeeper"):
            raise ValueError(f"connection {self.flume_conn_id!r}: config must be files or zookeeper, not {config!r}")
        config_zookeeper = ""
        if config == "zookeeper":
            from hooks.zookeeper import ZooKeeperHook

            config_zookeeper = ZooKeeperHook().hosts()
        # agents on hosts of their own, by address (their processes are their hosts' to start)
        agent_hosts = {name: Host(name, address, namespace="", home=Path(extra["home"]))
                       for name, address in extra.get("agent_addresses", {}).items()}
        return FlumeTiers(stack=StackConfig(host=self.connection.host or "127.0.0.1"), pipeline=pipeline,
                          kafka_bootstrap=self.kafka_bootstrap(extra.get("kafka_conn_id", "kafka_default")),
                          home=Path(extra["home"]), avro_base_port=int(extra["avro_base_port"]),
                          metrics_base_port=int(self.connection.port), agent_address=extra.get("agent_address", ""),
                          launches_agents=supervisor == "airflow", agent_hosts=agent_hosts,
                          config_zookeeper=config_zookeeper,
                          config_path=extra.get("config_path", ZOOKEEPER_CONFIG_PATH))

    def kafka_bootstrap(self, kafka_conn_id: str) -> str | None:
        """The L2s' Kafka: the Kafka connection's ``bootstrap.servers`` (None without that connection:
        the stack's)."""
        from airflow.exceptions import AirflowNotFoundException

        try:
            return self.get_connection(kafka_conn_id).extra_dejson.get("bootstrap.servers")
        except AirflowNotFoundException:
            return None

    def read(self, tiers: FlumeTiers, agent: str) -> tuple[AgentMetrics | None, str]:
        """One reading of ``agent``, or None and why."""
        try:
            return read_metrics(agent, tiers.metrics_url(agent)), ""
        except AgentUnreachable as err:
            return None, str(err)

    def on_host(self, tiers: FlumeTiers, path: Path) -> Path:
        """``path`` (under the deployment's ``home``) as the front-end hosts see it."""
        host_home = self.connection.extra_dejson.get("host_home")
        return Path(host_home) / path.relative_to(tiers.home) if host_home else path

    @contextmanager
    def host_files(self) -> Iterator[Callable[[str], HostFiles]]:
        """Where each front-end host's folders are read, by host name: through the host's SSH
        connection (extra ``host_ssh_conn_id``) or on this machine. The SSH sessions opened end with
        the block."""
        pattern = self.connection.extra_dejson.get("host_ssh_conn_id")
        if not pattern:
            yield lambda name: LocalHostFiles()
            return
        from airflow.exceptions import AirflowNotFoundException
        from airflow.providers.ssh.hooks.ssh import SSHHook
        from paramiko import SSHException

        opened: dict[str, SshHostFiles] = {}

        def files_of(name: str) -> HostFiles:
            if name not in opened:
                conn_id = pattern.format(host=name)
                try:
                    opened[name] = SshHostFiles(SSHHook(ssh_conn_id=conn_id).get_conn(), name=name)
                except (SSHException, OSError, AirflowNotFoundException) as err:
                    raise HostFilesError(f"front-end host {name} not reachable over SSH (connection {conn_id!r}): "
                                         f"{err}") from err
            return opened[name]

        try:
            yield files_of
        finally:
            for files in opened.values():
                files.close()
                files.client.close()
