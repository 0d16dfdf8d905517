"""The local stack command: health of every service, clear errors, and data kept across restarts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import hdfs
import pytest
from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from logstream.stack.config import StackConfig
from logstream.stack.process import ManagedProcess, ServiceError
from logstream.stack.service import Service
from logstream.stack.zookeeper import ZooKeeper


def test_status_reports_every_service_healthy(stack):
    status = subprocess.run([sys.executable, "-m", "logstream", "stack", "status"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(stack.config.repo / "plugins")})
    assert status.returncode == 0, status.stdout + status.stderr
    lines = {line.split()[0]: line for line in status.stdout.splitlines()}
    assert set(lines) == {"postgres", "zookeeper", "kafka", "hdfs", "mail", "hive", "airflow", "storm", "flume", "keeper"}
    assert all(" ok " in line for line in lines.values()), status.stdout


def test_a_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        config = StackConfig(home=tmp_path, ports={**StackConfig().ports, "zookeeper": port})
        with pytest.raises(ServiceError, match=f"port {port} .* is taken .* LOGSTREAM_ZOOKEEPER_PORT"):
            ZooKeeper(config).check_ports_free()


def test_missing_java_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="java was not found: install a Java 17 JDK"):
        StackConfig(home=tmp_path).java()


def test_a_service_that_dies_reports_its_log_tail(tmp_path):
    process = ManagedProcess("doomed", tmp_path)
    process.start(["sh", "-c", "echo 'binding to port: Address already in use'; exit 3"])
    with pytest.raises(ServiceError, match="(?s)doomed exited before a healthy state.*Address already in use"):
        process.wait_until(lambda: False, timeout=10, what="a healthy state")


def test_restart_keeps_kafka_messages_hdfs_files_and_hive_tables(stack):
    name = f"t_restart_{uuid.uuid4().hex[:8]}"
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    admin = AdminClient(kafka)
    admin.create_topics([NewTopic(name, 1, 1)])[name].result()
    producer = Producer(kafka)
    for i in range(100):
        producer.produce(name, f"10.0.0.{i},1,1795839600,300".encode())
    assert producer.flush(120) == 0  # the new topic's leader may reach the producer late on a loaded machine
    client = hdfs.InsecureClient(f"http://127.0.0.1:{stack.config.ports['hdfs_http']}", user="root")
    client.write(f"/tests/{name}/part-0.log", data=b"10.0.0.1,7,1795839600,300\n10.0.0.2,7,1795839600,300\n")
    HiveServer2Hook().run(
        f"CREATE EXTERNAL TABLE {name} (host STRING, config_id BIGINT, start_time BIGINT, `interval` INT) "
        f"ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION '{stack.config.hdfs_uri}/tests/{name}'"
    )

    restarted: list[Service] = [stack.service(n) for n in ("hive", "hdfs", "kafka")]
    for service in restarted:
        service.stop()
    assert not any(service.is_running() for service in restarted)
    stack.up()

    consumer = Consumer({**kafka, "group.id": name, "enable.auto.commit": False})
    consumer.assign([TopicPartition(name, 0, 0)])
    values = []
    deadline = time.monotonic() + 120  # the restarted broker may answer the first fetches with nothing
    while len(values) < 100 and time.monotonic() < deadline:
        values += [message.value() for message in consumer.consume(100, timeout=1)]
    consumer.close()
    assert len(values) == 100
    with hdfs.InsecureClient(f"http://127.0.0.1:{stack.config.ports['hdfs_http']}", user="root").read(
            f"/tests/{name}/part-0.log") as reader:
        assert reader.read().count(b"\n") == 2
    assert HiveServer2Hook().get_records(f"SELECT count(*), sum(config_id) FROM {name}") == [(2, 14)]


def test_up_starts_the_dead_part_of_a_partly_running_service(stack):
    """An L2 agent killed: `stack up flume` starts it alone (before, it waited for the dead agent's
    metrics and failed with 'exited before serving metrics'), the other agents keep their processes."""
    from logstream.stack.local_stack import LocalStack

    flume = stack.service("flume")
    victim = flume.tiers.pipeline.flume.l2_agents[-1]
    others = {agent.name: flume.tiers.process(agent.name).pid() for agent in flume.tiers.agents if agent.name != victim}
    flume.tiers.kill(victim)
    said = []

    LocalStack(stack.config, only=["flume"], report=said.append).up()

    assert f"starting flume-{victim} (flume is partly running)" in said
    assert flume.tiers.answers(victim)
    assert {name: flume.tiers.process(name).pid() for name in others} == others


def test_down_stops_the_keeper_and_airflow_first_so_that_no_repair_starts_a_stopped_part_again(tmp_path):
    """The Flume health DAG restarts agents it finds dead. On the dev stack three of the four Flume
    agents outlived ``stack down`` (their pid files named them):
    Airflow, stopped after Flume, is the one thing that starts agents; the keeper starts Airflow and
    PostgreSQL. Only the order is checked here: each service's stop is recorded instead of run."""
    from logstream.stack.local_stack import LocalStack

    stack = LocalStack(StackConfig(home=tmp_path), report=lambda line: None)
    stopped: list[str] = []
    for service in stack.services:
        service.is_running = lambda: True
        service.stop = lambda name=service.name: stopped.append(name)
    stack.down()
    names = [service.name for service in stack.services]
    assert names.index("airflow") > names.index("postgres"), "the premise: Airflow starts after the databases"
    assert stopped == ["keeper", "airflow", *(name for name in reversed(names) if name not in ("keeper", "airflow"))]
