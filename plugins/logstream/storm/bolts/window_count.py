"""Counts batches of records into event-time panes and commits them with their offsets, exactly once.

Tuples of one partition always reach the same task (fields grouping on topic and partition). For
each partition the bolt keeps a :class:`WindowCounter` and ``expected``, the first offset it has not
counted; a tuple that starts past ``expected`` is failed (something before it is missing, the spout
rewinds), offsets below ``expected`` are dropped (a replay). At every tick, and whenever
``flush_records`` records wait, each partition's deltas go to the result store in one transaction
guarded by the stored offset (:meth:`ResultStore.apply`); only then are its tuples acked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import psycopg2
from streamparse import Bolt

from logstream.results.store import Flush, PostgresResultStore
from logstream.storm.topology_config import ComponentSettings
from logstream.storm.window_counter import WindowCounter


@dataclass
class PartitionState:
    counter: WindowCounter
    flushed: int  # the stored next offset: where the next flush starts
    expected: int  # the first offset not counted yet
    last_offset: int = -1
    records: int = 0
    tuples: list[Any] = field(default_factory=list)


class WindowCountBolt(Bolt):
    outputs: list[str] = []
    auto_ack = False
    auto_fail = False

    def initialize(self, storm_conf: dict[str, Any], context: dict[str, Any]) -> None:
        self.settings = ComponentSettings.from_storm_conf(storm_conf)
        self.store = PostgresResultStore.from_dsn(self.settings.results_dsn)
        self.partitions: dict[tuple[str, int], PartitionState] = {}
        self.counted = 0
        self.report_at = time.monotonic() + 30

    def _state(self, topic: str, partition: int) -> PartitionState:
        key = (topic, partition)
        state = self.partitions.get(key)
        if state is None:
            position = self.store.position(topology=self.settings.topology, topic=topic, partition=partition)
            if position is None:
                raise LookupError(f"no stored position for {topic}/{partition}: the spout creates it before reading")
            counter = WindowCounter(pane_seconds=self.settings.pane_seconds,
                                    allowed_lateness_seconds=self.settings.allowed_lateness_seconds,
                                    watermark=position.watermark, start_time_bounds=self.settings.start_time_bounds)
            state = self.partitions[key] = PartitionState(counter, position.next_offset, position.next_offset)
        return state

    def process(self, tup: Any) -> None:
        topic, partition, from_offset, next_offset, records, timestamp_steps = tup.values
        try:
            state = self._state(topic, partition)
        except psycopg2.Error as err:
            self._database_error(err)
            self.fail(tup)
            return
        if next_offset <= state.expected:
            self.ack(tup)  # a replay of records already counted
            return
        if from_offset > state.expected:
            self.fail(tup)  # records before it are missing: the spout rewinds to this tuple's start
            return
        skip = state.expected - from_offset  # records of the tuple counted already (a partial replay)
        stamps = list(accumulate(timestamp_steps))[skip:]
        if isinstance(records, str):
            lines = records.encode("latin-1")
            if skip:
                lines = lines.split(b"\n", skip)[skip]
            state.counter.add_lines(first_offset=state.expected, lines=lines, kafka_timestamps_ms=stamps)
        else:
            values = [value.encode("latin-1") for value in records[skip:]]
            state.counter.add_values(first_offset=state.expected, values=values, kafka_timestamps_ms=stamps)
        state.records += next_offset - state.expected
        state.expected = next_offset
        state.last_offset = next_offset - 1
        state.tuples.append(tup)
        if state.records >= self.settings.flush_records:
            self._flush(topic, partition, state)

    def process_tick(self, tup: Any) -> None:
        for (topic, partition), state in list(self.partitions.items()):
            self._flush(topic, partition, state)
        self._report()

    def _flush(self, topic: str, partition: int, state: PartitionState) -> None:
        if state.expected == state.flushed:
            return
        flush = Flush(topology=self.settings.topology, topic=topic, partition=partition,
                      first_offset=state.flushed, next_offset=state.expected, last_offset=state.last_offset,
                      watermark=state.counter.watermark, deltas=state.counter.take())
        try:
            applied = self.store.apply(flush)
        except psycopg2.Error as err:
            self._database_error(err)
            return
        if not applied:
            # the stored offset is not where this flush starts (another copy of the bolt wrote it):
            # read the position again and have the spout send what is not counted
            self.logger.warning("flush of %s/%s [%s, %s) not applied: the stored offset moved",
                                topic, partition, flush.first_offset, flush.next_offset)
            self._forget(topic, partition)
            return
        for tup in state.tuples:
            self.ack(tup)
        self.counted += state.records
        state.flushed, state.records, state.tuples = state.expected, 0, []

    def _forget(self, topic: str, partition: int) -> None:
        """Drop what the partition counted but did not commit; its tuples fail, so the spout sends them again."""
        state = self.partitions.pop((topic, partition))
        for tup in state.tuples:
            self.fail(tup)

    def _database_error(self, err: Exception) -> None:
        self.logger.error("result store: %s; replaying every partition from its stored offset", str(err).strip())
        self.store.reset()
        for topic, partition in list(self.partitions):
            self._forget(topic, partition)

    def _report(self) -> None:
        now = time.monotonic()
        if now >= self.report_at:
            self.logger.info("counted %d records so far; partitions %s", self.counted,
                             {f"{t}/{p}": s.flushed for (t, p), s in self.partitions.items()})
            self.report_at = now + 30
