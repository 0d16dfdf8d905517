"""Counts batches of records into event-time panes and commits them with their offsets, exactly once.

Tuples of one partition always reach the same task (fields grouping on topic and partition). For
each partition the bolt keeps a :class:`WindowCounter` and ``expected``, the first offset it has not
counted; a tuple that starts past ``expected`` makes the bolt read the stored offset again when it
holds nothing uncommitted (another copy may have committed past it), else it is failed (something
before it is missing, the spout rewinds); offsets below ``expected`` are dropped (a replay). At every tick, and whenever
``flush_records`` records wait, each partition's deltas go to the result store in one transaction
guarded by the stored offset (:meth:`ResultStore.apply`); only then are its tuples acked.

Records with line ids (``logstream/line_ids.py``) whose line was counted before (a copy Flume
re-sent) are counted as bad records of reason ``copy``, not in any pane; the byte ranges counted go
into the same transaction as the offset.
"""

from __future__ import annotations

import operator
import time
from itertools import compress
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from streamparse import Bolt

from logstream.line_ids import LineDedup, LineRanges, lines_of_runs
from logstream.results.store import Flush, open_store
from logstream.storm.topology_config import ComponentSettings
from logstream.storm.window_counter import WindowCounter


@dataclass
class PartitionState:
    counter: WindowCounter
    flushed: int  # the stored next offset: where the next flush starts
    expected: int  # the first offset not counted yet
    lines: LineDedup  # the lines counted: stored ones and this partition's since
    last_offset: int = -1
    records: int = 0
    tuples: list[Any] = field(default_factory=list)


class WindowCountBolt(Bolt):
    outputs: list[str] = []
    auto_ack = False
    auto_fail = False

    def initialize(self, storm_conf: dict[str, Any], context: dict[str, Any]) -> None:
        self.settings = ComponentSettings.from_storm_conf(storm_conf)
        self.store = open_store(self.settings.results_dsn)
        self.partitions: dict[tuple[str, int], PartitionState] = {}
        self.counted = 0
        self.copies = 0  # records not counted: copies of lines counted before
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
                                    watermark=position.watermark, start_time_bounds=self.settings.start_time_bounds,
                                    watermark_max_lead=self.settings.watermark_max_lead_seconds)
            state = self.partitions[key] = PartitionState(counter, position.next_offset, position.next_offset,
                                                          LineDedup(LineRanges.from_json(position.line_ranges)))
        return state

    def _state_or_fail(self, tup: Any, topic: str, partition: int) -> PartitionState | None:
        """The partition's state (read from the store if not held); None, the tuple failed, on a database error."""
        try:
            return self._state(topic, partition)
        except self.store.errors as err:
            self._database_error(err)
            self.fail(tup)
            return None

    def process(self, tup: Any) -> None:
        topic, partition, from_offset, next_offset, records, timestamp_steps, line_ids = tup.values
        state = self._state_or_fail(tup, topic, partition)
        if state is None:
            return
        if next_offset <= state.expected:
            self.ack(tup)  # a replay of records already counted
            return
        if from_offset > state.expected and not state.tuples:
            # nothing of ours is uncommitted: the stored offset may have moved on without us (another
            # copy of the bolt committed while this partition was elsewhere); read it again
            self.partitions.pop((topic, partition))
            state = self._state_or_fail(tup, topic, partition)
            if state is None:
                return
            if next_offset <= state.expected:
                self.ack(tup)
                return
        if from_offset > state.expected:
            self.fail(tup)  # records before it are missing: the spout rewinds to this tuple's start
            return
        skip = state.expected - from_offset  # records of the tuple counted already (a partial replay)
        stamps = list(accumulate(timestamp_steps))[skip:]
        if isinstance(line_ids, (str, list)) and skip:  # partly counted: the keys of the rest (one text: joined_keys)
            line_ids = (line_ids.split("\n") if isinstance(line_ids, str) else line_ids)[skip:]
        if line_ids is not None and not self._count_new_lines(state, records, stamps, line_ids, skip):
            pass  # counted run by run, without the copies
        elif isinstance(records, str):
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

    def _count_new_lines(self, state: PartitionState, records: str | list[str], stamps: list[int],
                         line_ids: dict | list | str, skip: int) -> bool:
        """Take the records' line ids; True if none was a copy (the caller counts the records as they
        are), else count the runs of new records here, each at its own offsets, and return False."""
        if isinstance(line_ids, dict):  # each host file's lines adjacent: the spout's line_runs
            if not skip and state.lines.keep_runs(line_ids["runs"], max(stamps, default=0)):
                return True  # and new (the common case): taken at once
            lengths = list(map(len, records.split("\n")[:-1] if isinstance(records, str) else records))
            line_ids = lines_of_runs(line_ids["runs"], lengths)[skip:]  # each record's line, to take one by one
        elif state.lines.keep_all(line_ids, max(stamps, default=0)):  # False for a key that is None
            return True  # each file's lines adjacent and new (the common case), taken at once
        elif isinstance(line_ids, str):
            line_ids = line_ids.split("\n")
        keep = [state.lines.keep(key, stamp) for key, stamp in zip(line_ids, stamps)]
        if all(keep):
            return True
        values = records.encode("latin-1").split(b"\n")[skip:-1] if isinstance(records, str) else \
            [value.encode("latin-1") for value in records[skip:]]
        run_start = None
        for index, kept in enumerate([*keep, False]):
            if kept and run_start is None:
                run_start = index
            elif not kept and run_start is not None:
                state.counter.add_values(first_offset=state.expected + run_start, values=values[run_start:index],
                                         kafka_timestamps_ms=stamps[run_start:index])
                run_start = None
        state.counter.add_copies(kafka_timestamps_ms=list(compress(stamps, map(operator.not_, keep))))
        self.copies += keep.count(False)
        return False

    def process_tick(self, tup: Any) -> None:
        for topic, partition in list(self.partitions):
            state = self.partitions.get((topic, partition))
            if state is not None:  # a database error while flushing another one forgets them all
                self._flush(topic, partition, state)
        self._report()

    def _flush(self, topic: str, partition: int, state: PartitionState) -> None:
        if state.expected == state.flushed:
            return
        flush = Flush(topology=self.settings.topology, topic=topic, partition=partition,
                      first_offset=state.flushed, next_offset=state.expected, last_offset=state.last_offset,
                      watermark=state.counter.watermark, deltas=state.counter.take(),
                      line_ranges=self._line_ranges(state))
        try:
            applied = self.store.apply(flush)
        except self.store.errors as err:
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

    def _line_ranges(self, state: PartitionState) -> str:
        covered = state.lines.covered
        forgotten = covered.forget_idle()
        if forgotten:
            self.logger.info("forgot the line ids of %d host files idle for 30 days: %s", len(forgotten), forgotten[:5])
        return covered.to_json() if covered.files else ""

    def _forget(self, topic: str, partition: int) -> None:
        """Drop what the partition counted but did not commit; its tuples fail, so the spout sends them again."""
        state = self.partitions.pop((topic, partition), None)
        for tup in state.tuples if state is not None else ():
            self.fail(tup)

    def _database_error(self, err: Exception) -> None:
        self.logger.error("result store: %s; replaying every partition from its stored offset", str(err).strip())
        self.store.reset()
        for topic, partition in list(self.partitions):
            self._forget(topic, partition)

    def _report(self) -> None:
        now = time.monotonic()
        if now >= self.report_at:
            self.logger.info("counted %d records so far (%d copies of lines counted before left out); partitions %s",
                             self.counted, self.copies, {f"{t}/{p}": s.flushed for (t, p), s in self.partitions.items()})
            self.report_at = now + 30
