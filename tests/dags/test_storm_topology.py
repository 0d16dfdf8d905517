"""The storm_topology DAGs through Airflow (dag.test) on the stack's Storm: deploy -> running ->
health check -> counts in the database -> kill; the health check fails, naming why, once it is down."""

from __future__ import annotations

import random

import pytest
from airflow.exceptions import AirflowException
from airflow.sdk.exceptions import TaskDeferred
from confluent_kafka.admin import AdminClient, NewTopic
from dag_runs import DAGS, run_dag
from log_times import hour_start_ago
from online_stats import Expected, ResultReader, produce, round_lines, wait_for

from operators.storm_topology import StormTopologyHealthOperator
from sensors.storm_topology import StormTopologyRunningSensor

PARTITIONS = 3


def test_deploy_health_check_and_kill_through_airflow(stack, unique_name):
    admin = AdminClient({"bootstrap.servers": stack.config.kafka_bootstrap})
    admin.create_topics(
        [NewTopic(unique_name, PARTITIONS, 1)])[unique_name].result()
    expected = Expected()
    rng = random.Random(unique_name)
    produce(stack.config.kafka_bootstrap, unique_name,
            {p: round_lines(rng, hour_start_ago(3), 5_000) for p in range(PARTITIONS)}, expected)
    name = f"security_stats_{unique_name}"
    nimbus = stack.service("storm").nimbus()

    deployed = run_dag(DAGS / "storm_topology.py", "storm_topology", run_conf={"topic": unique_name})
    try:
        assert deployed.state == "success"
        topology_id = deployed.get_task_instance("deploy").xcom_pull(task_ids="deploy")
        assert topology_id == nimbus.topology_id(name)
        assert deployed.get_task_instance("wait_until_running").xcom_pull(task_ids="wait_until_running") == topology_id
        health = deployed.get_task_instance("health_check").xcom_pull(task_ids="health_check")
        assert health["failed"] == 0 and 0 <= health["lag"] <= sum(expected.end_offsets.values())

        dsn = stack.service("postgres").dsn("logstream")
        results = ResultReader(dsn, name, unique_name)
        results.wait_for_offsets(expected.end_offsets, timeout=900)
        assert results.actual().totals == expected.totals
        # every tuple counted by Storm (stats sampled at 1.0): 5,000+ records per partition in ~1,000-record tuples
        stats = wait_for(lambda: (h := nimbus.health(name)) and h.acked >= 18 and h, 180, "acked tuples in Storm's stats")
        assert stats.failed == 0 and stats.components["log_entries"].emitted >= 18
        # a wait for a topology that runs already answers at once, without a trigger to race with
        assert StormTopologyRunningSensor(task_id="again", name=name).execute(context={}) == topology_id
    finally:
        killed = run_dag(DAGS / "storm_topology.py", "storm_topology_kill", run_conf={"topic": unique_name})
    assert killed.state == "success"
    wait_for(lambda: nimbus.topology_id(name) is None, 120, f"topology {name} gone from Nimbus")

    with pytest.raises(TaskDeferred):  # gone: the wait is the trigger's
        StormTopologyRunningSensor(task_id="again", name=name).execute(context={})
    check = StormTopologyHealthOperator(task_id="health_check", name=name, topic=unique_name, max_lag_records=0)
    with pytest.raises(AirflowException, match=f"topology {name} is not running on Nimbus"):
        check.execute(context={})
