"""Event-time panes of one Kafka partition, in plain Python (the bolt is glue around this).

Event time is an entry's StartTime; a pane is ``pane_seconds`` of it, named by its start. The
partition's watermark is the largest StartTime seen so far in offset order; a pane is *closed* once
the watermark reaches its end. A record of a closed pane still counts (and is marked late) while
the watermark is less than ``allowed_lateness_seconds`` past the pane's end; after that it is
*expired*: counted on the pane's total as expired, never in its records. Records that are not
entries, or whose StartTime is implausible for their Kafka timestamp (the HadoopConsumer's rule,
:func:`~logstream.log_entry.valid_start_time`), are counted per reason and minute of their Kafka
timestamp and move no watermark.

Everything depends only on the partition's records in offset order and the watermark the last
flush stored, so a replay from a stored offset classifies every record exactly as the first run did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from logstream.line_ids import COPY
from logstream.log_entry import (
    IMPLAUSIBLE_START_TIME,
    LAST_START_TIME,
    InvalidEntry,
    StartTimeBounds,
    as_lines,
    parse_entry,
    plain_entry_fields,
)

_NOT_PLAIN = (b"", b"", b"")
_LAST_MINUTE = LAST_START_TIME - LAST_START_TIME % 60


def _minute_of(kafka_timestamp_ms: int) -> int:
    """The minute a bad record is counted under: its Kafka timestamp's, kept within what the result
    store's timestamps can hold (a record may have no timestamp, or one past year 9999)."""
    return min(max(kafka_timestamp_ms // 60_000 * 60, 0), _LAST_MINUTE)


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

    Records come in runs of consecutive offsets (:meth:`add_lines`, :meth:`add_values`) and are
    classified one by one in offset order; what they add is kept per (pane, Configuration ID as
    written) and (pane, host as bytes) and turned into :class:`PaneDeltas` by :meth:`take`, so the per-record
    work is a tuple and a comparison or two.

    :param pane_seconds: the length of a pane in seconds of event time.
    :param allowed_lateness_seconds: how long after its end a pane still takes records.
    :param watermark: the partition's watermark stored with its offset (None: no record yet).
    :param start_time_bounds: how far a StartTime may lie from its record's Kafka timestamp.
    :param watermark_max_lead: a record moves the watermark at most this far past its Kafka timestamp
        (seconds; None: no bound), so a host whose clock runs ahead closes no pane early.
    """

    def __init__(self, *, pane_seconds: int, allowed_lateness_seconds: int, watermark: int | None,
                 start_time_bounds: StartTimeBounds = StartTimeBounds(), watermark_max_lead: int | None = None) -> None:
        self.pane_seconds = pane_seconds
        self.allowed_lateness_seconds = allowed_lateness_seconds
        self.watermark = watermark
        self.start_time_bounds = start_time_bounds
        self.watermark_max_lead = watermark_max_lead
        self._start_deltas()
        # panes with records that the watermark has not passed yet, to report when it does
        self._open_panes: set[int] = set()

    def _start_deltas(self) -> None:
        """Empty what :meth:`take` hands over (the watermark and the open panes go on)."""
        # (pane, Configuration ID as written) -> records, late ones included; (pane, host as bytes) -> records
        self._config_counts: Counter = Counter()
        self._host_counts: Counter = Counter()
        self._config_late: Counter = Counter()
        self._host_late: Counter = Counter()
        self._expired: Counter = Counter()  # pane -> records
        self._bad: Counter = Counter()  # (minute, reason) -> records
        self._closes: list[PaneClose] = []

    def add_lines(self, *, first_offset: int, lines: bytes, kafka_timestamps_ms: Sequence[int]) -> None:
        """Count records ``first_offset``, ``first_offset + 1``, ...: ``lines`` is each one followed by a
        newline (the spout sends a batch so when none of its records holds one)."""
        fields = plain_entry_fields(lines)
        if len(fields) != len(kafka_timestamps_ms):
            raise ValueError(f"{len(fields)} lines and {len(kafka_timestamps_ms)} timestamps")
        self._add(first_offset, fields, lambda: lines.split(b"\n"), kafka_timestamps_ms)

    def add_copies(self, *, kafka_timestamps_ms: Sequence[int]) -> None:
        """Count records that are copies of lines counted before (``line_ids.py``): bad, reason ``copy``,
        per minute of their Kafka timestamp, as the HadoopConsumer quarantines them; nothing else."""
        self._bad.update((_minute_of(stamp), COPY) for stamp in kafka_timestamps_ms)

    def add_values(self, *, first_offset: int, values: list[bytes], kafka_timestamps_ms: Sequence[int]) -> None:
        """Count records ``first_offset``, ``first_offset + 1``, ... given as their raw values (any bytes)."""
        if len(values) != len(kafka_timestamps_ms):
            raise ValueError(f"{len(values)} values and {len(kafka_timestamps_ms)} timestamps")
        lines = as_lines(values)
        if lines is not None:
            fields = plain_entry_fields(lines)
        else:  # some records hold a newline (not entries, whatever else they are): line by line
            fields = [_NOT_PLAIN if b"\n" in value else plain_entry_fields(value + b"\n")[0] for value in values]
        self._add(first_offset, fields, lambda: values, kafka_timestamps_ms)

    def _add(self, first_offset: int, fields, values_of: Callable[[], list[bytes]],
             kafka_timestamps_ms: Sequence[int]) -> None:
        pane_seconds, lateness, lead = self.pane_seconds, self.allowed_lateness_seconds, self.watermark_max_lead
        watermark = -1 if self.watermark is None else self.watermark  # StartTimes are >= 0
        open_panes = self._open_panes
        # the watermark closes a pane when it reaches this (the earliest open pane's end)
        next_close = min(open_panes) + pane_seconds if open_panes else None
        configs, hosts, late_configs, late_hosts, expired = [], [], [], [], []
        values = None
        # StartTimes plausible for every record of the run (its stamps span seconds, the bounds days);
        # only a StartTime outside them is judged against its own record's stamp
        window_of = self.start_time_bounds.window
        safe_from, safe_to = self.start_time_bounds.window_for_all(kafka_timestamps_ms) or (1, 0)
        for index, (host, config_id, start) in enumerate(fields):
            if start:
                start_time = int(start)
            else:
                if values is None:
                    values = values_of()
                try:
                    entry = parse_entry(values[index])
                except InvalidEntry as err:
                    self._bad[(_minute_of(kafka_timestamps_ms[index]), err.reason)] += 1
                    continue
                host, config_id, start_time = entry.host.encode("ascii"), b"%d" % entry.config_id, entry.start_time
            if not safe_from <= start_time <= safe_to:
                window = window_of(kafka_timestamps_ms[index])
                if window is None or not window[0] <= start_time <= window[1]:
                    self._bad[(_minute_of(kafka_timestamps_ms[index]), IMPLAUSIBLE_START_TIME)] += 1
                    continue
            pane = start_time - start_time % pane_seconds
            pane_end = pane + pane_seconds
            if watermark < pane_end:
                configs.append((pane, config_id))
                hosts.append((pane, host))
                if pane not in open_panes:
                    open_panes.add(pane)
                    if next_close is None or pane_end < next_close:
                        next_close = pane_end
            elif watermark < pane_end + lateness:
                configs.append((pane, config_id))
                hosts.append((pane, host))
                late_configs.append((pane, config_id))
                late_hosts.append((pane, host))
            else:
                expired.append(pane)
            if start_time > watermark:
                if lead is not None:  # no further than the broker's clock plus the lead
                    start_time = min(start_time, kafka_timestamps_ms[index] // 1000 + lead)
                    if start_time <= watermark:
                        continue
                watermark = start_time
                if next_close is not None and watermark >= next_close:
                    next_close = self._close_panes(watermark, first_offset + index, kafka_timestamps_ms[index])
        self.watermark = None if watermark < 0 else watermark
        self._config_counts.update(configs)
        self._host_counts.update(hosts)
        self._config_late.update(late_configs)
        self._host_late.update(late_hosts)
        self._expired.update(expired)

    def _close_panes(self, watermark: int, offset: int, kafka_timestamp_ms: int) -> int | None:
        """Close the panes the watermark passed; the next pane end that closes one, if any is open."""
        closed = sorted(pane for pane in self._open_panes if pane + self.pane_seconds <= watermark)
        for pane in closed:
            self._open_panes.discard(pane)
            self._closes.append(PaneClose(pane, offset, kafka_timestamp_ms))
        return min(self._open_panes) + self.pane_seconds if self._open_panes else None

    def take(self) -> PaneDeltas:
        """The deltas counted since the last call; the counter goes on from its watermark."""
        deltas = PaneDeltas(bad_records=self._bad, pane_expired=self._expired, closes=self._closes)
        for (pane, config_id), records in self._config_counts.items():
            deltas.config_counts[(pane, int(config_id))] += records  # "007" and "7" are one Configuration ID
            deltas.pane_records[pane] += records
        for (pane, config_id), records in self._config_late.items():
            deltas.config_late[(pane, int(config_id))] += records
            deltas.pane_late[pane] += records
        for (pane, host), records in self._host_counts.items():
            deltas.host_counts[(pane, host.decode("ascii"))] = records
        for (pane, host), records in self._host_late.items():
            deltas.host_late[(pane, host.decode("ascii"))] = records
        self._start_deltas()
        return deltas
