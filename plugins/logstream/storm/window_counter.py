"""Event-time panes of one Kafka partition, in plain Python (the bolt is glue around this).

Event time is an entry's StartTime; a pane is ``pane_seconds`` of it, named by its start. The
partition's watermark is the largest StartTime seen so far in offset order; a pane is *closed* once
the watermark reaches its end. A record of a closed pane still counts (and is marked late) while
the watermark is less than ``allowed_lateness_seconds`` past the pane's end; after that it is
*expired*: counted on the pane's total as expired, never in its records. Records that are not
entries are counted per reason and minute of their Kafka timestamp.

Everything depends only on the partition's records in offset order and the watermark the last
flush stored, so a replay from a stored offset classifies every record exactly as the first run did.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from logstream.log_entry import InvalidEntry, parse_entry


@dataclass(frozen=True)
class PaneClose:
    """A pane the watermark passed: the record that moved it past the pane's end."""

    pane_start: int
    offset: int
    kafka_timestamp_ms: int


@dataclass
class PaneDeltas:
    """What a run of records adds to the result store; keys are epoch seconds."""

    config_counts: Counter = field(default_factory=Counter)  # (pane_start, config_id) -> records
    config_late: Counter = field(default_factory=Counter)
    host_counts: Counter = field(default_factory=Counter)  # (pane_start, host) -> records
    host_late: Counter = field(default_factory=Counter)
    pane_records: Counter = field(default_factory=Counter)  # pane_start -> records
    pane_late: Counter = field(default_factory=Counter)
    pane_expired: Counter = field(default_factory=Counter)
    bad_records: Counter = field(default_factory=Counter)  # (minute_start, reason) -> records
    closes: list[PaneClose] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Records these deltas cover: valid, expired and bad."""
        return sum(self.pane_records.values()) + sum(self.pane_expired.values()) + sum(self.bad_records.values())


class WindowCounter:
    """Counts one partition's records into panes; :meth:`take` hands over what was counted since.

    :param pane_seconds: the length of a pane in seconds of event time.
    :param allowed_lateness_seconds: how long after its end a pane still takes records.
    :param watermark: the partition's watermark stored with its offset (None: no record yet).
    """

    def __init__(self, *, pane_seconds: int, allowed_lateness_seconds: int, watermark: int | None) -> None:
        self.pane_seconds = pane_seconds
        self.allowed_lateness_seconds = allowed_lateness_seconds
        self.watermark = watermark
        self.deltas = PaneDeltas()
        # panes with records that the watermark has not passed yet, to report when it does
        self._open_panes: set[int] = set()

    def add(self, *, offset: int, value: bytes, kafka_timestamp_ms: int) -> None:
        deltas = self.deltas
        try:
            entry = parse_entry(value)
        except InvalidEntry as err:
            minute = kafka_timestamp_ms // 60_000 * 60
            deltas.bad_records[(minute, err.reason)] += 1
            return
        start_time = entry.start_time
        pane = start_time - start_time % self.pane_seconds
        pane_end = pane + self.pane_seconds
        watermark = self.watermark
        if watermark is None or watermark < pane_end:
            self._count(deltas, pane, entry.config_id, entry.host)
            self._open_panes.add(pane)
        elif watermark < pane_end + self.allowed_lateness_seconds:
            self._count(deltas, pane, entry.config_id, entry.host)
            deltas.config_late[(pane, entry.config_id)] += 1
            deltas.host_late[(pane, entry.host)] += 1
            deltas.pane_late[pane] += 1
        else:
            deltas.pane_expired[pane] += 1
        if watermark is None or start_time > watermark:
            self.watermark = start_time
            self._close_panes(offset, kafka_timestamp_ms)

    @staticmethod
    def _count(deltas: PaneDeltas, pane: int, config_id: int, host: str) -> None:
        deltas.config_counts[(pane, config_id)] += 1
        deltas.host_counts[(pane, host)] += 1
        deltas.pane_records[pane] += 1

    def _close_panes(self, offset: int, kafka_timestamp_ms: int) -> None:
        closed = [pane for pane in self._open_panes if pane + self.pane_seconds <= self.watermark]
        for pane in sorted(closed):
            self._open_panes.discard(pane)
            self.deltas.closes.append(PaneClose(pane, offset, kafka_timestamp_ms))

    def take(self) -> PaneDeltas:
        """The deltas counted since the last call; the counter goes on from its watermark."""
        deltas, self.deltas = self.deltas, PaneDeltas()
        return deltas
