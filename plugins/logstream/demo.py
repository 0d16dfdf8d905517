"""The main job on the embedded local stack, end to end: ``python -m logstream demo``.

Starts the stack, produces generated security log entries (the last few hours, a few malformed)
into every configured topic, runs the HadoopConsumer DAG in Airflow to land them exactly once in
HDFS, and lets the Hive reports DAG (triggered by the consumer's asset events) report the
complete hours. Everything happens in the stack's Airflow: the UI shows each run and its logs.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import hdfs
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from logstream.hadoop_consumer.offset_store import OffsetStore
from logstream.kafka_topics import ensure_topic
from logstream.log_generator import LogGenerator
from logstream.pipeline_config import load_pipeline_config
from logstream.stack.airflow import users_file
from logstream.stack.airflow_api import AirflowApi
from logstream.stack.local_stack import LocalStack

HOURS_OF_LOGS = 3


def produce_logs(bootstrap: str, topic: str, count: int, *, start: int, end: int) -> int:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "compression.type": "lz4"})
    for record in LogGenerator(seed=int(start), bad_ratio=0.002).records(count, start=start, end=end):
        while True:
            try:
                # keyed by host, as a front-end's agent would: one host's entries stay in one partition
                producer.produce(topic, record.value, key=record.value.split(b",", 1)[0])
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(60)
    return count


def run(records_per_topic: int = 300_000, report=print) -> int:
    stack = LocalStack(report=report)
    seconds = stack.up()
    config = stack.config
    airflow = AirflowApi.for_stack(config)
    report(f"stack up in {seconds:.0f}s; Airflow UI: {airflow.base_url} (log in as {airflow.username}, "
           f"password in {users_file(config)}); live statistics: {airflow.base_url}/plugin/live")

    pipeline = load_pipeline_config()
    now = int(time.time())
    start = now - HOURS_OF_LOGS * 3600
    admin = AdminClient({"bootstrap.servers": config.kafka_bootstrap})
    for topic in pipeline.topics:
        report(ensure_topic(admin, topic.name, topic.partitions))
        produce_logs(config.kafka_bootstrap, topic.name, records_per_topic, start=start, end=now)
        report(f"produced {records_per_topic:,} generated entries into {topic.name} "
               f"(StartTime {datetime.fromtimestamp(start, timezone.utc):%H:%M} to "
               f"{datetime.fromtimestamp(now, timezone.utc):%H:%M} UTC, 0.2% malformed)")

    for dag_id in ("hadoop_consumer", "hive_reports"):
        airflow.wait_for_dag(dag_id)
        airflow.unpause(dag_id)
    since = datetime.now(timezone.utc)
    run_id = airflow.trigger("hadoop_consumer")
    report(f"triggered hadoop_consumer ({run_id}); watching it in Airflow ...")
    state = airflow.wait_for_run("hadoop_consumer", run_id)
    report(f"hadoop_consumer {run_id}: {state}")
    if state != "success":
        return 1

    client = hdfs.InsecureClient(f"http://{config.host}:{config.ports['hdfs_http']}", user="root")
    store = OffsetStore(client, pipeline.hdfs_root)
    for topic in pipeline.topics:
        for partition in store.list_partitions(topic.name):
            offset = store.read(topic.name, partition)
            report(f"  {pipeline.hdfs_root}/_offsets/{topic.name}/{partition}/offset.dat: offset={offset.offset} "
                   f"leader={offset.leader} watermark={datetime.fromtimestamp(offset.watermark, timezone.utc):%H:%M:%S}")
        hours = sorted(client.list(f"{pipeline.hdfs_root}/{topic.name}"))
        report(f"  {pipeline.hdfs_root}/{topic.name}: {', '.join(hours)}")

    report("waiting for the hive_reports run the consumer's asset event triggered ...")
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        triggered = [r for r in airflow.runs("hive_reports")
                     if r["run_type"] == "asset_triggered" and r["run_after"] >= since.isoformat()[:19]]
        done = [r for r in triggered if r["state"] in ("success", "failed")]
        if done:
            report(f"hive_reports {done[0]['dag_run_id']}: {done[0]['state']}")
            break
        time.sleep(5)
    else:
        report("hive_reports did not finish in 15 minutes; see the Airflow UI")
        return 1
    files = sorted(path for path in pipeline.reports_dir.rglob("*") if path.is_file() and path.stat().st_mtime >= since.timestamp())
    for path in files:
        report(f"  report file: {path}")
    report(f"Done. The HadoopConsumer keeps running every {pipeline.consumer.every_minutes} minutes and hive_reports "
           f"every hour; stop everything with `make stack-down`.")
    return 0 if done[0]["state"] == "success" else 1
