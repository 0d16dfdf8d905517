"""Task logic of the HadoopConsumer DAG: initialise offsets, move one partition, announce complete hours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any

from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook
from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from hooks.hadoop_consumer import HadoopConsumerHook
from logstream.hadoop_consumer.consumer import BatchLimits, HadoopConsumer, LeaseLost
from logstream.hadoop_consumer.hour_announcer import HourAnnouncer
from logstream.hadoop_consumer.replay import WHOLE_PERIOD, replay
from logstream_assets import logs_asset


class _HadoopConsumerTask(BaseOperator):
    """What the HadoopConsumer's operators share: the topic, the HDFS root and the two connections."""

    template_fields: Sequence[str] = ("topic", "hdfs_root")

    def __init__(self, *, topic: str, hdfs_root: str, kafka_config_id: str = KafkaBaseHook.default_conn_name,
                 webhdfs_conn_id: str = WebHDFSHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.hdfs_root = hdfs_root
        self.kafka_config_id = kafka_config_id
        self.webhdfs_conn_id = webhdfs_conn_id

    @cached_property
    def hook(self) -> HadoopConsumerHook:
        return HadoopConsumerHook(hdfs_root=self.hdfs_root, kafka_config_id=self.kafka_config_id,
                                  webhdfs_conn_id=self.webhdfs_conn_id)

    @property
    def consumer(self) -> HadoopConsumer:
        return self.hook.get_conn


    def on_kill(self) -> None:
        """End the batch's ZooKeeper session: the partition's lease is free at once, and the batch's
        next step fails its lease check instead of writing on."""
        if "hook" in self.__dict__:
            self.consumer.cancel()


class HadoopConsumerInitOperator(_HadoopConsumerTask):
    """The paper's DataGenerator step: an offset.dat at -1 for every partition that has none.

    Idempotent; runs before every round so that partitions added to the topic are picked up.
    Returns the partition ids, which the consuming task is mapped over.

    :param topic: the Kafka topic.
    :param hdfs_root: the HDFS folder of logs, quarantine and offsets.
    """

    def execute(self, context: Any) -> list[int]:
        offsets = self.consumer.initialize(self.topic)
        for offset in offsets:
            self.log.info("%s[%d]: offset %d, leader %s, watermark %d", offset.topic, offset.partition, offset.offset,
                          offset.leader, offset.watermark)
        return [offset.partition for offset in offsets]


class HadoopConsumerOperator(_HadoopConsumerTask):
    """One exactly-once micro-batch of one topic-partition from Kafka into HDFS.

    :param topic: the Kafka topic.
    :param partition: the partition (the DAG maps this task over the topic's partitions).
    :param hdfs_root: the HDFS folder of logs, quarantine and offsets.
    :param max_records: the most records one run moves; the rest is the next run's.
    :param max_megabytes: the most record bytes one run moves.
    :param split_from_records: a run of at least this many records fetches the upper part of its
        range in a second process, at the same time (see logstream/hadoop_consumer/split_fetch.py).
    :param start_time_max_age_hours: an entry whose StartTime is more than this before its record's
        Kafka timestamp is quarantined (``implausible_start_time``).
    :param start_time_max_lead_hours: the same, after the Kafka timestamp.
    :param watermark_max_lead_seconds: a record moves the watermark at most this far past its Kafka
        timestamp (a host whose clock runs ahead cannot announce an hour early).
    """

    def __init__(self, *, partition: int, max_records: int = BatchLimits.max_records,
                 max_megabytes: int = BatchLimits.max_bytes // 2**20, split_from_records: int = BatchLimits.split_from,
                 start_time_max_age_hours: float = BatchLimits.start_time_max_age / 3600,
                 start_time_max_lead_hours: float = BatchLimits.start_time_max_lead / 3600,
                 watermark_max_lead_seconds: int = BatchLimits.watermark_max_lead, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.partition = partition
        self.watermark_max_lead_seconds = watermark_max_lead_seconds
        self.max_records = max_records
        self.max_megabytes = max_megabytes
        self.split_from_records = split_from_records
        self.start_time_max_age_hours = start_time_max_age_hours
        self.start_time_max_lead_hours = start_time_max_lead_hours

    def execute(self, context: Any) -> dict[str, Any]:
        limits = BatchLimits(max_records=self.max_records, max_bytes=self.max_megabytes * 2**20,
                             split_from=self.split_from_records,
                             start_time_max_age=int(self.start_time_max_age_hours * 3600),
                             start_time_max_lead=int(self.start_time_max_lead_hours * 3600),
                             watermark_max_lead=int(self.watermark_max_lead_seconds))
        try:
            result = self.consumer.run_batch(self.topic, int(self.partition), limits)
        except LeaseLost as lost:  # another run is moving this partition: its work, not a failure
            raise AirflowSkipException(str(lost)) from lost
        if result.quarantined:
            self.log.warning("%d record(s) quarantined with reasons %s", result.quarantined, result.quarantine_reasons)
        return {
            "partition": result.partition,
            "start_offset": result.start_offset,
            "next_offset": result.next_offset,
            "records": result.records,
            "quarantined": result.quarantined,
            "lag": result.lag,
            "files": result.files,
        }


class AnnounceCompleteHoursOperator(_HadoopConsumerTask):
    """Emits an asset event for the topic's hours that became complete (or were restated) since last time.

    What changed is read from HDFS (hour folders newer than last time, quarantine included), so
    hours landed by any task, a replay, or a batch whose sibling partitions failed are announced:
    the task runs whatever its upstream tasks did (``trigger_rule="all_done"``). The event's extra is
    ``{"topic": ..., "hours": ["YYYY-MM-DDTHH", ...], "announcement": id}``; with nothing to announce
    the task is skipped, and a skipped task emits no event. The announcer's state is saved before
    the event goes out: the next run reads the asset's events (the asset is an inlet too) and
    announces again the hours of an announcement whose event never went out (the task died).

    :param topic: the Kafka topic.
    :param hdfs_root: the HDFS folder of logs, quarantine and offsets.
    :param partitions: the topic's partition count.
    :param lateness_minutes: how long after its end an hour is complete even if a partition is quiet.
    """

    def __init__(self, *, partitions: int, lateness_minutes: float = 30, **kwargs: Any) -> None:
        asset = logs_asset(kwargs["topic"])
        super().__init__(inlets=[asset], outlets=[asset], trigger_rule=kwargs.pop("trigger_rule", "all_done"), **kwargs)
        self.partitions = partitions
        self.lateness_minutes = lateness_minutes

    def execute(self, context: Any) -> list[str]:
        asset = logs_asset(self.topic)
        events = context["inlet_events"][asset]

        def emitted(announcement_id: str, since: str) -> bool:
            return any((event.extra or {}).get("announcement") == announcement_id for event in events.after(since))

        ti = context["ti"]
        announcement_id = f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{ti.try_number}"
        announcer = HourAnnouncer(self.hook.hdfs_client(), self.hdfs_root, self.topic, self.partitions)
        announcement = announcer.announce(now=datetime.now(timezone.utc),
                                          lateness=timedelta(minutes=self.lateness_minutes),
                                          announcement_id=announcement_id, emitted=emitted)
        self.log.info("complete: %s; restated: %s; announced before but never sent: %s; still pending: %s",
                      announcement.complete or "none", announcement.restated or "none",
                      announcement.carried or "none", announcement.pending or "none")
        if not announcement.hours:
            raise AirflowSkipException("no hour became complete or was restated")
        context["outlet_events"][asset].extra = {"topic": self.topic, "hours": announcement.hours,
                                                 "announcement": announcement_id}
        return announcement.hours


class HadoopConsumerReplayOperator(_HadoopConsumerTask):
    """Re-lands a past period (by Kafka timestamp) of every partition, writing only what HDFS lacks.

    :param topic: the Kafka topic.
    :param hdfs_root: the HDFS folder of logs, quarantine and offsets.
    :param start: the period's start (ISO 8601, UTC unless it says otherwise).
    :param end: the period's end (exclusive).
    :param start_time_max_age_hours: the pipeline's StartTime bounds, as the batches apply them.
    :param start_time_max_lead_hours: the same, after the Kafka timestamp.
    """

    template_fields: Sequence[str] = (*_HadoopConsumerTask.template_fields, "start", "end")

    def __init__(self, *, start: str, end: str,
                 start_time_max_age_hours: float = BatchLimits.start_time_max_age / 3600,
                 start_time_max_lead_hours: float = BatchLimits.start_time_max_lead / 3600, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start = start
        self.end = end
        self.start_time_max_age_hours = start_time_max_age_hours
        self.start_time_max_lead_hours = start_time_max_lead_hours

    def execute(self, context: Any) -> dict[int, int]:
        start_ms, end_ms = (_epoch_ms(moment) for moment in (self.start, self.end))
        if start_ms >= end_ms:
            raise ValueError(f"the replay period is empty: {self.start} is not before {self.end}")
        consumer = self.consumer
        restored = {}
        limits = replace(WHOLE_PERIOD, start_time_max_age=int(self.start_time_max_age_hours * 3600),
                         start_time_max_lead=int(self.start_time_max_lead_hours * 3600))
        for partition in consumer.partitions(self.topic):
            restored[partition] = replay(consumer, self.topic, partition, start_ms, end_ms, limits).restored
        self.log.info("restored records per partition: %s", restored)
        return restored


def _epoch_ms(moment: str) -> int:
    parsed = datetime.fromisoformat(moment)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)
