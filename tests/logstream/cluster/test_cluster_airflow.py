"""The project's DAGs, unchanged, on Airflow's own host of the cluster: its metadata database on the
postgres host, its connections made of the cluster's addresses alone. The storm_topology DAG deploys
the security_stats topology onto the Supervisor hosts (with the environment they fetched, named by
the Nimbus connection), waits until it runs and checks its health; the counts in the result store
equal the test's own; storm_topology_kill removes it."""

from __future__ import annotations

import json
import random
import re

import pytest
from cluster_hosts import component_processes
from produced_and_landed import end_offsets, kafka_values, landed, produce
from confluent_kafka.admin import AdminClient
from log_times import hour_start_ago
from online_stats import TopologyRun, wait_for

from logstream.cluster.airflow import airflow_users, cluster_airflow_env
from logstream.hadoop_consumer.offset_store import OffsetStore
from logstream.kafka_topics import ensure_topic
from logstream.pipeline_config import load_pipeline_config
from logstream.stack.airflow_api import AirflowApi

BASE = hour_start_ago(480)


@pytest.fixture
def airflow(cluster) -> AirflowApi:
    return AirflowApi(cluster.airflow_url, username="operator", password=airflow_users(cluster)["operator"])


def test_airflow_reaches_the_cluster_only_at_its_hosts_addresses(cluster):
    env = cluster_airflow_env(cluster)
    connections = {key: json.loads(value) for key, value in env.items() if key.startswith("AIRFLOW_CONN_")}
    addresses = {host.address for host in cluster.hosts.values()}
    for key, connection in connections.items():
        text = json.dumps(connection)
        assert "127.0.0.1" not in text and "localhost" not in text, key
        if connection.get("host"):
            assert connection["host"] in addresses, key
    assert "@" + cluster.postgres.host.address + ":" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    for component in cluster.airflow:
        assert component.process.pid() in cluster.airflow_host.pids(), component.name


def test_the_storm_topology_dag_runs_the_topology_on_the_supervisor_hosts(cluster, airflow, recovery):
    partitions = load_pipeline_config().topics[0].partitions
    topic = f"t_cairflow_{random.randrange(16**8):08x}"
    ensure_topic(AdminClient({"bootstrap.servers": cluster.kafka_bootstrap}), topic, partitions, replication=3)
    name = f"security_stats_{topic}"  # the DAG's name for the topic's topology
    run = TopologyRun(cluster.kafka_bootstrap, cluster.postgres.dsn("logstream"), name, base=BASE,
                      partitions=partitions, topic=topic)
    run.produce_round(5_000)
    nimbus = cluster.nimbus.nimbus()
    try:
        for dag_id in ("storm_topology", "storm_topology_kill"):
            airflow.wait_for_dag(dag_id, timeout=300)
            airflow.unpause(dag_id)
        run_id = airflow.trigger("storm_topology", {"topic": topic, "max_lag_records": 1_000_000})
        assert airflow.wait_for_run("storm_topology", run_id, timeout=900) == "success", \
            airflow.task_instances("storm_topology", run_id)
        run.check_exact(timeout=600)
        hosts = nimbus.executor_hosts(name)
        supervisors = {s.host.address: s for s in cluster.supervisors}
        assert hosts and set(hosts) <= set(supervisors), hosts
        assert any(component_processes(supervisors[address].host, cluster.topology_env_path) for address in hosts)
        recovery(f"Airflow on {cluster.airflow_host.name}: storm_topology deployed {name} onto "
                 f"{', '.join(supervisors[a].host.name for a in hosts)}; "
                 f"{sum(run.expected.end_offsets.values()):,} records counted exactly")

        killed = airflow.trigger("storm_topology_kill", {"topic": topic, "wait_secs": 0})
        assert airflow.wait_for_run("storm_topology_kill", killed, timeout=300) == "success"
        wait_for(lambda: nimbus.topology_id(name) is None, 120, f"topology {name} gone")
    finally:
        if nimbus.topology_id(name) is not None:
            nimbus.kill(name, wait_secs=0)


def test_the_flume_tiers_dag_publishes_the_configurations_the_agents_fetch(cluster, airflow, recovery):
    """The agents on the front-end and collector hosts run what ZooKeeper holds (Flume's ``-z``),
    the flume_tiers DAG on the airflow host publishes there and writes into no host's files, and a
    changed configuration reaches a running agent without a restart (its pid unchanged)."""
    from dataclasses import replace

    from kazoo.client import KazooClient

    from logstream.flume.metrics import AgentUnreachable, read_metrics
    from logstream.flume.zookeeper_config import published_config
    from logstream.stack.flume import FlumeTiers

    tiers = cluster.flume_agents[0].tiers
    before = {agent.name: tiers.process(agent.name).pid() for agent in tiers.agents}
    for agent in tiers.agents:
        argv = open(f"/proc/{before[agent.name]}/cmdline", "rb").read().split(b"\0")
        assert [b"-z", cluster.zookeeper_hosts.encode(), b"-p", tiers.config_path.encode()] == \
            argv[argv.index(b"-z"):argv.index(b"-z") + 4], agent.name

    # a line on each front end, so that each L1's TAILDIR has a position to read (it saves an empty file before)
    for agent in tiers.agents:
        if agent.tier == "l1":
            with (agent.log_dir / "app.log").open("ab") as handle:
                handle.write(f"10.9.0.2,4,{BASE},300\n".encode())
    wait_for(lambda: all(agent.position_file.exists() and agent.position_file.stat().st_size > 2
                         for agent in tiers.agents if agent.tier == "l1"), 120, "each L1 saving its TAILDIR position")

    airflow.wait_for_dag("flume_tiers", timeout=300)
    airflow.unpause("flume_tiers")
    run_id = airflow.trigger("flume_tiers")
    state = airflow.wait_for_run("flume_tiers", run_id, timeout=600)
    tasks = {ti["task_id"]: ti["state"] for ti in airflow.task_instances("flume_tiers", run_id)}
    assert tasks["deploy_agents"] == "success", tasks
    assert state == "success", tasks
    # the health check read each front end's TAILDIR position over its host's SSH (the path the hosts
    # show their files at is empty on the airflow host: read there, it says "not readable here")
    health = airflow.task_log("flume_tiers", run_id, "health_check")
    l1_names = [agent.name for agent in tiers.agents if agent.tier == "l1"]
    lag_line = next(line for line in health.splitlines() if line.startswith("TAILDIR lag"))
    assert all(re.search(rf"\b{name} [0-9,]+ bytes", lag_line) for name in l1_names), lag_line
    client = KazooClient(hosts=cluster.zookeeper_hosts)
    client.start(timeout=30)
    try:
        for agent in tiers.agents:
            assert published_config(client, tiers.config_path, agent.name) == agent.properties, agent.name
    finally:
        client.stop()
        client.close()

    # a new channel capacity for the front ends' L1s: published, fetched, applied in place (the agent
    # stops and starts its components, its metrics server too, within its one process)
    l1 = next(agent for agent in tiers.agents if agent.tier == "l1")

    def channel_capacity() -> int | None:
        try:
            return read_metrics(l1.name, tiers.metrics_url(l1.name)).total("CHANNEL", "ChannelCapacity")
        except AgentUnreachable:
            return None

    capacity = tiers.pipeline.flume.memory_channel_capacity
    changed = FlumeTiers(stack=tiers.stack, home=tiers.home, avro_base_port=tiers.avro_base_port,
                         metrics_base_port=tiers.metrics_base_port, agent_hosts=tiers.agent_hosts,
                         kafka_bootstrap=tiers.kafka_bootstrap, config_zookeeper=tiers.config_zookeeper,
                         config_path=tiers.config_path,
                         pipeline=replace(tiers.pipeline, flume=replace(tiers.pipeline.flume,
                                                                        memory_channel_capacity=capacity + 1)))
    try:
        assert set(changed.publish()) == {agent.name for agent in tiers.agents if agent.tier == "l1"}
        wait_for(lambda: channel_capacity() == capacity + 1, 120, f"{l1.name} reconfigured from ZooKeeper")
    finally:
        tiers.publish()
    wait_for(lambda: channel_capacity() == capacity, 120, f"{l1.name} back to its configuration")
    assert {agent.name: tiers.process(agent.name).pid() for agent in tiers.agents} == before
    recovery(f"Flume: flume_tiers on {cluster.airflow_host.name} published {len(tiers.agents)} configurations to "
             f"ZooKeeper; {l1.name} on its host applied a changed one without a restart")


def test_the_hadoop_consumer_dag_lands_the_pipelines_topic_in_the_clusters_hdfs_once(cluster, cluster_kafka,
                                                                                    cluster_hdfs, airflow, recovery):
    """The hadoop_consumer DAG as scheduled (the pipeline's own topic and HDFS root), run by the
    cluster's Airflow: afterwards each partition's offset.dat stands at Kafka's end, and the records
    the topic holds (this test's among them) are in the cluster's HDFS once each: entries as they
    are, malformed ones in quarantine."""
    pipeline = load_pipeline_config()
    topic = pipeline.topics[0]
    ensure_topic(AdminClient(cluster_kafka), topic.name, topic.partitions, replication=3)
    sent = produce(cluster_kafka, topic.name, 3_000, partitions=topic.partitions, seed=random.randrange(2**32))
    ends = end_offsets(cluster_kafka, topic.name, topic.partitions)  # nothing else writes this topic meanwhile

    airflow.wait_for_dag("hadoop_consumer", timeout=300)
    airflow.unpause("hadoop_consumer")
    try:
        run_id = airflow.trigger("hadoop_consumer")
        state = airflow.wait_for_run("hadoop_consumer", run_id, timeout=600)
        tasks = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in airflow.task_instances("hadoop_consumer", run_id)}
        assert state == "success", tasks
    finally:
        airflow.pause("hadoop_consumer")  # its schedule is for an operator to turn on, not for the tests
    store = OffsetStore(cluster_hdfs, pipeline.hdfs_root)
    assert [store.read(topic.name, partition).offset for partition in range(topic.partitions)] == ends
    held = landed(cluster_hdfs, pipeline.hdfs_root, topic.name)
    assert held == kafka_values(cluster_kafka, topic.name, ends)
    assert all(held[value] >= count for value, count in sent.items())
    recovery(f"Airflow on {cluster.airflow_host.name}: hadoop_consumer landed the {sum(held.values()):,} records of "
             f"{topic.name} ({sum(sent.values()):,} of this test's) in the cluster's HDFS once each; "
             f"offset.dat at Kafka's end {ends}")


def test_the_line_gaps_dag_reads_the_front_ends_files_over_their_ssh(cluster, airflow):
    """flume_line_gaps on the airflow host finds the pipeline's host files through each front end's
    sshd, at the path the hosts show them at (empty on the airflow host itself)."""
    tiers = cluster.flume_agents[0].tiers
    pipeline = tiers.pipeline
    frontend = pipeline.flume.hosts[0]
    log_dir = tiers.placement.hosts_root / frontend.log_dir
    with (log_dir / "app.log").open("ab") as handle:
        handle.write(f"10.9.0.1,3,{BASE},300\n".encode())
    pattern = re.compile(frontend.file_pattern)
    own_count = sum(1 for host in pipeline.flume.hosts if host.topic == frontend.topic
                    for path in (tiers.placement.hosts_root / host.log_dir).iterdir()
                    if path.is_file() and pattern.fullmatch(path.name))
    on_hosts = cluster.host_view_path / tiers.home.name / frontend.log_dir / "app.log"
    assert not on_hosts.exists()  # here (as on the airflow host) the hosts' path is empty

    airflow.wait_for_dag("flume_line_gaps", timeout=300)
    airflow.unpause("flume_line_gaps")
    try:
        run_id = airflow.trigger("flume_line_gaps")
        state = airflow.wait_for_run("flume_line_gaps", run_id, timeout=600)
    finally:
        airflow.pause("flume_line_gaps")
    task_id = f"refill_gaps_{frontend.topic}"
    log = airflow.task_log("flume_line_gaps", run_id, task_id)
    assert state == "success", log[-3000:]
    assert f"{frontend.topic}: {own_count} host files: 0 gap(s)" in log, log[-3000:]
    assert str(on_hosts) in log  # the accounting names each file by its path on its host
