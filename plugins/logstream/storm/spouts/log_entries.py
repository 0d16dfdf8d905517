"""Reads one topic's partitions from Kafka and emits them in batches of offsets, ~1,000 records a tuple.

Partitions are divided among the spout's tasks (partition % tasks == task index) and read with
``assign()``, from the offsets the result store holds (``ResultStore.start_partition``): a
restarted worker resumes where the last committed flush ended, with no consumer-group rebalance to
wait for. A failed tuple rewinds its partition to the tuple's first offset; the bolt drops what it
has already counted, so a rewind can only repeat records, never skip them.

A stored offset Kafka no longer has (its retention deleted the records before they were counted) is
not read around silently, nor looped on: the spout moves the stored offset on to the log start and
records the skipped range in ``online_retention_losses`` (``ResultStore.skip_to_log_start``), in one
transaction; the topology's health check reports it.
"""

from __future__ import annotations

import operator
import time
from itertools import repeat
from collections import defaultdict
from typing import Any

import numpy as np
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from streamparse import Spout

from logstream.line_ids import joined_keys, line_runs
from logstream.log_entry import as_lines
from logstream.results.store import open_store
from logstream.storm.topology_config import ComponentSettings

# the longest a partition's short batch waits for its next records while the spout reads a backlog
HOLD_SECONDS = 0.05

# records: the batch's values as one string of lines (latin-1, each value followed by a newline) when
# none of them holds a newline, else a list of the values (latin-1 strings); the offsets are
# from_offset .. next_offset - 1 and timestamp_steps is the first record's Kafka timestamp (ms)
# followed by each next record's difference to the one before it (small numbers: JSON stays short);
# line_ids is None when no record has a key, else each record's key (a line id, logstream/line_ids.py,
# or another key, which the bolt ignores) as a latin-1 string, or None; when every record's key is a
# line id and each host file's lines are adjacent: {"runs": [...]}, a few numbers per host file
# (logstream.line_ids.line_runs); else, when every record has a key and none holds a
# line end: one latin-1 string, the keys with a line end between two (logstream.line_ids.joined_keys)
OUTPUT_FIELDS = ["topic", "partition", "from_offset", "next_offset", "records", "timestamp_steps", "line_ids"]


class LogEntrySpout(Spout):
    outputs = OUTPUT_FIELDS

    def initialize(self, storm_conf: dict[str, Any], context: dict[str, Any]) -> None:
        self.settings = ComponentSettings.from_storm_conf(storm_conf)
        tasks = sorted(int(task) for task, component in context["task->component"].items()
                       if component == self.component_name)
        index = tasks.index(int(self.task_id))
        self.consumer = Consumer({
            "bootstrap.servers": self.settings.kafka_bootstrap,
            "group.id": f"storm-{self.settings.topology}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            # an offset retention deleted is an error to handle (skip_lost), not a silent jump to the end
            "auto.offset.reset": "error",
            "fetch.max.bytes": 16 * 1024 * 1024,
            # small per-partition fetches interleave the partitions in the consume queue, so a backlog
            # in one partition does not hold the others back for a whole megabyte each
            "max.partition.fetch.bytes": 128 * 1024,
        })
        topic = self.settings.topic
        metadata = self.consumer.list_topics(topic, timeout=30)
        if metadata.topics[topic].error is not None:
            raise RuntimeError(f"topic {topic}: {metadata.topics[topic].error}")
        mine = [p for p in sorted(metadata.topics[topic].partitions) if p % len(tasks) == index]
        self.store = open_store(self.settings.results_dsn)
        self.position: dict[int, int] = {}
        try:
            for partition in mine:
                low, _high = self.consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
                stored = self.store.start_partition(topology=self.settings.topology, topic=topic, partition=partition,
                                                    start_offset=low)
                self.position[partition] = max(stored.next_offset, self._skip_lost(partition, low))
        finally:
            self.store.close()
        self.consumer.assign([TopicPartition(topic, p, self.position[p]) for p in mine])
        # records of a partition not emitted yet (see next_tuple), and since when
        self.held: dict[int, list] = {}
        self.held_since: dict[int, float] = {}
        self.logger.info("task %s reads %s partitions %s from offsets %s", self.task_id, topic, mine, self.position)

    def next_tuple(self) -> None:
        if not self.position:
            return
        per_tuple = self.settings.records_per_tuple
        messages = self.consumer.consume(num_messages=per_tuple, timeout=HOLD_SECONDS if self.held else 0.2)
        # a partition's records held back by the call before come first
        batches: dict[int, list] = defaultdict(list, self.held)
        self.held = {}
        for message in messages:
            if message.error() is not None:
                if message.error().code() == KafkaError._AUTO_OFFSET_RESET:  # our offset is gone
                    low, _high = self.consumer.get_watermark_offsets(
                        TopicPartition(self.settings.topic, message.partition()), timeout=30)
                    self.position[message.partition()] = max(low, self._skip_lost(message.partition(), low))
                    batches.pop(message.partition(), None)
                    self.held_since.pop(message.partition(), None)
                    # a partition whose offset failed cannot be seek()'d ("erroneous state"): assign again
                    self.consumer.assign([TopicPartition(self.settings.topic, p, o) for p, o in self.position.items()])
                    break
                else:
                    self.logger.warning("Kafka: %s", message.error())
                continue
            batches[message.partition()].append(message)
        now = time.monotonic()
        for partition, batch in batches.items():
            while len(batch) > per_tuple:
                self._emit_batch(partition, batch[:per_tuple])
                batch = batch[per_tuple:]
            # a full call means a backlog: a short batch (the end of one fetch of its partition, whose next
            # one is queued behind other partitions') waits for its next records, so that tuples stay
            # full whatever the records' size; never longer than HOLD_SECONDS, never once caught up
            backlog = len(messages) >= per_tuple
            if backlog and len(batch) < per_tuple and now - self.held_since.get(partition, now) < HOLD_SECONDS:
                self.held[partition] = batch
                self.held_since.setdefault(partition, now)
            else:
                self.held_since.pop(partition, None)
                self._emit_batch(partition, batch)

    def _emit_batch(self, partition: int, batch: list) -> None:
        start = self.position[partition]
        if batch[0].offset() != start or batch[-1].offset() != start + len(batch) - 1:
            batch = self._contiguous(partition, start, batch)
            if not batch:
                return
        expected = start + len(batch)
        values = [message.value() or b"" for message in batch]
        lines = as_lines(values)
        # latin-1 maps every byte to one character: the bolt gets the exact bytes back
        records = lines.decode("latin-1") if lines is not None else [value.decode("latin-1") for value in values]
        stamps = [message.timestamp()[1] for message in batch]
        steps = [stamps[0], *map(operator.sub, stamps[1:], stamps)]
        keys = list(map(Message.key, batch))
        if not any(keys):
            line_ids = None
        elif None in keys:
            line_ids = [key.decode("latin-1") if key is not None else None for key in keys]
        elif (runs := line_runs(keys, np.fromiter(map(len, values), np.int64, len(values)))) is not None:
            line_ids = {"runs": runs}  # each host file's lines adjacent: a few numbers a file
        else:  # one text, a line end between two keys (a list if a key holds a line end)
            line_ids = joined_keys(keys) or list(map(bytes.decode, keys, repeat("latin-1")))
        self.position[partition] = expected
        self.emit([self.settings.topic, partition, start, expected, records, steps, line_ids],
                  tup_id=f"{partition}:{start}:{expected}")

    def _contiguous(self, partition: int, start: int, batch: list) -> list:
        """The messages of ``batch`` from offset ``start`` on with no gap; re-seeks at a gap."""
        kept = []
        for message in batch:
            offset = message.offset()
            if offset < start + len(kept):
                continue
            if offset > start + len(kept):
                # a message fetched before a rewind; read again from where this batch must go on
                self._seek(partition, start + len(kept))
                break
            kept.append(message)
        return kept

    def _skip_lost(self, partition: int, log_start: int) -> int:
        """Move the stored offset up to ``log_start`` if retention deleted what it points at, recording
        the loss; returns the stored offset now."""
        try:
            lost = self.store.skip_to_log_start(topology=self.settings.topology, topic=self.settings.topic,
                                                partition=partition, log_start=log_start)
            if lost is not None:
                self.logger.error("partition %s: offsets [%s, %s) were deleted by Kafka's retention before the topology "
                                  "counted them: %s records lost, recorded in online_retention_losses",
                                  partition, lost[0], lost[1], lost[1] - lost[0])
            stored = self.store.position(topology=self.settings.topology, topic=self.settings.topic, partition=partition)
        finally:
            self.store.close()
        return stored.next_offset if stored is not None else log_start

    def _seek(self, partition: int, offset: int) -> None:
        self.consumer.seek(TopicPartition(self.settings.topic, partition, offset))
        self.position[partition] = offset
        self.held.pop(partition, None)
        self.held_since.pop(partition, None)

    def ack(self, tup_id: str) -> None:
        """Nothing to do: the position that counts is the result store's, written with the counts."""

    def fail(self, tup_id: str) -> None:
        partition, start, _next = (int(part) for part in tup_id.split(":"))
        if start < self.position.get(partition, start):
            self.logger.info("tuple %s failed: partition %s rewinds to %s", tup_id, partition, start)
            self._seek(partition, start)

