"""The hadoop_consumer DAG, run for real (dag.test) against the stack's Kafka and HDFS."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import hdfs
import pytest
import yaml
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from dag_runs import DAGS, register, run_dag
from log_times import HOUR, hour_name, hour_start_ago
from produced_and_landed import create_topic, drain, landed, produce

from logstream.hadoop_consumer.consumer import HadoopConsumer, split_point
from logstream.hadoop_consumer.hour_announcer import HourAnnouncer
from logstream.hdfs_layout import hour_dir, hour_partition, parse_batch_file_name, topic_dir

@pytest.fixture
def pipeline(stack, tmp_path, monkeypatch, unique_name):
    config = {
        "topics": [{"name": unique_name, "partitions": 2}],
        "hdfs_root": f"/tests/{unique_name}/logs",
        # batches of 1,500 records per partition: split, so the helper process runs inside the task
        "consumer": {"every_minutes": 5, "max_records": 100_000, "max_megabytes": 64, "split_from_records": 1000},
        "lateness_minutes": 30,
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    # this DAG's tasks depend on the configuration: the stack's dag-processor would write the default
    # configuration's version over the test's in the middle of the run, and the scheduler (which
    # updates the runs of paused DAGs too, with the latest version of the DAG: the dags folder has no
    # bundle versions) would then mark the test's task instances "removed". Both come back after the
    # test's configuration is gone from the environment (they inherit this process's environment).
    with stack.service("airflow").without("dag-processor", "scheduler"):
        with monkeypatch.context() as patch:
            patch.setenv("LOGSTREAM_PIPELINE_CONFIG", str(path))
            yield config
        # dag.test() (Airflow 3.3) writes every DAG file of the bundle as this test's configuration
        # makes it (apache/airflow#64884's re-sync), hive_reports with this test's topic among them:
        # the default versions go back before the scheduler does, or it creates runs of the test's
        # versions until the dag-processor has parsed the files again (a later test's hive_reports
        # runs failed on a task of this test's topic)
        register(DAGS)


@pytest.fixture
def boundary() -> int:
    """An hour's start 61 s to 61 min before now. The entries run from two hours before it to half an
    hour after: hours "22" and "23" (before it) close by the watermark a minute (the collection delay)
    after their end, which has passed; hour "00" (from it) stays open, its lateness (30 min) not
    passed; the hour of now (quarantined records, by their Kafka timestamp) has not ended. A record
    moves the watermark no further than its Kafka timestamp plus 5 minutes: entries of hours still
    ahead of the clock would close nothing (issue #20)."""
    return hour_start_ago(0, now=time.time() - 61)


def asset_event_extras(run_id: str, dag_id: str = "hadoop_consumer") -> list[dict]:
    """The (topic, hours) of the run's asset events; their announcement ids are checked to be the task's."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter_by(source_dag_id=dag_id, source_run_id=run_id).all()
        for event in events:
            assert event.extra["announcement"].startswith(f"{dag_id}/{run_id}/{event.source_task_id}/")
        return [{"topic": event.extra["topic"], "hours": event.extra["hours"]} for event in events]


def task_states(dag_run) -> Counter:
    return Counter((ti.task_id, ti.state) for ti in dag_run.get_task_instances())


def test_consumer_dag_lands_everything_and_announces_complete_hours(stack, pipeline, unique_name, boundary):
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    client = hdfs.InsecureClient(f"http://{stack.config.host}:{stack.config.ports['hdfs_http']}", user="root")
    root = pipeline["hdfs_root"]
    create_topic(kafka, unique_name, 2)
    # three hours of entries ending past the boundary: hours 22 and 23 close, hour 00 stays open
    sent = produce(kafka, unique_name, 3000, partitions=2, start=boundary - 2 * HOUR, end=boundary + HOUR // 2)

    first = run_dag(DAGS / "hadoop_consumer.py", "hadoop_consumer")
    assert first.state == "success"
    states = task_states(first)
    assert states[(f"consume_{unique_name}", "success")] == 2
    assert states[(f"announce_hours_{unique_name}", "success")] == 1
    assert landed(client, root, unique_name) == sent
    consume = f"consume_{unique_name}"
    for partition in (0, 1):
        batch = first.get_task_instance(consume, map_index=partition).xcom_pull(task_ids=consume,
                                                                                 map_indexes=partition)
        # the task's helper process landed the upper part of the range, in files named by its offsets
        ranges = {parse_batch_file_name(path.rsplit("/", 1)[1])[2:] for path in batch["files"]}
        assert ranges == {(0, split_point(0, 1500) - 1), (split_point(0, 1500), 1499)}
    hours = first.get_task_instance(f"announce_hours_{unique_name}").xcom_pull(task_ids=f"announce_hours_{unique_name}")
    # quarantined records count in the hour of their Kafka timestamp, which has not ended: not announced yet
    closed = {hour_name(boundary - 2 * HOUR), hour_name(boundary - HOUR)}
    assert quarantine_hours(client, root, unique_name) and not quarantine_hours(client, root, unique_name) & closed
    assert hours == sorted(closed)
    assert asset_event_extras(first.run_id) == [{"topic": unique_name, "hours": hours}]

    # nothing new: batches land nothing, no hour to announce, so no asset event
    second = run_dag(DAGS / "hadoop_consumer.py", "hadoop_consumer")
    assert second.state == "success"
    assert task_states(second)[(f"announce_hours_{unique_name}", "skipped")] == 1
    assert asset_event_extras(second.run_id) == []
    assert landed(client, root, unique_name) == sent


def quarantine_hours(client, root: str, topic: str) -> set[str]:
    """The hours that hold quarantined records of ``topic``, as HDFS lists them."""
    base = f"{root}/_quarantine/{topic}"
    if client.status(base, strict=False) is None:
        return set()
    return {f"{day[3:]}T{hour[5:]}" for day in client.list(base) for hour in client.list(f"{base}/{day}")}


def test_restatements_are_announced_when_a_sibling_fails_and_after_a_replay(stack, pipeline, unique_name,
                                                                          boundary):
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    client = hdfs.InsecureClient(f"http://{stack.config.host}:{stack.config.ports['hdfs_http']}", user="root")
    root = pipeline["hdfs_root"]
    announce = f"announce_hours_{unique_name}"
    create_topic(kafka, unique_name, 2)
    sent = produce(kafka, unique_name, 2000, partitions=2, bad_ratio=0.0, start=boundary - 2 * HOUR,
                   end=boundary + HOUR // 2)
    first = run_dag(DAGS / "hadoop_consumer.py", "hadoop_consumer")
    assert first.state == "success"
    hour_22, hour_23 = hour_name(boundary - 2 * HOUR), hour_name(boundary - HOUR)
    assert first.get_task_instance(announce).xcom_pull(task_ids=announce) == [hour_22, hour_23]

    # partition 1 now fails (retention deleted records it has not landed); partition 0 gets late
    # records of hour 22, already announced: a restatement
    producer = Producer({**kafka, "linger.ms": 5})
    late = [f"10.7.0.{i},3,{boundary - 2 * HOUR + 60 + i},60".encode() for i in range(50)]
    for value in late:
        producer.produce(unique_name, value, partition=0)
    for i in range(100):
        producer.produce(unique_name, f"10.7.1.{i},3,{boundary},60".encode(), partition=1)
    assert producer.flush(30) == 0
    admin = AdminClient(kafka)
    for future in admin.delete_records([TopicPartition(unique_name, 1, 1050)]).values():
        future.result()

    second = run_dag(DAGS / "hadoop_consumer.py", "hadoop_consumer")
    assert second.state == "failed"
    states = task_states(second)
    assert (states[(f"consume_{unique_name}", "success")], states[(f"consume_{unique_name}", "failed")]) == (1, 1), states
    assert states[(announce, "success")] == 1
    assert second.get_task_instance(announce).xcom_pull(task_ids=announce) == [hour_22]
    assert asset_event_extras(second.run_id) == [{"topic": unique_name, "hours": [hour_22]}]
    assert landed(client, root, unique_name) == sent + Counter(late)

    # partition 0's files of hour 23 lost, then replayed: the restored hour is announced by the replay DAG
    lost_folder = hour_dir(topic_dir(root, unique_name), *hour_partition(boundary - HOUR))
    for name in client.list(lost_folder):
        if parse_batch_file_name(name)[1] == 0:
            client.delete(f"{lost_folder}/{name}")
    assert landed(client, root, unique_name) != sent + Counter(late)
    replayed = run_dag(DAGS / "hadoop_consumer.py", "hadoop_consumer_replay",
                       run_conf={"topic": unique_name, "start": "2026-01-01T00:00:00", "end": "2100-01-01T00:00:00"})
    assert replayed.state == "success"
    assert replayed.get_task_instance(announce).xcom_pull(task_ids=announce) == [hour_23]
    assert asset_event_extras(replayed.run_id, "hadoop_consumer_replay") == [
        {"topic": unique_name, "hours": [hour_23]}]
    assert landed(client, root, unique_name) == sent + Counter(late)


def test_hours_of_an_announcement_that_never_went_out_are_announced_again(stack, pipeline, unique_name,
                                                                         boundary):
    """The announcer saves its state before Airflow sends the task's asset event: a task that dies in
    between once lost its hours for good. Without the carried hours in HourAnnouncer.announce
    (``unconfirmed``), the DAG's run below finds nothing new and skips."""
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    client = hdfs.InsecureClient(f"http://{stack.config.host}:{stack.config.ports['hdfs_http']}", user="root")
    root = pipeline["hdfs_root"]
    create_topic(kafka, unique_name, 2)
    produce(kafka, unique_name, 2000, partitions=2, bad_ratio=0.0, start=boundary - 2 * HOUR,
            end=boundary + HOUR // 2)
    drain(HadoopConsumer(kafka, client, root, zookeeper_hosts=f"{stack.config.host}:{stack.config.ports['zookeeper']}"),
          unique_name, 2)
    # what an announce task does before it dies: the state saved, no event sent
    died = HourAnnouncer(client, root, unique_name, 2).announce(
        now=datetime.now(timezone.utc), lateness=timedelta(minutes=pipeline["lateness_minutes"]),
        announcement_id="a task that died")
    hour_22, hour_23 = hour_name(boundary - 2 * HOUR), hour_name(boundary - HOUR)
    assert died.hours == [hour_22, hour_23]

    again = run_dag(DAGS / "hadoop_consumer.py", "hadoop_consumer")
    assert again.state == "success"
    assert asset_event_extras(again.run_id) == [{"topic": unique_name, "hours": [hour_22, hour_23]}]
    # the event went out: the next run has nothing to announce
    after = run_dag(DAGS / "hadoop_consumer.py", "hadoop_consumer")
    assert task_states(after)[(f"announce_hours_{unique_name}", "skipped")] == 1
    assert asset_event_extras(after.run_id) == []
