"""The project's DAGs, unchanged, on Airflow's own host of the cluster: its metadata database on the
postgres host, its connections made of the cluster's addresses alone. The storm_topology DAG deploys
the security_stats topology onto the Supervisor hosts (with the environment they fetched, named by
the Nimbus connection), waits until it runs and checks its health; the counts in the result store
equal the test's own; storm_topology_kill removes it."""

from __future__ import annotations

import json
import random

import pytest
from cluster_hosts import component_processes
from confluent_kafka.admin import AdminClient
from log_times import hour_start_ago
from online_stats import TopologyRun, wait_for

from logstream.cluster.airflow import airflow_users, cluster_airflow_env
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
