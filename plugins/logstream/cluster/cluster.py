"""The multi-host cluster on one box: which host runs what, started and checked in order.

Hosts (network namespaces on the bridge, :mod:`logstream.cluster.network`):

============  ==========================================  =====================
host          runs                                        address (default)
============  ==========================================  =====================
zk1-zk3       the ZooKeeper ensemble (2181)               10.213.0.2-4
kafka1-3      Kafka broker + KRaft controller (9092/9093)  10.213.0.5-7
namenode      HDFS NameNode (8020, WebHDFS 9870)           10.213.0.8
datanode1-3   HDFS DataNodes (9866, 9864)                  10.213.0.9-11
worker1-2     the HadoopConsumer's runs (Airflow workers)  10.213.0.12-13
frontend1-2   a Flume L1 agent each, with its log folder,  10.213.0.14-15
              and sshd (22) for Airflow's reads of it
collector1-2  a Flume L2 agent each                         10.213.0.16-17
postgres      PostgreSQL, the result store (5432)          10.213.0.18
nimbus        Storm Nimbus (6627)                          10.213.0.19
supervisor1-2 a Storm Supervisor each (slots 6700-6701),   10.213.0.20-21
              with the topology's Python environment
hive          Spark's Thrift server (HiveServer2, 10000)   10.213.0.22
airflow       Airflow (api-server 8080, scheduler,         10.213.0.23
              dag-processor, triggerer; LocalExecutor),
              a mail catcher for its alerts (2525)
============  ==========================================  =====================

The topology's environment is built once on the box (:mod:`logstream.storm.topology_env`) and
served over HTTP from the box's bridge address while ``up`` runs; each Supervisor host fetches it
into its own folder before its Supervisor starts (:mod:`logstream.cluster.storm`).

Data lives under ``LOGSTREAM_CLUSTER_DIR`` (default ``<repo>/.cluster``), one folder per host; the
subnet is ``LOGSTREAM_CLUSTER_SUBNET``. ``down`` stops the processes and removes the hosts; the data
stays, so the next ``up`` finds its topics and files again.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from logstream.cluster.network import Host, HostNetwork
from logstream.cluster.airflow import COMPONENTS as AIRFLOW_COMPONENTS
from logstream.cluster.airflow import AirflowComponent, MailCatcher, cluster_airflow_env
from logstream.cluster.services import (DataNode, FlumeAgent, HiveThriftServer, HostService, KafkaNode, NameNode,
                                       PostgresServer, ZooKeeperMember)
from logstream.cluster.ssh import SshServer
from logstream.cluster.storm import StormNimbus, StormSupervisor
from logstream.pipeline_config import PipelineConfig, load_pipeline_config
from logstream.stack.config import REPO_ROOT, StackConfig
from logstream.stack.flume import FlumeTiers
from logstream.stack.kafka import new_cluster_id
from logstream.stack.service import Health, java_argv
from logstream.storm import topology_env

TOPOLOGY_REQUIREMENTS = REPO_ROOT / "include" / "storm" / "virtualenvs" / "security_stats.txt"

ENSEMBLE = 3
KAFKA_NODES = 3
DATANODES = 3
# hosts with no daemon of their own: the consumer's batches run there, as on Airflow's workers
WORKERS = 2
# the Flume tiers' hosts: an L1 agent on each front end, an L2 on each collector
FRONTENDS = 2
COLLECTORS = 2
SUPERVISORS = 2


@dataclass(frozen=True)
class ClusterConfig:
    home: Path = field(default_factory=lambda: Path(os.environ.get("LOGSTREAM_CLUSTER_DIR", REPO_ROOT / ".cluster")))
    subnet: str = field(default_factory=lambda: os.environ.get("LOGSTREAM_CLUSTER_SUBNET", "10.213.0.0/24"))
    prefix: str = "lsc"
    stack: StackConfig = field(default_factory=StackConfig)

    @property
    def network(self) -> HostNetwork:
        return HostNetwork(self.subnet, self.prefix, self.home)


class Cluster:
    def __init__(self, config: ClusterConfig | None = None, *, report: Callable[[str], None] = print) -> None:
        self.config = config or ClusterConfig()
        self.report = report
        network = self.config.network
        names = ([f"zk{i}" for i in range(1, ENSEMBLE + 1)] + [f"kafka{i}" for i in range(1, KAFKA_NODES + 1)]
                 + ["namenode"] + [f"datanode{i}" for i in range(1, DATANODES + 1)]
                 + [f"worker{i}" for i in range(1, WORKERS + 1)]
                 + [f"frontend{i}" for i in range(1, FRONTENDS + 1)] + [f"collector{i}" for i in range(1, COLLECTORS + 1)]
                 + ["postgres", "nimbus"] + [f"supervisor{i}" for i in range(1, SUPERVISORS + 1)] + ["hive", "airflow"])
        self.hosts: dict[str, Host] = {name: network.host(name, index) for index, name in enumerate(names)}
        stack = self.config.stack
        zk_hosts = [self.hosts[f"zk{i}"] for i in range(1, ENSEMBLE + 1)]
        kafka_hosts = [self.hosts[f"kafka{i}"] for i in range(1, KAFKA_NODES + 1)]
        self.zookeepers = [ZooKeeperMember(stack, host, i, zk_hosts) for i, host in enumerate(zk_hosts, 1)]
        self.kafka_nodes = [KafkaNode(stack, host, i, kafka_hosts, self._kafka_cluster_id())
                            for i, host in enumerate(kafka_hosts, 1)]
        self.namenode = NameNode(stack, self.hosts["namenode"], 1, proxy_host=self.hosts["hive"].address)
        self.datanodes = [DataNode(stack, self.hosts[f"datanode{i}"], i, self.namenode)
                          for i in range(1, DATANODES + 1)]
        self.frontends = [self.hosts[f"frontend{i}"] for i in range(1, FRONTENDS + 1)]
        self.collectors = [self.hosts[f"collector{i}"] for i in range(1, COLLECTORS + 1)]
        self.flume_agents = self._flume_agents(load_pipeline_config())
        # the front ends' folders, read by Airflow's tasks over SSH only (shown at host_view_path there)
        self.ssh_servers = [SshServer(stack, host, i, credentials_home=self.config.home, view=self.host_view_path,
                                      shown={"flume": self.config.home / "flume",
                                             "flume_tests": self.config.home / "flume_tests"})
                            for i, host in enumerate(self.frontends, 1)]
        self.postgres = PostgresServer(stack, self.hosts["postgres"], 1, credentials_home=self.config.home,
                                       subnet=self.config.subnet)
        self.nimbus = StormNimbus(stack, self.hosts["nimbus"], 1, nimbus=self.hosts["nimbus"], zookeepers=zk_hosts)
        self.supervisors = [StormSupervisor(stack, self.hosts[f"supervisor{i}"], i, nimbus=self.hosts["nimbus"],
                                            zookeepers=zk_hosts, env_path=self.topology_env_path)
                            for i in range(1, SUPERVISORS + 1)]
        self.hive = HiveThriftServer(stack, self.hosts["hive"], 1, namenode=self.namenode,
                                     credentials_home=self.config.home)
        self.mail = MailCatcher(stack, self.airflow_host, 1)
        self.airflow = [AirflowComponent(stack, self.airflow_host, 1, component, lambda: cluster_airflow_env(self))
                        for component in AIRFLOW_COMPONENTS]
        # each wave starts together; the next waits for it to be healthy (Airflow's api-server, which
        # migrates the metadata database, before its other components)
        self.waves: list[list[HostService]] = [[*self.zookeepers, *self.kafka_nodes, self.namenode, self.postgres],
                                               [*self.datanodes, self.nimbus],
                                               [*self.flume_agents, *self.ssh_servers, *self.supervisors, self.hive,
                                                self.mail, self.airflow[0]],
                                               self.airflow[1:]]

    def _flume_agents(self, pipeline: PipelineConfig) -> list[FlumeAgent]:
        """The pipeline's Flume tiers on the cluster: its i-th front-end host's L1 on frontend<i>, its
        i-th L2 agent on collector<i>; topics at replication 3; each agent fetches its configuration
        from the cluster's ZooKeeper (``/logstream/flume/<agent>``), where the deploy publishes it."""
        flume = pipeline.flume
        if len(flume.hosts) > FRONTENDS or len(flume.l2_agents) > COLLECTORS:
            raise ValueError(f"the cluster has {FRONTENDS} front-end and {COLLECTORS} collector hosts; the pipeline's "
                             f"Flume tiers want {len(flume.hosts)} and {len(flume.l2_agents)}")
        placed = {**{host.name: self.frontends[i] for i, host in enumerate(flume.hosts)},
                  **{agent: self.collectors[i] for i, agent in enumerate(flume.l2_agents)}}
        stack = self.config.stack
        tiers = FlumeTiers(stack=stack, pipeline=pipeline, home=self.config.home / "flume",
                           avro_base_port=stack.ports["flume_avro"], metrics_base_port=stack.ports["flume_metrics"],
                           agent_hosts=placed, kafka_bootstrap=self.kafka_bootstrap,
                           config_zookeeper=self.zookeeper_hosts)
        return [FlumeAgent(stack, placed[agent.name], i, tiers, agent.name, replication=KAFKA_NODES)
                for i, agent in enumerate(tiers.agents, 1)]

    @property
    def services(self) -> list[HostService]:
        return [service for wave in self.waves for service in wave]

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.kafka_nodes)

    @property
    def zookeeper_hosts(self) -> str:
        return ",".join(f"{member.host.address}:2181" for member in self.zookeepers)

    @property
    def webhdfs_url(self) -> str:
        return self.namenode.webhdfs_url

    @property
    def airflow_host(self) -> Host:
        return self.hosts["airflow"]

    @property
    def airflow_url(self) -> str:
        return self.airflow[0].url

    @property
    def topology_env_path(self) -> Path:
        """Where every Supervisor host has the topology's Python environment (its own copy)."""
        return self.config.home / "opt" / "topology-env"

    @property
    def host_view_path(self) -> Path:
        """Where the front-end hosts (and only they: an empty folder elsewhere) show the Flume
        folders, as their sshd serves them (:mod:`logstream.cluster.ssh`)."""
        return self.config.home / "host-view"

    def ssh_server(self, host_name: str) -> SshServer:
        """The sshd of front-end host ``host_name`` (the cluster's, e.g. ``frontend1``)."""
        return next(server for server in self.ssh_servers if server.host.name == host_name)

    @property
    def streamparse_run(self) -> str:
        """What the topology's workers run for its Python components on the Supervisor hosts."""
        return str(self.topology_env_path / "bin" / "streamparse_run")

    def provision_supervisor_hosts(self) -> None:
        """Build the topology environment (once for its inputs) and have every Supervisor host that
        lacks it fetch it from the box; a running Supervisor whose host gets a new one restarts."""
        archive = topology_env.build(TOPOLOGY_REQUIREMENTS, REPO_ROOT / "constraints.txt",
                                     mount_point=self.topology_env_path, out_dir=self.config.home / "topology-envs")
        stale = [s for s in self.supervisors if topology_env.installed(s.host_env_dir) != archive.name]
        if not stale:
            return
        with topology_env.served(archive, self.config.network.gateway) as url:
            for supervisor in stale:
                supervisor.stop()
                supervisor.provision(url, archive)
                self.report(f"{supervisor.host.name}: topology environment {archive.name} fetched from {url}")

    @property
    def workers(self) -> list[Host]:
        return [self.hosts[f"worker{i}"] for i in range(1, WORKERS + 1)]

    def kafka_node(self, broker_id: int) -> KafkaNode:
        return next(node for node in self.kafka_nodes if node.node_id == broker_id)

    def kafka_quorum_leader(self, nodes: list[KafkaNode] | None = None) -> int | None:
        """The id of the active KRaft controller, as the controllers of ``nodes`` (default: all) see
        it (Kafka's own MetadataQuorumCommand); None when they do not answer within 15 s (the tool
        waits for a controller it was told leads, gone or cut off)."""
        endpoints = ",".join(f"{node.host.address}:9093" for node in nodes or self.kafka_nodes)
        argv = java_argv(self.config.stack, "kafka", "org.apache.kafka.tools.MetadataQuorumCommand",
                         "--bootstrap-controller", endpoints, "describe", "--status", heap="128m")
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=15)
        except subprocess.TimeoutExpired:
            return None
        leader = re.search(r"^LeaderId:\s+(-?\d+)", done.stdout, re.MULTILINE)
        return int(leader.group(1)) if done.returncode == 0 and leader and int(leader.group(1)) >= 0 else None

    def _kafka_cluster_id(self) -> str:
        """One id for all nodes, made once and kept with the data (each node's log dir is formatted with it)."""
        path = self.config.home / "kafka-cluster-id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id())
        return path.read_text().strip()

    def up(self) -> float:
        """Make the hosts, start every process that is not running and wait until all are healthy;
        returns the seconds it took. A process that died is started again on its own."""
        started = time.monotonic()
        self.config.network.create(self.hosts.values())
        self.provision_supervisor_hosts()
        for wave in self.waves:
            for service in wave:
                if not service.is_running():
                    self.report(f"starting {service.name} ({service.host.address})")
                    service.launch()
            for service in wave:
                service.wait_healthy()
                service.after_healthy()
                self.report(f"{service.name:<20} up    {service.health().detail}")
        return time.monotonic() - started

    def status(self) -> dict[str, Health]:
        return {service.name: service.health() if service.is_running() else Health(False, "not running")
                for service in self.services}

    def down(self) -> None:
        for service in reversed(self.services):
            if service.is_running():
                self.report(f"stopping {service.name}")
            service.stop()
        self.config.network.destroy(self.hosts.values())
