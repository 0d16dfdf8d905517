"""The processes of the cluster, one per host: ZooKeeper members, Kafka nodes, the HDFS NameNode
and DataNodes, the Flume agents. Each runs inside its host's namespace, from the same Maven jars as
the local stack, with its config rendered from ``include/cluster/`` (Flume's from ``include/flume/``)
into the host's own folder."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from logstream.cluster.network import Host
from logstream.stack.config import StackConfig
from logstream.stack.flume import FlumeTiers
from logstream.stack.process import ManagedProcess, ServiceError
from logstream.stack.service import Health, java_argv, render_template


class HostService:
    """One process of the cluster on its host."""

    kind = ""
    component = ""
    start_timeout = 120.0

    def __init__(self, stack: StackConfig, host: Host, node_id: int) -> None:
        self.stack = stack
        self.host = host
        self.node_id = node_id
        self.process = ManagedProcess(self.kind, host.home / "run")

    @property
    def name(self) -> str:
        return f"{self.kind}@{self.host.name}"

    @property
    def data_dir(self) -> Path:
        return self.host.home / "data" / self.kind

    @property
    def conf_dir(self) -> Path:
        return self.host.home / "conf" / self.kind

    def render(self, template: str, **values: object) -> Path:
        return render_template(self.stack.include_dir / "cluster" / template,
                               self.conf_dir / Path(template).name, **values)

    def java(self, main_class: str, *args: str, heap: str, classpath_first: Path | None = None) -> list[str]:
        return self.host.argv(java_argv(self.stack, self.component, main_class, *args, heap=heap,
                                        classpath_first=classpath_first))

    def run_once(self, argv: Sequence[str], what: str) -> None:
        done = subprocess.run(list(argv), capture_output=True, text=True)
        if done.returncode != 0:
            raise ServiceError(f"{what} on {self.host.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")

    def is_running(self) -> bool:
        return self.process.is_running()

    def launch(self) -> None:
        raise NotImplementedError

    def health(self) -> Health:
        raise NotImplementedError

    def wait_healthy(self) -> None:
        self.process.wait_until(lambda: self.health().ok, timeout=self.start_timeout, what="a healthy state")

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown hook runs. Returns once the process is gone."""
        pid = self.process.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.process.is_running():
            if time.monotonic() > deadline:
                raise ServiceError(f"{self.name} (pid {pid}) outlived SIGKILL by 30 s")
            time.sleep(0.1)


class ZooKeeperMember(HostService):
    kind = "zookeeper"
    component = "zookeeper"
    start_timeout = 90.0

    def __init__(self, stack: StackConfig, host: Host, node_id: int, ensemble: Sequence[Host]) -> None:
        super().__init__(stack, host, node_id)
        self.ensemble = ensemble

    def launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "myid").write_text(f"{self.node_id}\n")
        servers = "\n".join(f"server.{i}={member.address}:2888:3888" for i, member in enumerate(self.ensemble, 1))
        conf = self.render("zookeeper/zoo.cfg", data_dir=self.data_dir, address=self.host.address, servers=servers)
        self.process.start(self.java("org.apache.zookeeper.server.quorum.QuorumPeerMain", str(conf), heap="192m"))

    def health(self) -> Health:
        """A member is healthy when it serves as leader or follower of a quorum (``ruok`` would answer
        before the ensemble has one)."""
        try:
            with socket.create_connection((self.host.address, 2181), timeout=2) as sock:
                sock.sendall(b"srvr")
                answer = b""
                while chunk := sock.recv(4096):
                    answer += chunk
        except OSError as err:
            return Health(False, f"not answering on {self.host.address}:2181: {err}")
        mode = next((line.split(":", 1)[1].strip() for line in answer.decode(errors="replace").splitlines()
                     if line.startswith("Mode:")), None)
        return Health(mode in ("leader", "follower"), f"mode {mode or 'none (no quorum)'}")


class KafkaNode(HostService):
    kind = "kafka"
    component = "kafka"
    start_timeout = 120.0

    def __init__(self, stack: StackConfig, host: Host, node_id: int, nodes: Sequence[Host], cluster_id: str) -> None:
        super().__init__(stack, host, node_id)
        self.nodes = nodes
        self.cluster_id = cluster_id

    @property
    def bootstrap(self) -> str:
        return f"{self.host.address}:9092"

    def launch(self) -> None:
        voters = ",".join(f"{i}@{node.address}:9093" for i, node in enumerate(self.nodes, 1))
        conf = self.render("kafka/server.properties", node_id=self.node_id, voters=voters,
                           address=self.host.address, data_dir=self.data_dir)
        if not (self.data_dir / "meta.properties").exists():
            self.run_once(self.java("kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", str(conf),
                                    heap="256m"), "formatting Kafka's log dir")
        self.process.start(self.java("kafka.Kafka", str(conf), heap="512m"))

    def health(self) -> Health:
        """Healthy when this broker answers and the cluster's metadata lists it."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 2000})
        try:
            metadata = admin.list_topics(timeout=3)
        except KafkaException as err:
            return Health(False, f"no metadata from {self.bootstrap}: {err}")
        return Health(self.node_id in metadata.brokers,
                      f"broker {self.node_id}, {len(metadata.brokers)} broker(s) registered")


class NameNode(HostService):
    kind = "namenode"
    component = "hdfs"
    start_timeout = 120.0

    @property
    def webhdfs_url(self) -> str:
        return f"http://{self.host.address}:9870"

    def render_site(self) -> Path:
        return _render_hdfs_site(self, namenode=self.host.address)

    def launch(self) -> None:
        conf = self.render_site()
        if not (self.data_dir / "name" / "current" / "VERSION").exists():
            self.run_once(self.java("org.apache.hadoop.hdfs.server.namenode.NameNode", "-format", "-nonInteractive",
                                    "-force", heap="256m", classpath_first=conf), "formatting the NameNode")
        self.process.start(self.java("org.apache.hadoop.hdfs.server.namenode.NameNode", heap="512m",
                                     classpath_first=conf), env=_hadoop_env())

    def live_datanodes(self) -> set[str] | None:
        """The addresses of the DataNodes the NameNode counts as live, or None if it does not answer."""
        info = self.namenode_info()
        if info is None:
            return None
        return {node["xferaddr"].split(":")[0] for node in json.loads(info.get("LiveNodes") or "{}").values()}

    def namenode_info(self) -> dict | None:
        return _jmx_bean(f"{self.webhdfs_url}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo")

    def health(self) -> Health:
        info = self.namenode_info()
        if info is None:
            return Health(False, f"no answer from {self.webhdfs_url}")
        return Health(True, f"{len(json.loads(info.get('LiveNodes') or '{}'))} live DataNode(s)"
                      + (", in safe mode" if info.get("Safemode") else ""))


class DataNode(HostService):
    kind = "datanode"
    component = "hdfs"
    start_timeout = 120.0

    def __init__(self, stack: StackConfig, host: Host, node_id: int, namenode: NameNode) -> None:
        super().__init__(stack, host, node_id)
        self.namenode = namenode

    def launch(self) -> None:
        conf = _render_hdfs_site(self, namenode=self.namenode.host.address)
        self.process.start(self.java("org.apache.hadoop.hdfs.server.datanode.DataNode", heap="256m",
                                     classpath_first=conf), env=_hadoop_env())

    def health(self) -> Health:
        """Healthy when this DataNode's own JMX says it has registered its block pool with the NameNode
        and sent a block report (the NameNode's list of live nodes still shows one killed a moment ago)."""
        url = f"http://{self.host.address}:9864/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo"
        info = _jmx_bean(url)
        try:
            actors = json.loads(info["BPServiceActorInfo"]) if info else None
        except (KeyError, ValueError):
            actors = None
        if actors is None:
            return Health(False, f"no DataNode info from {url}")
        serving = [actor for actor in actors
                   if actor.get("ActorState") == "RUNNING" and actor.get("LastBlockReport") not in (None, "", "0")]
        return Health(bool(serving), f"serving {self.namenode.host.address}" if serving
                      else f"not registered yet: {actors}")


def _jmx_bean(url: str) -> dict | None:
    """The first bean of a Hadoop daemon's JMX servlet query, or None if it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            beans = json.load(response)["beans"]
    except (OSError, urllib.error.URLError, KeyError, ValueError):
        return None
    return beans[0] if beans else None


def _render_hdfs_site(service: HostService, *, namenode: str) -> Path:
    service.render("hdfs/hdfs-site.xml", namenode=namenode, address=service.host.address, data_dir=service.data_dir)
    service.render("hdfs/core-site.xml", namenode=namenode, data_dir=service.data_dir)
    return service.conf_dir


def _hadoop_env() -> dict[str, str]:
    # the NameNode names its superuser after the user that started it; the clients act as root
    return {**os.environ, "HADOOP_USER_NAME": "root"}


class FlumeAgent(HostService):
    """One agent of the pipeline's Flume tiers on its host: an L1 on a front-end host, an L2 on a
    collector. The tiers render every agent's configuration and start the ones that are down (L2s
    first), as the flume_tiers DAG does on the local stack."""

    kind = "flume"
    component = "flume"
    start_timeout = 180.0

    def __init__(self, stack: StackConfig, host: Host, node_id: int, tiers: FlumeTiers, agent: str,
                 replication: int) -> None:
        super().__init__(stack, host, node_id)
        self.tiers = tiers
        self.agent = agent
        self.replication = replication
        self.process = tiers.process(agent)

    @property
    def name(self) -> str:
        return f"flume-{self.agent}@{self.host.name}"

    def launch(self) -> None:
        self.tiers.prepare_hosts()
        self.tiers.ensure_topics(self.replication)
        self.tiers.deploy()

    def health(self) -> Health:
        answers = self.tiers.answers(self.agent)
        return Health(answers, f"{self.tiers.agent(self.agent).tier} agent serving metrics" if answers
                      else f"no metrics at {self.tiers.metrics_url(self.agent)}")
