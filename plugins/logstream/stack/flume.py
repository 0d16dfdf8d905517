"""The Flume tiers as real JVMs: simulated front-end hosts (a log dir and an L1 agent each) and L2
agents, every one with HTTP metrics; agents whose rendered configuration changed are restarted."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from logstream.flume.agent_config import AgentPlacement, FlumeAgentConfig, render_agents, write_agent_configs
from logstream.flume.metrics import AgentUnreachable, read_metrics
from logstream.flume.zookeeper_config import DEFAULT_PATH as ZOOKEEPER_CONFIG_PATH
from logstream.kafka_topics import ensure_topic
from logstream.pipeline_config import PipelineConfig, load_pipeline_config
from logstream.stack.config import StackConfig
from logstream.stack.process import ManagedProcess, ServiceError, port_is_free, port_is_open
from logstream.stack.service import Health, Service

if TYPE_CHECKING:
    from logstream.cluster.network import Host

MAIN_CLASS = "org.apache.flume.node.Application"
# Flume classes of logstream's own (TAILDIR's TailFile with line ids: fileid, byteend), compiled here
JAVA_SOURCES = ("flume", "java")


def patched_classes(stack: StackConfig) -> Path:
    """``.jvm/classes/flume``: the include/flume/java classes, compiled again when a source changed
    (javac of the JDK that runs the agents, against the Flume jars); first on every agent's classpath
    (docker-compose.yaml mounts the same folder)."""
    sources = sorted(stack.include_dir.joinpath(*JAVA_SOURCES).rglob("*.java"))
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()
    target = stack.jvm_lib.parent / "classes" / "flume"
    stamp = target / ".sources-sha256"
    if stamp.is_file() and stamp.read_text() == digest:
        return target
    javac = Path(stack.java()).with_name("javac")
    if not javac.exists():
        raise FileNotFoundError(f"{javac} was not found: Flume's line ids need a JDK (apt-get install openjdk-17-jdk-headless)")
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".flume-", dir=target.parent))
    building.chmod(0o755)  # mkdtemp makes it 0700: the compose containers read it too
    compiled = subprocess.run([str(javac), "-nowarn", "-proc:none", "--release", "17", "-cp", stack.classpath("flume"),
                               "-d", str(building), *map(str, sources)], capture_output=True, text=True)
    if compiled.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise ServiceError(f"javac of {stack.include_dir.joinpath(*JAVA_SOURCES)} failed:\n{compiled.stderr[-4000:]}")
    (building / stamp.name).write_text(digest)
    shutil.rmtree(target, ignore_errors=True)
    try:
        building.rename(target)
    except OSError:  # another process renamed its build (of the same sources) first
        shutil.rmtree(building, ignore_errors=True)
    return target
    javac = Path(stack.java()).with_name("javac")
    if not javac.exists():
        raise FileNotFoundError(f"{javac} was not found: Flume's line ids need a JDK (apt-get install openjdk-17-jdk-headless)")
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    compiled = subprocess.run([str(javac), "-nowarn", "-proc:none", "--release", "17", "-cp", stack.classpath("flume"),
                               "-d", str(building), *map(str, sources)], capture_output=True, text=True)
    if compiled.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise ServiceError(f"javac of {stack.include_dir.joinpath(*JAVA_SOURCES)} failed:\n{compiled.stderr[-4000:]}")
    try:
        building.rename(target)  # another process that compiled the same sources first wins; same classes
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
    return target


@dataclass(frozen=True)
class DeployReport:
    changed: list[str]  # agents whose properties file changed
    started: list[str]  # agents that were not running and were started
    restarted: list[str]  # agents that ran an older configuration

    def __str__(self) -> str:
        return (f"configs changed: {', '.join(self.changed) or 'none'}; started: {', '.join(self.started) or 'none'}; "
                f"restarted: {', '.join(self.restarted) or 'none'}")


class FlumeTiers:
    """One deployment of the agents of ``pipeline.flume`` on this machine.

    :param stack: the local stack (java, jars, Kafka's address)
    :param pipeline: the topics, hosts and L2 agents to run
    :param home: where configs, pid files, logs, host log dirs and channel state live
    :param avro_base_port: L2 agent i listens on this + i
    :param metrics_base_port: agent i (L2s first) serves metrics on this + i
    :param heap: -Xmx of each agent
    :param java_options: more JVM options for every agent, ``{name}`` replaced by the agent's name
        (the Flume bench's ``--profile`` records each agent with Java Flight Recorder this way)
    :param agent_address: where agent ``{name}`` answers (metrics, refill), e.g. ``flume-{name}`` in
        docker-compose.yaml; empty: every agent on the stack's host
    :param launches_agents: this machine starts the agents' processes (the local stack); False: each
        agent runs under its own host's supervisor (compose's restart policy, systemd), and the
        deploy and repair here only render, check and wait, never start a process
    :param agent_hosts: the host of each agent, by agent name (the cluster's network namespaces,
        logstream.cluster): each agent runs on its host, listens on all of its addresses, and an L1
        reaches its L2s at their hosts' addresses; empty: every agent on the stack's host
    :param kafka_bootstrap: the L2 agents' Kafka (default: the stack's)
    :param config_zookeeper: the agents fetch their configuration from this ZooKeeper ensemble
        (``host:port,...``; Flume's ``-z``/``-p``, node ``<config_path>/<agent>``) and reconfigure
        themselves when it changes: the deploy publishes there and writes no file (the cluster); empty:
        each agent reads its file in ``conf/`` (the local stack)
    :param config_path: the agents' configuration nodes' parent in ZooKeeper
    """

    def __init__(self, *, stack: StackConfig, pipeline: PipelineConfig, home: Path, avro_base_port: int,
                 metrics_base_port: int, heap: str = "256m", java_options: tuple[str, ...] = (),
                 agent_address: str = "", launches_agents: bool = True,
                 agent_hosts: Mapping[str, Host] | None = None, kafka_bootstrap: str | None = None,
                 config_zookeeper: str = "", config_path: str = ZOOKEEPER_CONFIG_PATH) -> None:
        self.stack = stack
        self.pipeline = pipeline
        self.home = home
        self.avro_base_port = avro_base_port
        self.metrics_base_port = metrics_base_port
        self.heap = heap
        self.java_options = java_options
        self.agent_address = agent_address
        self.launches_agents = launches_agents
        self.agent_hosts = dict(agent_hosts or {})
        self.kafka_bootstrap = kafka_bootstrap or stack.kafka_bootstrap
        self.config_zookeeper = config_zookeeper
        self.config_path = config_path

    @property
    def placement(self) -> AgentPlacement:
        # an agent alone in its host's network namespace listens on all of that host's addresses
        return AgentPlacement(kafka_bootstrap=self.kafka_bootstrap, hosts_root=self.home, state_root=self.home / "state",
                              avro_base_port=self.avro_base_port, metrics_base_port=self.metrics_base_port,
                              bind="0.0.0.0" if self.agent_hosts else self.stack.host,
                              l2_address={name: host.address for name, host in self.agent_hosts.items()} or None)

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @cached_property
    def agents(self) -> list[FlumeAgentConfig]:
        """What the agents are; the deploy checks ports and log dirs (running agents hold their own ports)."""
        return render_agents(self.pipeline, self.placement, check_log_dirs=False)

    def agent(self, name: str) -> FlumeAgentConfig:
        return next(agent for agent in self.agents if agent.name == name)

    def process(self, name: str) -> ManagedProcess:
        return ManagedProcess(f"flume-{name}", self.home / "run")

    def address(self, name: str) -> str:
        """The host agent ``name`` answers on."""
        if self.agent_hosts:
            return self.agent_hosts[name].address
        return self.agent_address.format(name=name) if self.agent_address else self.stack.host

    def metrics_url(self, name: str) -> str:
        return f"http://{self.address(name)}:{self.agent(name).metrics_port}/metrics"

    def prepare_hosts(self) -> None:
        """The simulated front-end hosts' log dirs (a real host has its own)."""
        for host in self.pipeline.flume.hosts:
            (self.placement.hosts_root / host.log_dir).mkdir(parents=True, exist_ok=True)

    def ensure_topics(self, replication: int = 1) -> list[str]:
        """The broker does not auto-create topics: an L2 would retry a batch for a missing one forever."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.kafka_bootstrap})
        wanted = {host.topic for host in self.pipeline.flume.hosts}
        return [ensure_topic(admin, topic.name, topic.partitions, replication)
                for topic in self.pipeline.topics if topic.name in wanted]

    def publish(self) -> list[str]:
        """Render every agent (checking topics and ports, not the hosts' folders: they are the hosts')
        and publish the changed ones to ZooKeeper, where the agents fetch them; the agents whose
        configuration changed (a running one reconfigures itself)."""
        from kazoo.client import KazooClient

        from logstream.flume.zookeeper_config import publish_agent_configs

        rendered = render_agents(self.pipeline, self.placement, check_log_dirs=False)
        client = KazooClient(hosts=self.config_zookeeper, timeout=10)
        client.start(timeout=30)
        try:
            return publish_agent_configs(client, self.config_path, rendered)
        finally:
            client.stop()
            client.close()

    def deploy(self) -> DeployReport:
        """Render (checking topics, dirs and ports), write the changed files (or publish them to
        ZooKeeper), start the agents that do not run, restart those whose file changed (an agent that
        reads ZooKeeper reconfigures itself)."""
        running = {agent.name for agent in self.agents if self.process(agent.name).is_running()}
        if self.config_zookeeper:
            changed = self.publish()
            started = [agent.name for agent in self.agents if agent.name not in running]
            for tier in ("l2", "l1"):  # L2s first and configured: an L1 sends to them at once
                names = [agent.name for agent in self.agents if agent.tier == tier and agent.name in started]
                for name in names:
                    self.start(name)
                self._wait_configured(names)
            return DeployReport(changed=changed, started=started, restarted=[])
        own_ports = {port for agent in self.agents if agent.name in running
                     for port in (agent.avro_port, agent.metrics_port, agent.refill_port) if port is not None}
        # an agent alone on its host has its ports to itself
        free = None if self.agent_hosts else (lambda port: port in own_ports or port_is_free(port, self.stack.host))
        rendered = render_agents(self.pipeline, self.placement, port_is_free=free)
        changed = write_agent_configs(rendered, self.conf_dir)
        restarted = [name for name in changed if name in running]
        for name in restarted:
            self.process(name).stop()
        started = [agent.name for agent in rendered if agent.name not in running]
        self._start_tiers(rendered, started + restarted)
        return DeployReport(changed=changed, started=started, restarted=restarted)

    def _wait_configured(self, names: list[str], *, timeout: float = 300.0, grace: float = 20.0,
                         every: float = 10.0) -> None:
        """Until every agent of ``names`` (reading its configuration from ZooKeeper) serves metrics,
        which it does once configured; one that does not after ``grace`` seconds has its node set
        again every ``every`` seconds (:func:`logstream.flume.zookeeper_config.nudge`)."""
        from kazoo.client import KazooClient

        from logstream.flume.zookeeper_config import nudge

        pending = set(names)
        started = time.monotonic()
        next_nudge = started + grace
        client = KazooClient(hosts=self.config_zookeeper, timeout=10)
        client.start(timeout=30)
        try:
            while pending := {name for name in pending if not self.answers(name)}:
                now = time.monotonic()
                if now - started > timeout:
                    raise ServiceError(f"flume agents {sorted(pending)} not configured from ZooKeeper "
                                       f"({self.config_path}) after {timeout:.0f}s: see their logs in {self.home / 'run'}")
                if now >= next_nudge:
                    for name in pending:
                        nudge(client, self.config_path, name)
                    next_nudge = now + every
                time.sleep(0.5)
        finally:
            client.stop()
            client.close()

    def _start_tiers(self, rendered: list[FlumeAgentConfig], names: list[str]) -> None:
        # L2s first and listening: an L1 without an L2 to send to counts connection failures
        for tier in ("l2", "l1"):
            starting = [agent for agent in rendered if agent.tier == tier and agent.name in names]
            for agent in starting:
                self.start(agent.name)
            for agent in starting:
                if agent.avro_port is not None:
                    self.process(agent.name).wait_until(lambda agent=agent: port_is_open(agent.avro_port,
                                                                                         self.address(agent.name)),
                                                        timeout=300, what=f"listening on {agent.avro_port}")

    def start(self, name: str) -> None:
        agent = self.agent(name)
        if agent.state_dir is not None:
            agent.state_dir.mkdir(parents=True, exist_ok=True)
        log_config = self.stack.include_dir / "stack" / "log4j2-console.properties"
        argv = [
            self.stack.java(), f"-Xmx{self.heap}", *(option.replace("{name}", name) for option in self.java_options),
            f"-Dlog4j2.configurationFile={log_config}",
            "-Dflume.monitoring.type=http", f"-Dflume.monitoring.port={agent.metrics_port}",
            "-cp", f"{patched_classes(self.stack)}{os.pathsep}{self.stack.classpath('flume')}", MAIN_CLASS,
            "-n", name,
            *(["-z", self.config_zookeeper, "-p", self.config_path] if self.config_zookeeper
              else ["-f", str(self.conf_dir / f"{name}.properties"), "--no-reload-conf"]),
        ]
        self.process(name).start(self.agent_hosts[name].argv(argv) if self.agent_hosts else argv)

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash would: nothing is flushed, the file channel's lock stays behind."""
        self.process(name).crash()

    def stop(self, names: Iterable[str] | None = None) -> None:
        # L1s first, so that what they hold drains into L2s that still run
        for agent in reversed(self.agents):
            if names is None or agent.name in names:
                self.process(agent.name).stop()

    def answers(self, name: str) -> bool:
        try:
            read_metrics(name, self.metrics_url(name), timeout=2)
        except AgentUnreachable:
            return False
        return True

    def wait_answering(self, names: Iterable[str] | None = None, *, timeout: float = 300.0) -> None:
        names = list(names or [agent.name for agent in self.agents])
        if self.launches_agents:  # a process of ours that died says so at once
            for name in names:
                self.process(name).wait_until(lambda name=name: self.answers(name), timeout=timeout,
                                              what="serving metrics")
            return
        deadline = time.monotonic() + timeout
        silent = names
        while silent := [name for name in silent if not self.answers(name)]:
            if time.monotonic() >= deadline:
                raise ServiceError(f"flume agent(s) not serving metrics after {timeout:.0f}s: "
                                   + ", ".join(f"{name} ({self.metrics_url(name)})" for name in silent))
            time.sleep(1)


class Flume(Service):
    """The stack's Flume tiers: the hosts and agents of include/pipeline.yaml (after Kafka)."""

    name = "flume"
    start_timeout = 180.0

    def __init__(self, config: StackConfig) -> None:
        self.config = config

    @cached_property
    def tiers(self) -> FlumeTiers:
        return FlumeTiers(stack=self.config, pipeline=load_pipeline_config(), home=self.data_dir,
                          avro_base_port=self.port("flume_avro"), metrics_base_port=self.port("flume_metrics"))

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.tiers.process(agent.name) for agent in self.tiers.agents]

    def check_ports_free(self) -> None:
        """Checked by the deploy, which names the agent and the port."""

    def launch(self) -> None:
        self.tiers.prepare_hosts()
        self.tiers.ensure_topics()
        self.tiers.deploy()

    def launch_missing(self) -> None:
        """The deploy starts the agents that do not run (and restarts those whose file changed)."""
        self.tiers.deploy()

    def wait_healthy(self) -> None:
        self.tiers.wait_answering(timeout=self.start_timeout)

    def health(self) -> Health:
        silent = [agent.name for agent in self.tiers.agents if not self.tiers.answers(agent.name)]
        if silent:
            return Health(False, f"no metrics from {', '.join(silent)}")
        return Health(True, f"{len(self.tiers.agents)} agents serving metrics")

    def stop(self) -> None:
        self.tiers.stop()
