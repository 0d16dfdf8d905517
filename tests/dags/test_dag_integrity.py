"""Every DAG in dags/ loads without import errors, and every task is bounded in time and alerts on failure."""

from __future__ import annotations

from pathlib import Path

from airflow.dag_processing.dagbag import DagBag

from notifiers.failure_alert import SUBJECT
from notifiers.incident_alert import OPENED, RECOVERED, IncidentAlert
from operators.run_watcher import RunWatcherOperator

DAGS = Path(__file__).parents[2] / "dags"


def test_dags_load_without_errors_and_alert_on_failure():
    bag = DagBag(str(DAGS))
    assert bag.import_errors == {}
    assert {"hadoop_consumer", "hadoop_consumer_replay", "hive_reports", "flume_tiers", "flume_tiers_health",
            "exactly_once_check", "reconcile", "result_store_retention", "services_health"} <= set(bag.dag_ids)
    for dag in bag.dags.values():
        for task in dag.tasks:
            if isinstance(task, RunWatcherOperator):  # it only marks the run failed: the failed tasks alert
                assert not task.on_failure_callback
                assert all(isinstance(up, RunWatcherOperator) is False for up in task.upstream_list)
                continue
            callbacks = task.on_failure_callback or []
            subjects = [getattr(callback, "subject", None) for callback in callbacks]
            incidents = [callback.event for callback in callbacks if isinstance(callback, IncidentAlert)]
            # a failure alert per failure, or (the periodic checks) one per incident with its recovery
            assert SUBJECT in subjects or incidents == [OPENED], f"{dag.dag_id}.{task.task_id} sends no failure alert"
            if incidents:
                recovered = [c.event for c in task.on_success_callback or [] if isinstance(c, IncidentAlert)]
                assert recovered == [RECOVERED], f"{dag.dag_id}.{task.task_id} never says its incident recovered"


def test_every_task_has_an_execution_timeout():
    bag = DagBag(str(DAGS))
    unbounded = [f"{dag.dag_id}.{task.task_id}" for dag in bag.dags.values() for task in dag.tasks
                 if task.execution_timeout is None]
    assert unbounded == []


def test_a_second_topic_in_the_pipeline_gets_its_scheduled_topology_line_gaps_and_checks(tmp_path, monkeypatch):
    """Every topic is served on the schedules, none only by a manual trigger (the scheduled
    storm_topology DAG used to serve the first topic alone)."""
    import yaml

    from logstream.pipeline_config import DEFAULT_PATH

    raw = yaml.safe_load(Path(DEFAULT_PATH).read_text())
    raw["topics"].append({"name": "vpn_logs", "partitions": 2})
    raw["flume"]["hosts"].append({"name": "vpn1", "topic": "vpn_logs", "log_dir": "hosts/vpn1"})
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("LOGSTREAM_PIPELINE_CONFIG", str(tmp_path / "pipeline.yaml"))

    bag = DagBag(str(DAGS))

    assert bag.import_errors == {}
    topics = [topic["name"] for topic in raw["topics"]]
    topologies = bag.dags["storm_topologies"]
    assert type(topologies.timetable).__name__ != "NullTimetable"  # on a schedule
    for topic in topics:
        assert {f"{topic}.deploy", f"{topic}.wait_until_running", f"{topic}.health_check"} <= set(topologies.task_ids)
        assert topologies.get_task(f"{topic}.deploy").topic == topic
        # the daemons first; a daemon started again (that task failed) stops no topic's deploy
        assert topologies.get_task(f"{topic}.deploy").upstream_task_ids == {"storm_daemons"}
        assert topologies.get_task(f"{topic}.deploy").trigger_rule == "all_done"
        # Airflow 3.3 can fail a deferred try whose trigger fires at once: the wait has a second try
        assert topologies.get_task(f"{topic}.wait_until_running").retries >= 1
    assert {f"refill_gaps_{topic}" for topic in topics} <= set(bag.dags["flume_line_gaps"].task_ids)
    assert {f"check_{topic}" for topic in topics} <= set(bag.dags["exactly_once_check"].task_ids)
    assert type(bag.dags["storm_topology"].timetable).__name__ == "NullTimetable"  # on demand only


def test_a_failing_partition_is_one_incident_and_the_lag_check_runs_beside_it():
    """A partition that failed every run mailed once per run (24 an hour) while the lag check, whose
    upstream had failed, never ran."""
    bag = DagBag(str(DAGS))
    dag = bag.dags["hadoop_consumer"]
    for topic in {task.task_id.split("_", 1)[1] for task in dag.tasks if task.task_id.startswith("consume_")}:
        consume = dag.get_task(f"consume_{topic}")
        incidents = [c for c in consume.partial_kwargs["on_failure_callback"] if isinstance(c, IncidentAlert)]
        assert [c.incident for c in incidents] == ["{{ ti.dag_id }}.{{ ti.task_id }}.partition_{{ ti.map_index }}"]
        assert not [c for c in consume.partial_kwargs["on_failure_callback"] if getattr(c, "subject", None) == SUBJECT]
        assert dag.get_task(f"lag_{topic}").trigger_rule == "all_done"
