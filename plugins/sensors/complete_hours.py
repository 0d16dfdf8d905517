"""Waiting for the hours a hive_reports run reports to be complete in HDFS."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook
from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook
from airflow.sdk import BaseSensorOperator, PokeReturnValue
from confluent_kafka import KafkaException

from hooks.webhdfs import BoundedWebHDFSHook
from logstream.hadoop_consumer.offset_store import OffsetStore
from logstream.kafka_topics import offsets_at_time
from logstream.log_hours.completeness import LATENESS_ELAPSED, how_complete, read_offsets
from logstream.log_hours.hours import HOUR, hours_from_events, hours_in_interval, parse_hour_key
from logstream_assets import logs_asset
from logstream.incidents import IncidentRecords
from notifiers.incomplete_hours import report_complete, report_incomplete


def run_hours(context, topic: str) -> list[str]:
    """The hours a run reports: its data interval's, or for an asset-triggered run (which has no
    data interval) the hours its HadoopConsumer events name."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None:
        return hours_in_interval(start, end)
    events = context.get("triggering_asset_events") or {}
    return hours_from_events((event.extra for event in events.get(logs_asset(topic), [])), topic)


class CompleteHoursSensor(BaseSensorOperator):
    """Wait until every hour of the run may be reported for ``topic``; return ``{key: how}``.

    ``how`` (see ``logstream.log_hours.completeness``): ``watermarks`` when each partition's
    offset.dat watermark has passed the hour's end, ``offsets`` when each partition's committed
    offset has reached Kafka's offset for the hour's end, ``lateness_elapsed`` when neither but
    ``lateness`` has passed since its end; such hours are reported anyway, and open the topic's
    incident (one e-mail naming them; a later run whose hours are all complete closes it with one
    more: ``notifiers/incomplete_hours.py``).

    :param topic: the Kafka topic
    :param hdfs_root: the HadoopConsumer's HDFS root (templated)
    :param partitions: the topic's partition count
    :param lateness: how long after an hour's end it is reported whatever the watermarks say
    :param webhdfs_conn_id: the WebHDFS connection
    :param kafka_config_id: the Kafka connection (offsets for the hours' ends)
    :param incident_records: where the incident is kept (default: the task's Airflow Variables)
    """

    template_fields: Sequence[str] = ("hdfs_root",)

    def __init__(
        self,
        *,
        topic: str,
        hdfs_root: str,
        partitions: int,
        lateness: timedelta,
        webhdfs_conn_id: str = BoundedWebHDFSHook.default_conn_name,
        kafka_config_id: str = KafkaBaseHook.default_conn_name,
        incident_records: IncidentRecords | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.hdfs_root = hdfs_root
        self.partitions = partitions
        self.lateness = lateness
        self.webhdfs_conn_id = webhdfs_conn_id
        self.kafka_config_id = kafka_config_id
        self.incident_records = incident_records

    def poke(self, context) -> PokeReturnValue:
        keys = run_hours(context, self.topic)
        client = BoundedWebHDFSHook(webhdfs_conn_id=self.webhdfs_conn_id).get_conn()
        offsets = read_offsets(OffsetStore(client, self.hdfs_root), self.topic, self.partitions)
        now = datetime.now(timezone.utc)
        how = {key: self._how_complete(key, offsets, now) for key in keys}
        waiting = [key for key, reason in how.items() if reason is None]
        if waiting:
            watermarks = {offset.partition: offset.watermark for offset in offsets}
            self.log.info("%s: hours %s not complete yet; watermarks by partition %s", self.topic, waiting, watermarks)
            return PokeReturnValue(is_done=False)
        self.log.info("%s: hours ready to report: %s", self.topic, how)
        overdue = sorted(key for key, reason in how.items() if reason == LATENESS_ELAPSED)
        if overdue:
            self.log.warning("%s: hours %s are reported incomplete: lateness elapsed", self.topic, overdue)
        try:
            if overdue:
                report_incomplete(context, topic=self.topic, hours=overdue, offsets=offsets, log=self.log,
                                  records=self.incident_records)
            else:
                report_complete(context, topic=self.topic, how=how, log=self.log, records=self.incident_records)
        except Exception as err:  # noqa: BLE001 - the hours are reported all the same
            # the incident is written only once its mail went out: the next run decides again
            self.log.error("%s: the incompleteness incident could not be updated (%s: %s); the next run tries again",
                           self.topic, type(err).__name__, err)
        return PokeReturnValue(is_done=True, xcom_value=how)

    def _how_complete(self, key: str, offsets, now: datetime) -> str | None:
        complete = partial(how_complete, key, offsets, partitions=self.partitions, now=now, lateness=self.lateness)
        reason = complete()
        hour_end = parse_hour_key(key) + HOUR
        if reason not in (None, LATENESS_ELAPSED) or now < hour_end:
            return reason
        # a quiet partition's watermark stays behind; Kafka's offsets tell quiet from late
        admin = KafkaAdminClientHook(kafka_config_id=self.kafka_config_id).get_conn
        try:
            end_offsets = offsets_at_time(admin, self.topic, self.partitions, int(hour_end.timestamp() * 1000))
        except KafkaException as err:
            # without Kafka's answer the watermarks and the lateness bound still decide
            self.log.warning("%s: no offsets from Kafka for the end of %s: %s", self.topic, key, err)
            return reason
        return complete(end_offsets=end_offsets)
