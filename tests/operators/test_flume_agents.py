"""The deploy task on the stack's Flume agents: a pipeline file that cannot be rendered fails the task
with a message naming each problem, and nothing is written or restarted."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from airflow.exceptions import AirflowException

from logstream.pipeline_config import DEFAULT_PATH
from operators.flume_agents import DeployFlumeAgentsOperator


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
