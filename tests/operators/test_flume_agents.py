"""The deploy task and the health check on the stack's Flume agents: a pipeline file that cannot be
rendered fails the task with a message naming each problem, and nothing is written or restarted; a
dead agent is started again; a TAILDIR that stops reading is named."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
import yaml
from airflow.exceptions import AirflowException

from logstream.flume.metrics import read_metrics
from logstream.pipeline_config import DEFAULT_PATH
from flume_hosts import HostFiles, read_topic
from online_stats import wait_for
from operators.flume_agents import DeployFlumeAgentsOperator, FlumeHealthCheckOperator


def test_a_port_held_by_another_program_and_a_missing_log_dir_fail_the_deploy_naming_both(stack, tmp_path, monkeypatch):
    tiers = stack.service("flume").tiers
    raw = yaml.safe_load(Path(DEFAULT_PATH).read_text())
    raw["flume"]["l2_agents"].append({"name": "collector3"})
    raw["flume"]["hosts"].append({"name": "frontend3", "topic": raw["topics"][0]["name"], "log_dir": "hosts/frontend3"})
    pipeline_file = tmp_path / "pipeline.yaml"
    pipeline_file.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("LOGSTREAM_PIPELINE_CONFIG", str(pipeline_file))
    # L2 agent i listens for Avro on the base port + i: the third one's port, held here
    taken = tiers.avro_base_port + len(raw["flume"]["l2_agents"]) - 1
    files_before = {path.name: path.read_text() for path in tiers.conf_dir.glob("*.properties")}
    pids_before = {agent.name: tiers.process(agent.name).pid() for agent in tiers.agents}

    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((stack.config.host, taken))
        holder.listen()
        with pytest.raises(AirflowException) as error:
            DeployFlumeAgentsOperator(task_id="deploy_agents").execute({})

    message = str(error.value)
    assert f"agent 'collector3': Avro port {taken} is in use by another program" in message
    assert f"host 'frontend3': log directory {tiers.home / 'hosts' / 'frontend3'} does not exist" in message
    assert {path.name: path.read_text() for path in tiers.conf_dir.glob("*.properties")} == files_before
    assert {agent.name: tiers.process(agent.name).pid() for agent in tiers.agents} == pids_before


def test_the_health_check_starts_a_killed_agent_names_the_outage_once_and_nothing_is_lost(own_deployment, stack):
    """Without the repair the killed L2 stays down (its file channel's lines never reach Kafka) and
    the task names it 'down' on every run."""
    tiers = own_deployment(slot=7)
    killed = tiers.pipeline.flume.l2_agents[0]
    hosts = [HostFiles(host=agent.name, log_dir=agent.log_dir) for agent in tiers.agents if agent.tier == "l1"]
    for host in hosts:
        host.append("app.log", [f"10.8.0.{i % 250},7,{int(time.time()) - 60},60 {host.host}#{i}".encode()
                                for i in range(2_000)])
    tiers.kill(killed)
    for host in hosts:
        host.append("app.log", [f"10.8.1.{i % 250},7,{int(time.time()) - 60},60 {host.host}#{i}".encode()
                                for i in range(2_000)])

    with pytest.raises(AirflowException) as error:
        FlumeHealthCheckOperator(task_id="health_check", interval_seconds=1).execute({})

    assert f"agent '{killed}' was down: started again, serving metrics after" in str(error.value)
    assert tiers.process(killed).is_running() and tiers.answers(killed)
    expected = {event_id for host in hosts for event_id in host.expected}
    delivered = read_topic(stack.config.kafka_bootstrap, tiers.pipeline.topics[0].name, want_ids=expected)
    assert expected <= delivered.bodies.keys()
    # the next run has nothing to start: whatever else it finds, the outage is not named again
    try:
        FlumeHealthCheckOperator(task_id="health_check", interval_seconds=1).execute({})
    except AirflowException as again:
        assert "was down" not in str(again)


def test_agents_supervised_by_their_hosts_are_checked_and_named_down_but_never_started_here(own_deployment,
                                                                                           monkeypatch):
    """The compose deployment's Flume connection (``supervisor: hosts``, an ``agent_address`` per
    agent): deploy and health check read every agent where it answers, and a killed agent is named
    down by both and left to its host. Without the ``launches_agents`` guard in the health check the
    killed L2 is started here and the task names it "started again" instead of down (checked once)."""
    tiers = own_deployment(slot=7)
    conn = json.loads(os.environ["AIRFLOW_CONN_FLUME_DEFAULT"])
    conn["extra"].update(supervisor="hosts", agent_address="{name}.invalid")
    monkeypatch.setenv("AIRFLOW_CONN_FLUME_DEFAULT", json.dumps(conn))
    # every agent asked at its own address: no such host answers
    with pytest.raises(AirflowException) as error:
        DeployFlumeAgentsOperator(task_id="deploy_agents", answer_timeout_seconds=5).execute({})
    for agent in tiers.agents:
        assert f"{agent.name} (http://{agent.name}.invalid:{agent.metrics_port}/metrics)" in str(error.value)

    conn["extra"]["agent_address"] = tiers.stack.host
    monkeypatch.setenv("AIRFLOW_CONN_FLUME_DEFAULT", json.dumps(conn))
    pids = {agent.name: tiers.process(agent.name).pid() for agent in tiers.agents}
    assert DeployFlumeAgentsOperator(task_id="deploy_agents").execute({}) == \
        {"changed": [], "started": [], "restarted": []}
    assert {agent.name: tiers.process(agent.name).pid() for agent in tiers.agents} == pids

    killed = tiers.pipeline.flume.l2_agents[0]
    tiers.kill(killed)
    with pytest.raises(AirflowException) as error:
        FlumeHealthCheckOperator(task_id="health_check", interval_seconds=1).execute({})
    assert f"{killed}: down:" in str(error.value)
    assert "started again" not in str(error.value)
    with pytest.raises(AirflowException) as error:
        DeployFlumeAgentsOperator(task_id="deploy_agents", answer_timeout_seconds=5).execute({})
    assert killed in str(error.value) and "their hosts' supervisor" in str(error.value)
    assert not tiers.process(killed).is_running()


def test_an_l1_whose_taildir_stops_reading_is_named_with_the_bytes_waiting(own_deployment, stack, tmp_path):
    """Both L2s stopped: web1's memory channel (20,000 events) fills and its TAILDIR stops reading
    while its file holds 30,000 lines. Full is less than 20,000 here: the file's first lines came as
    a short batch (1,234 lines, as when TAILDIR reads a file being written), and the channel refuses a
    whole batch once fewer than a batch's 500 places are left. Its channel counters look idle; the
    health check names the L1 by its file size against its saved position ("taildir_not_reading", and
    "taildir_behind" over the threshold), not web2, which has nothing to read. Once the L2s are back and every line has
    reached Kafka, no TAILDIR problem is named."""
    tiers = own_deployment(slot=5)
    web1, web2 = (agent for agent in tiers.agents if agent.tier == "l1")
    raw = yaml.safe_load((tmp_path / "pipeline.yaml").read_text())
    raw["health"] = {"taildir_max_lag_mb": 0.1}
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(raw))
    tiers.stop(tiers.pipeline.flume.l2_agents)
    host = HostFiles(host=web1.name, log_dir=web1.log_dir)
    lines = [f"10.9.0.{i % 250},7,{int(time.time()) - 60},60 {web1.name}#{i}".encode() for i in range(30_000)]
    capacity, batch = tiers.pipeline.flume.memory_channel_capacity, tiers.pipeline.flume.batch_size

    def channel_size() -> float:
        return read_metrics(web1.name, tiers.metrics_url(web1.name)).total("CHANNEL", "ChannelSize")

    host.append("app.log", lines[:1_234])
    wait_for(lambda: channel_size() == 1_234, timeout=120, what=f"{web1.name}'s channel to take the first lines")
    host.append("app.log", lines[1_234:])
    size = (web1.log_dir / "app.log").stat().st_size
    # then whole batches only, until the next one no longer fits
    full = 1_234 + (capacity - 1_234) // batch * batch
    assert capacity - batch < full < capacity
    wait_for(lambda: channel_size() == full, timeout=300, what=f"{web1.name}'s channel to fill")
    # TAILDIR saves its position every 3 s: once saved after the channel filled, it stays (the file's
    # own times compared, not this process's clock: the suite also runs with the clock moved)
    saved_when_full = web1.position_file.stat().st_mtime_ns
    wait_for(lambda: web1.position_file.stat().st_mtime_ns > saved_when_full, timeout=60,
             what=f"{web1.name} to save its position after its channel filled")
    with pytest.raises(AirflowException) as error:  # no repair: the L2s stay down, as they were stopped
        FlumeHealthCheckOperator(task_id="health_check", interval_seconds=5, repair=False).execute({})
    named = {line.split(": ", 2)[1]: line for line in str(error.value).splitlines()[1:]
             if line.startswith(web1.name + ":") or line.startswith(web2.name + ":")}
    assert {"taildir_not_reading", "taildir_behind"} <= named.keys(), str(error.value)
    saved = json.loads(web1.position_file.read_text())[0]["pos"]
    assert 0 < saved < size
    assert f"{size - saved:,} bytes wait" in named["taildir_not_reading"]
    assert f"app.log at {saved:,} of {size:,}" in named["taildir_not_reading"]
    assert not any(line.startswith(f"{web2.name}: taildir") for line in str(error.value).splitlines())

    for name in tiers.pipeline.flume.l2_agents:
        tiers.start(name)
    tiers.wait_answering(tiers.pipeline.flume.l2_agents)
    read_topic(stack.config.kafka_bootstrap, tiers.pipeline.topics[0].name, want_ids=set(host.expected))
    wait_for(lambda: json.loads(web1.position_file.read_text())[0]["pos"] == size, timeout=120,
              what=f"{web1.name} to save its position at the end of its file")
    try:
        FlumeHealthCheckOperator(task_id="health_check", interval_seconds=1).execute({})
    except AirflowException as again:  # the L2s' restart may still show in their counters: not TAILDIR
        assert "taildir" not in str(again)
