"""Flume agent properties rendered from include/flume/*.properties.j2 and the pipeline config.

Every problem that would make an agent fail at start or deliver nowhere (a host filing under an
unknown topic, a log dir that does not exist, a port another program holds) is found here, before
anything is written, and named in one error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2

from logstream.pipeline_config import REPO_ROOT, FlumeHost, PipelineConfig

TEMPLATES = REPO_ROOT / "include" / "flume"


class FlumeConfigError(ValueError):
    """The agents' configuration cannot be rendered; the message names every problem."""


@dataclass(frozen=True)
class AgentPlacement:
    """Where the agents listen and keep their state on this machine (or in their containers)."""

    kafka_bootstrap: str
    hosts_root: Path  # relative log dirs of the hosts are under it
    state_root: Path  # per agent: position file, file channel
    avro_base_port: int
    metrics_base_port: int
    bind: str = "127.0.0.1"
    # an L1's refill port (its Thrift source, flume/line_refill.py) is its metrics port + this
    refill_port_offset: int = 1000
    # how an L1 reaches L2 agent ``name``: a pattern ("flume-{name}" in containers) or the address of
    # each (the cluster's hosts); None: at ``bind``
    l2_address: str | Mapping[str, str] | None = None


# where an L1's TAILDIR saves how far it has read each file, in its state folder
TAILDIR_POSITIONS = "taildir_position.json"


@dataclass(frozen=True)
class FlumeAgentConfig:
    """One rendered agent: its name (Flume's ``-n``), tier, ports and properties text."""

    name: str
    tier: str  # "l1" or "l2"
    metrics_port: int
    properties: str
    avro_port: int | None = None
    topic: str | None = None  # an L1's business topic
    log_dir: Path | None = None  # an L1's host log dir
    state_dir: Path | None = None
    primary_sink: str | None = None  # an L1's sink to the L2 it prefers
    refill_port: int | None = None  # an L1's Thrift source for the refill of gaps (flume/line_refill.py)

    @property
    def position_file(self) -> Path | None:
        """An L1's TAILDIR positions (flume/taildir_lag.py reads them)."""
        return self.state_dir / TAILDIR_POSITIONS if self.tier == "l1" and self.state_dir is not None else None


@dataclass(frozen=True)
class _L2Target:
    name: str
    host: str
    avro_port: int


def host_partitions(pipeline: PipelineConfig) -> dict[str, int]:
    """The partition of its topic that all of a host's lines go to: one per host, so that a
    consumer's per-partition state sees every copy of a line (logstream/line_ids.py); the hosts of a
    topic take its partitions in turn, in the order ``pipeline.yaml`` lists them, so every partition
    carries load. Reordering the hosts or changing the partition count moves hosts (a line re-sent
    across the move is not known as a copy); adding a host at the end moves none."""
    partitions = {topic.name: topic.partitions for topic in pipeline.topics}
    taken: dict[str, int] = {}
    placed = {}
    for host in pipeline.flume.hosts:
        position = taken.get(host.topic, 0)
        taken[host.topic] = position + 1
        placed[host.name] = position % partitions.get(host.topic, 1)
    return placed


def render_agents(
    pipeline: PipelineConfig,
    placement: AgentPlacement,
    *,
    port_is_free: Callable[[int], bool] | None = None,
    check_log_dirs: bool = True,
) -> list[FlumeAgentConfig]:
    """Render every L2 and L1 agent of ``pipeline.flume``; raise FlumeConfigError naming what is wrong.

    :param pipeline: the pipeline config (topics and the ``flume`` section)
    :param placement: ports, Kafka and directories of this deployment
    :param port_is_free: checks a port the agents are to take (None: no check, e.g. in containers)
    :param check_log_dirs: whether each host's log dir must exist (False: only describe the agents)
    """
    flume = pipeline.flume
    topics = {topic.name for topic in pipeline.topics}
    partition_of = host_partitions(pipeline)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    problems: list[str] = []
    agents: list[FlumeAgentConfig] = []
    targets = [
        _L2Target(name=name, host=_l2_host(placement, name),
                  avro_port=placement.avro_base_port + index)
        for index, name in enumerate(flume.l2_agents)
    ]
    for index, target in enumerate(targets):
        state_dir = placement.state_root / target.name
        metrics_port = placement.metrics_base_port + index
        properties = env.get_template("l2.properties.j2").render(
            agent=target.name,
            bind=placement.bind,
            avro_port=target.avro_port,
            data_dir=state_dir,
            settings=flume,
            kafka_bootstrap=placement.kafka_bootstrap,
            default_topic=pipeline.topics[0].name,
        )
        agents.append(FlumeAgentConfig(name=target.name, tier="l2", metrics_port=metrics_port, properties=properties,
                                       avro_port=target.avro_port, state_dir=state_dir))
    for index, host in enumerate(flume.hosts):
        log_dir = host_log_dir(host, placement)
        if host.topic not in topics:
            problems.append(f"host {host.name!r}: unknown topic {host.topic!r} (the pipeline has {sorted(topics)})")
        if check_log_dirs and not log_dir.is_dir():
            problems.append(f"host {host.name!r}: log directory {log_dir} does not exist")
        state_dir = placement.state_root / host.name
        # host i prefers L2 i mod n and fails over to the next ones: every L2 carries load, each L1 fails over
        preference = targets[index % len(targets):] + targets[:index % len(targets)]
        metrics_port = placement.metrics_base_port + len(targets) + index
        refill_port = metrics_port + placement.refill_port_offset
        properties = env.get_template("l1.properties.j2").render(
            agent=host.name,
            host=host,
            partition=partition_of[host.name],
            log_dir=log_dir,
            position_file=state_dir / TAILDIR_POSITIONS,
            state_dir=state_dir,
            settings=flume,
            l2_agents=preference,
            bind=placement.bind,
            refill_port=refill_port,
        )
        agents.append(FlumeAgentConfig(name=host.name, tier="l1", metrics_port=metrics_port,
                                       properties=properties, topic=host.topic, log_dir=log_dir, state_dir=state_dir,
                                       primary_sink=f"to_{preference[0].name}" if preference else None,
                                       refill_port=refill_port))
    if port_is_free is not None:
        problems += [
            f"agent {agent.name!r}: {what} port {port} is in use by another program"
            for agent in agents
            for what, port in (("Avro", agent.avro_port), ("metrics", agent.metrics_port), ("refill", agent.refill_port))
            if port is not None and not port_is_free(port)
        ]
    if problems:
        raise FlumeConfigError("cannot render the Flume agents: " + "; ".join(problems))
    return agents


def _l2_host(placement: AgentPlacement, name: str) -> str:
    if placement.l2_address is None:
        return placement.bind
    if isinstance(placement.l2_address, str):
        return placement.l2_address.format(name=name)
    return placement.l2_address[name]


def host_log_dir(host: FlumeHost, placement: AgentPlacement) -> Path:
    path = Path(host.log_dir)
    return path if path.is_absolute() else placement.hosts_root / path


def write_agent_configs(agents: list[FlumeAgentConfig], conf_dir: Path) -> list[str]:
    """Write ``<conf_dir>/<agent>.properties`` for each agent; returns the agents whose file changed.

    Each file is written to a temporary name and renamed, so an agent never reads half a file.
    """
    conf_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for agent in agents:
        target = conf_dir / f"{agent.name}.properties"
        if target.exists() and target.read_text() == agent.properties:
            continue
        staged = target.with_suffix(".properties.tmp")
        staged.write_text(agent.properties)
        staged.replace(target)
        changed.append(agent.name)
    return changed
