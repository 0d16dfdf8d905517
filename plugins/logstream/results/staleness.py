"""When the live statistics are stale: records wait in Kafka and no flush came for two flush intervals.

A quiet topic (nothing new in Kafka) is not stale however old its last flush; a burst arriving
after a quiet hour is not stale either until the topology has had two flush intervals to count it.
So the judge remembers, per topic, since when it has seen records waiting with the same last flush.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from logstream.storm.health import partition_lag

# no flush for this many flush intervals while records wait: stale
STALE_AFTER_FLUSHES = 2
# and never sooner than this: a pause of a couple of seconds (a worker's GC, a rebalance) is not stale
STALE_AFTER_SECONDS_AT_LEAST = 10.0


def waiting_records(ends: dict[int, int], starts: dict[int, int], stored: dict[int, int]) -> int:
    """Records in Kafka past the stored offsets (the health check's lag; records Kafka's retention
    deleted are not waiting)."""
    kept = {partition: max(offset, starts.get(partition, 0)) for partition, offset in stored.items()}
    return sum(partition_lag(ends, kept, starts).values())


@dataclass
class StalenessJudge:
    """Per topic, since when records have waited under the same last flush (``now``: the reader's clock)."""

    flush_every_seconds: float
    _waiting_since: dict[str, tuple[datetime | None, datetime]] = field(default_factory=dict, init=False, repr=False)

    @property
    def after_seconds(self) -> float:
        return max(STALE_AFTER_FLUSHES * self.flush_every_seconds, STALE_AFTER_SECONDS_AT_LEAST)

    def judge(self, topic: str, *, now: datetime, last_update: datetime | None, waiting: int,
              record: bool = True) -> dict[str, Any] | None:
        """``{"since": last flush (ISO, or None: never), "waiting": records}`` when stale, else None.
        ``record=False``: judged by what was seen so far, without starting or ending a clock."""
        if waiting <= 0:
            if record:
                self._waiting_since.pop(topic, None)
            return None
        seen = self._waiting_since.get(topic)
        if seen is None or seen[0] != last_update:  # new waiting, or a flush came since: the clock starts now
            seen = (last_update, now)
            if record:
                self._waiting_since[topic] = seen
        if (now - seen[1]).total_seconds() < self.after_seconds:
            return None
        return {"since": last_update.isoformat() if last_update is not None else None, "waiting": waiting}
