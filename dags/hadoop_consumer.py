"""Kafka -> HDFS, exactly once, every few minutes. Per topic: create or check the Kafka topic,
initialise offsets (new partitions included), one mapped micro-batch per partition, then announce
the hours that became complete or were restated (also after a replay)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param

from dag_defaults import default_args
from logstream.pipeline_config import load_pipeline_config
from operators.hadoop_consumer import (
    AnnounceCompleteHoursOperator,
    HadoopConsumerInitOperator,
    HadoopConsumerOperator,
    HadoopConsumerReplayOperator,
)
from operators.kafka_topic import EnsureKafkaTopicOperator
from notifiers.deadline_alert import deadline_alert
from notifiers.incident_alert import incident_callbacks
from operators.consumer_lag import CheckConsumerLagOperator
from operators.run_watcher import RunWatcherOperator

pipeline = load_pipeline_config()
# after a run, a partition this far behind Kafka means the consumer cannot keep up
MAX_LAG_RECORDS = 5 * pipeline.consumer.max_records

with DAG(
    dag_id="hadoop_consumer",
    description="Kafka to HDFS, exactly once (the paper's HadoopConsumer)",
    schedule=timedelta(minutes=pipeline.consumer.every_minutes),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # one consumer per partition at a time (see hadoop_consumer/DESIGN.md)
    default_args=default_args(),
    # a run that takes three of its intervals holds up the ones behind it: one e-mail for that run
    deadline=deadline_alert(within=3 * timedelta(minutes=pipeline.consumer.every_minutes),
                            what="the HadoopConsumer's batches (later runs wait behind it; HDFS falls behind Kafka)"),
    tags=["logstream", "offline"],
):
    for topic in pipeline.topics:
        kafka_topic = EnsureKafkaTopicOperator(task_id=f"kafka_topic_{topic.name}", topic=topic.name,
                                               partitions=topic.partitions)
        partitions = HadoopConsumerInitOperator(task_id=f"initialize_{topic.name}", topic=topic.name,
                                                hdfs_root=pipeline.hdfs_root)
        kafka_topic >> partitions
        batches = HadoopConsumerOperator.partial(
            task_id=f"consume_{topic.name}",
            topic=topic.name,
            hdfs_root=pipeline.hdfs_root,
            max_records=pipeline.consumer.max_records,
            max_megabytes=pipeline.consumer.max_megabytes,
            split_from_records=pipeline.consumer.split_from_records,
            start_time_max_age_hours=pipeline.consumer.start_time_max_age_hours,
            start_time_max_lead_hours=pipeline.consumer.start_time_max_lead_hours,
            watermark_max_lead_seconds=pipeline.consumer.watermark_max_lead_seconds,
            # a partition that fails run after run is one incident (one e-mail, one when it recovers),
            # not a mail per run; the map index is the partition's place in the list, its id
            **incident_callbacks("{{ ti.dag_id }}.{{ ti.task_id }}.partition_{{ ti.map_index }}"),
        ).expand(partition=partitions.output)
        # announces what HDFS holds, so it runs even when a partition's batch failed
        announce = AnnounceCompleteHoursOperator(
            task_id=f"announce_hours_{topic.name}",
            topic=topic.name,
            partitions=topic.partitions,
            hdfs_root=pipeline.hdfs_root,
            lateness_minutes=pipeline.lateness.total_seconds() / 60,
        )
        # ... and the run still shows the failure
        [batches, announce] >> RunWatcherOperator(task_id=f"batches_failed_{topic.name}")
        batches >> announce
        # one e-mail when partitions fall too far behind, one when they caught up (not one per run)
        # (it runs when a batch failed too: the other partitions' lag still counts)
        batches >> CheckConsumerLagOperator(task_id=f"lag_{topic.name}", topic=topic.name, batches=batches.output,
                                            max_lag_records=MAX_LAG_RECORDS, trigger_rule="all_done",
                                            **incident_callbacks("{{ ti.dag_id }}.{{ ti.task_id }}"))

with DAG(
    dag_id="hadoop_consumer_replay",
    description="Re-land a past period from Kafka into HDFS, writing only what HDFS lacks",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # one replay at a time (each partition's lease would serialize two anyway, the second waiting)
    max_active_runs=1,
    default_args=default_args(),
    params={
        "topic": Param(pipeline.topics[0].name, enum=[topic.name for topic in pipeline.topics]),
        "start": Param("2026-01-01T00:00:00", type="string", description="period start, ISO 8601, UTC"),
        "end": Param("2026-01-01T01:00:00", type="string", description="period end (exclusive)"),
    },
    tags=["logstream", "offline"],
):
    replay = HadoopConsumerReplayOperator(task_id="replay", topic="{{ params.topic }}", hdfs_root=pipeline.hdfs_root,
                                          start="{{ params.start }}", end="{{ params.end }}",
                                          start_time_max_age_hours=pipeline.consumer.start_time_max_age_hours,
                                          start_time_max_lead_hours=pipeline.consumer.start_time_max_lead_hours)
    for topic in pipeline.topics:  # the replayed topic's restored hours are restatements; the others skip
        replay >> AnnounceCompleteHoursOperator(task_id=f"announce_hours_{topic.name}", topic=topic.name,
                                                partitions=topic.partitions, hdfs_root=pipeline.hdfs_root,
                                                lateness_minutes=pipeline.lateness.total_seconds() / 60)
