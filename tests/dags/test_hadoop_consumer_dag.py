"""The hadoop_consumer DAG, run for real (dag.test) against the stack's Kafka and HDFS."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import hdfs
import pytest
import yaml
from dag_runs import DAGS, run_dag

sys.path.insert(0, str(Path(__file__).parents[1] / "logstream" / "hadoop_consumer"))
from produced_and_landed import DAY_BOUNDARY, HOUR, create_topic, landed, produce  # noqa: E402

from logstream.hadoop_consumer.consumer import split_point  # noqa: E402
from logstream.hdfs_layout import parse_batch_file_name  # noqa: E402

@pytest.fixture
def pipeline(tmp_path, monkeypatch, unique_name):
    config = {
        "topics": [{"name": unique_name, "partitions": 2}],
        "hdfs_root": f"/tests/{unique_name}/logs",
        # batches of 1,500 records per partition: split, so the helper process runs inside the task
        "consumer": {"every_minutes": 5, "max_records": 100_000, "max_megabytes": 64, "split_from_records": 1000},
        "lateness_minutes": 30,
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("LOGSTREAM_PIPELINE_CONFIG", str(path))
    return config


def asset_event_extras(run_id: str) -> list[dict]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter_by(source_dag_id="hadoop_consumer", source_run_id=run_id).all()
        return [event.extra for event in events]


def task_states(dag_run) -> Counter:
    return Counter((ti.task_id, ti.state) for ti in dag_run.get_task_instances())


def test_consumer_dag_lands_everything_and_announces_complete_hours(stack, pipeline, unique_name):
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    client = hdfs.InsecureClient(f"http://{stack.config.host}:{stack.config.ports['hdfs_http']}", user="root")
    root = pipeline["hdfs_root"]
    create_topic(kafka, unique_name, 2)
    # three hours of entries ending past the day boundary: hours 22 and 23 close, hour 00 stays open
    sent = produce(kafka, unique_name, 3000, partitions=2, start=DAY_BOUNDARY - 2 * HOUR, end=DAY_BOUNDARY + HOUR // 2)

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
    assert hours == ["2026-11-28T22", "2026-11-28T23"]
    assert asset_event_extras(first.run_id) == [{"topic": unique_name, "hours": hours}]

    # nothing new: batches land nothing, no hour to announce, so no asset event
    second = run_dag(DAGS / "hadoop_consumer.py", "hadoop_consumer")
    assert second.state == "success"
    assert task_states(second)[(f"announce_hours_{unique_name}", "skipped")] == 1
    assert asset_event_extras(second.run_id) == []
    assert landed(client, root, unique_name) == sent
