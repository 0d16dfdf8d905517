"""The Flume tiers' tasks: render and deploy the agents' configurations, and check their health."""

from __future__ import annotations

import time
from typing import Any

from airflow.exceptions import AirflowException
from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook
from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook
from airflow.sdk import BaseOperator

from hooks.flume_metrics import FlumeMetricsHook
from logstream.flume.agent_config import FlumeConfigError
from logstream.flume.health import AgentRole, agent_problems
from logstream.flume.host_files import HostFilesError
from logstream.flume.hops import hop_counts, kafka_end_offsets
from logstream.flume.taildir_lag import read_taildir_lag, taildir_problems
from logstream.pipeline_config import load_pipeline_config
from logstream.stack.process import ServiceError


class DeployFlumeAgentsOperator(BaseOperator):
    """Renders every agent's properties from include/flume/ and the pipeline config, writes the ones
    that changed, and starts the agents that do not run or restarts those whose file changed.
    A configuration that cannot be rendered (unknown topic, port in use, missing log dir) fails the
    task with a message naming each problem, before any file is written.

    Agents supervised by their own hosts (the connection's ``supervisor: hosts``, docker-compose, the
    cluster): the configuration is rendered and checked, and the task waits for every agent to answer,
    failing naming those that do not; it starts nothing (the hosts do). Where the agents fetch their
    configuration from ZooKeeper (``config: zookeeper``, the cluster), the changed configurations are
    published there first and the running agents reconfigure themselves; otherwise the hosts read
    their own copies of the files.

    :param flume_conn_id: the Flume agents' connection.
    :param answer_timeout_seconds: how long an agent may take to serve its metrics.
    """

    def __init__(self, *, flume_conn_id: str = FlumeMetricsHook.default_conn_name,
                 answer_timeout_seconds: float = 300.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flume_conn_id = flume_conn_id
        self.answer_timeout_seconds = answer_timeout_seconds

    def execute(self, context: Any) -> dict[str, list[str]]:
        tiers = FlumeMetricsHook(flume_conn_id=self.flume_conn_id).tiers(load_pipeline_config())
        if not tiers.launches_agents:
            try:
                agents = tiers.agents
                changed = tiers.publish() if tiers.config_zookeeper else []
            except FlumeConfigError as err:
                raise AirflowException(str(err)) from err
            if tiers.config_zookeeper:
                self.log.info("published to ZooKeeper %s under %s: %s", tiers.config_zookeeper, tiers.config_path,
                              ", ".join(changed) or "no configuration changed")
            try:
                tiers.wait_answering(timeout=self.answer_timeout_seconds)
            except ServiceError as err:
                raise AirflowException(f"{err} (they run under their hosts' supervisor, which starts them)") from err
            self.log.info("flume agents supervised by their hosts, all %d answering: %s", len(agents),
                          ", ".join(agent.name for agent in agents))
            return {"changed": changed, "started": [], "restarted": []}
        try:
            report = tiers.deploy()
        except FlumeConfigError as err:
            raise AirflowException(str(err)) from err
        tiers.wait_answering(report.started + report.restarted, timeout=self.answer_timeout_seconds)
        self.log.info("flume agents deployed: %s", report)
        return {"changed": report.changed, "started": report.started, "restarted": report.restarted}


class FlumeHealthCheckOperator(BaseOperator):
    """Reads every agent's metrics twice, ``interval_seconds`` apart, logs the hop accounting (host
    files -> L1 -> L2 -> Kafka, per agent and topic) and fails naming each problem: an agent down, a
    channel over ``fill_threshold`` percent, sink failures or rollbacks, an L1 sending
    through its backup L2 (failed over), events that sit in a channel without moving, an L1 whose
    TAILDIR is more than ``health.taildir_max_lag_mb`` behind its host's files or does not move while
    lines wait (``logstream/flume/taildir_lag.py``; where its position file can be read here).

    With ``repair`` (and agents this machine launches: the connection's ``supervisor: airflow``), an
    agent whose process is gone is started again first (its rendered
    configuration as it is; a killed L2 replays its file channel, a killed L1 resumes from its TAILDIR
    position and ``flume_line_gaps`` refills what its memory channel held), and the task fails naming
    it with the time it took to answer again: one incident for the outage, closed by the next run.

    :param interval_seconds: the time between the two readings.
    :param fill_threshold: the channel fill percentage that is a problem.
    :param repair: start the agents whose process is gone.
    :param flume_conn_id: the Flume agents' connection.
    :param kafka_config_id: the Kafka connection (end offsets of the topics).
    """

    def __init__(self, *, interval_seconds: float = 10.0, fill_threshold: float = 80.0, repair: bool = True,
                 flume_conn_id: str = FlumeMetricsHook.default_conn_name,
                 kafka_config_id: str = KafkaBaseHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interval_seconds = interval_seconds
        self.fill_threshold = fill_threshold
        self.repair = repair
        self.flume_conn_id = flume_conn_id
        self.kafka_config_id = kafka_config_id

    def execute(self, context: Any) -> list[str]:
        pipeline = load_pipeline_config()
        hook = FlumeMetricsHook(flume_conn_id=self.flume_conn_id)
        tiers = hook.tiers(pipeline)
        with hook.host_files() as host_files:
            return self._check(pipeline, hook, tiers, host_files)

    def _check(self, pipeline, hook: FlumeMetricsHook, tiers, host_files) -> list[str]:
        # agents under their hosts' supervisor are restarted there: a down one is named, never started here
        repaired = self._start_dead_agents(tiers) if self.repair and tiers.launches_agents else []
        patterns = {host.name: host.file_pattern for host in pipeline.flume.hosts}
        unreadable: dict[str, str] = {}

        def taildir(agent):
            if agent.tier != "l1" or agent.log_dir is None or agent.name not in patterns:
                return None
            try:
                return read_taildir_lag(agent.name, hook.on_host(tiers, agent.log_dir), patterns[agent.name],
                                        hook.on_host(tiers, agent.position_file), host_files(agent.name))
            except HostFilesError as err:
                unreadable[agent.name] = str(err)
                return None

        lag_before = {agent.name: taildir(agent) for agent in tiers.agents}
        before = {agent.name: hook.read(tiers, agent.name)[0] for agent in tiers.agents}
        # two readings make movement visible; the gap is the measurement, not a wait for something
        time.sleep(self.interval_seconds)
        after = {agent.name: hook.read(tiers, agent.name) for agent in tiers.agents}
        lag_after = {agent.name: taildir(agent) for agent in tiers.agents}
        problems = [
            str(problem)
            for agent in tiers.agents
            for problem in agent_problems(
                AgentRole(name=agent.name, tier=agent.tier, primary_sink=agent.primary_sink),
                before[agent.name], after[agent.name][0],
                fill_threshold=self.fill_threshold, unreachable_reason=after[agent.name][1],
            )
        ]
        # an L1 that is down is named so above; its position not moving is the same cause
        problems += [
            str(problem)
            for agent in tiers.agents if agent.tier == "l1" and after[agent.name][0] is not None
            for problem in taildir_problems(lag_before[agent.name], lag_after[agent.name],
                                            max_lag_bytes=int(pipeline.health.taildir_max_lag_mb * 2**20),
                                            seconds=self.interval_seconds)
        ]
        self.log.info("TAILDIR lag (complete lines not read yet): %s", ", ".join(
            f"{name} {lag.behind:,} bytes" if lag is not None else f"{name} not readable here"
            for name, lag in lag_after.items() if name in patterns))
        topics = sorted({host.topic for host in pipeline.flume.hosts})
        offsets = kafka_end_offsets(KafkaAdminClientHook(kafka_config_id=self.kafka_config_id).get_conn, topics)
        hops = hop_counts(tiers.agents, {name: reading for name, (reading, _) in after.items()},
                          file_patterns={host.name: host.file_pattern for host in pipeline.flume.hosts},
                          kafka_end_offsets=offsets)
        self.log.info("hop accounting (counts since each agent started):\n%s", hops)
        problems = repaired + problems + [f"{name}: its host's files not readable: {reason}"
                                          for name, reason in unreadable.items()]
        if problems:
            raise AirflowException(f"{len(problems)} Flume problem(s):\n" + "\n".join(problems))
        self.log.info("all %d Flume agents healthy", len(tiers.agents))
        return hops.lines

    def _start_dead_agents(self, tiers) -> list[str]:
        """Start each agent whose process is gone (L2s first: the L1s send to them); what was done."""
        dead = [agent for agent in tiers.agents if not tiers.process(agent.name).is_running()]
        done = []
        for agent in sorted(dead, key=lambda agent: agent.tier != "l2"):
            began = time.monotonic()
            self.log.warning("flume agent %s (%s) is not running: starting it", agent.name, agent.tier)
            tiers.start(agent.name)
            tiers.wait_answering([agent.name], timeout=300)
            done.append(f"agent {agent.name!r} was down: started again, serving metrics after "
                        f"{time.monotonic() - began:.1f}s")
            self.log.info(done[-1])
        return done
