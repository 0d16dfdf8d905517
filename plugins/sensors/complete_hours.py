"""Waiting for the hours a hive_reports run reports to be complete in HDFS."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook
from airflow.sdk import BaseSensorOperator, PokeReturnValue

from logstream.hive.completeness import hour_is_complete, read_offsets
from logstream.hive.hours import hours_from_events, hours_in_interval
from logstream_assets import logs_asset


def run_hours(context, topic: str) -> list[str]:
    """The hours a run reports: its data interval's, or for an asset-triggered run (which has no
    data interval) the hours its HadoopConsumer events name."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None:
        return hours_in_interval(start, end)
    events = context.get("triggering_asset_events") or {}
    return hours_from_events((event.extra for event in events.get(logs_asset(topic), [])), topic)


class CompleteHoursSensor(BaseSensorOperator):
    """Wait until every hour of the run is complete for ``topic``; return their keys (``YYYY-MM-DDTHH``).

    An hour is complete when each partition's offset.dat watermark has passed the hour's end, or
    ``lateness`` after its end (see ``logstream.hive.completeness``).

    :param topic: the Kafka topic
    :param hdfs_root: the HadoopConsumer's HDFS root (templated)
    :param partitions: the topic's partition count
    :param lateness: how long after an hour's end it is reported whatever the watermarks say
    :param webhdfs_conn_id: the WebHDFS connection
    """

    template_fields: Sequence[str] = ("hdfs_root",)

    def __init__(
        self,
        *,
        topic: str,
        hdfs_root: str,
        partitions: int,
        lateness: timedelta,
        webhdfs_conn_id: str = WebHDFSHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.hdfs_root = hdfs_root
        self.partitions = partitions
        self.lateness = lateness
        self.webhdfs_conn_id = webhdfs_conn_id

    def poke(self, context) -> PokeReturnValue:
        keys = run_hours(context, self.topic)
        client = WebHDFSHook(webhdfs_conn_id=self.webhdfs_conn_id).get_conn()
        offsets = read_offsets(client, self.hdfs_root, self.topic, self.partitions)
        now = datetime.now(timezone.utc)
        waiting = [
            key for key in keys
            if not hour_is_complete(key, offsets, partitions=self.partitions, now=now, lateness=self.lateness)
        ]
        if waiting:
            watermarks = {offset.partition: offset.watermark for offset in offsets}
            self.log.info("%s: hours %s not complete yet; watermarks by partition %s", self.topic, waiting, watermarks)
            return PokeReturnValue(is_done=False)
        self.log.info("%s: hours %s are complete", self.topic, keys)
        return PokeReturnValue(is_done=True, xcom_value=keys)
