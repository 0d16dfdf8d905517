"""When the live statistics are stale: records wait in Kafka and no flush came for two flush intervals.

A quiet topic (nothing new in Kafka) is not stale however old its last flush; a burst arriving
after a quiet hour is not stale either until the topology has had two flush intervals to count it.
So the judge remembers, per topic, since when it has seen records waiting with the same last flush.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# no flush for this many flush intervals while records wait: stale
STALE_AFTER_FLUSHES = 2


def waiting_records(ends: dict[int, int], starts: dict[int, int], stored: dict[int, int]) -> int:
    """Records in Kafka past the stored offsets (a partition with none stored: from its log start;
    records Kafka's retention deleted are not waiting)."""
    return sum(max(end - max(stored.get(partition, starts.get(partition, 0)), starts.get(partition, 0)), 0)
               for partition, end in ends.items())


@dataclass
class StalenessJudge:
    """Per topic, since when records have waited under the same last flush (``now``: the reader's clock)."""

    flush_every_seconds: float
    _waiting_since: dict[str, tuple[datetime | None, datetime]] = field(default_factory=dict)

    @property
    def after_seconds(self) -> float:
        return STALE_AFTER_FLUSHES * self.flush_every_seconds

    def judge(self, topic: str, *, now: datetime, last_update: datetime | None, waiting: int) -> dict[str, Any] | None:
        """``{"since": last flush (ISO, or None: never), "waiting": records}`` when stale, else None."""
        if waiting <= 0:
            self._waiting_since.pop(topic, None)
            return None
        seen = self._waiting_since.get(topic)
        if seen is None or seen[0] != last_update:  # new waiting, or a flush came since: the clock starts now
            seen = self._waiting_since[topic] = (last_update, now)
        if (now - seen[1]).total_seconds() < self.after_seconds:
            return None
        return {"since": last_update.isoformat() if last_update is not None else None, "waiting": waiting}


def kafka_offsets(config: dict[str, Any], topics: Iterable[str], timeout: float = 5.0,
                  ) -> dict[str, tuple[dict[int, int], dict[int, int]]]:
    """Per topic that exists in Kafka, its partitions' (log starts, ends). Blocking (confluent_kafka);
    asks only for topics the broker lists, so none is created by asking."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**config, "group.id": "logstream-dashboard", "enable.auto.commit": False,
                         "allow.auto.create.topics": False})
    try:
        listed = consumer.list_topics(timeout=timeout).topics
        offsets = {}
        for topic in topics:
            if topic not in listed or listed[topic].error is not None:
                continue
            starts, ends = {}, {}
            for partition in listed[topic].partitions:
                starts[partition], ends[partition] = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout, cached=False)
            offsets[topic] = (starts, ends)
        return offsets
    finally:
        consumer.close()
