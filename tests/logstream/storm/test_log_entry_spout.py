"""The spout in this process against the stack's Kafka and PostgreSQL: offsets Kafka's retention
deleted before they were counted are skipped on purpose, recorded as lost, and never looped on; a
backlog goes out once, in order, its line ids as runs."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from online_stats import wait_for

from logstream.line_ids import make_line_id
from logstream.results import schema
from logstream.results.store import PostgresResultStore
from logstream.storm.spouts.log_entries import LogEntrySpout
from logstream.storm.topology_config import topology_conf


class Spout:
    """A LogEntrySpout whose emitted tuples are read back from what it wrote for Storm."""

    def __init__(self, conf: dict) -> None:
        self.out = io.BytesIO()
        self.spout = LogEntrySpout(input_stream=io.BytesIO(), output_stream=self.out)
        self.spout.logger = logging.getLogger("log_entry_spout")  # Storm's handshake would set these
        self.spout.component_name, self.spout.task_id = "spout", 1
        self.spout.initialize(conf, {"task->component": {"1": "spout"}})
        self.read = 0

    def emitted(self) -> list[tuple]:
        """The tuples emitted since the last call: (partition, from_offset, next_offset, records,
        timestamp steps, line ids)."""
        text = self.out.getvalue().decode()[self.read:]
        self.read += len(text)
        messages = [json.loads(chunk) for chunk in text.split("\nend\n") if chunk.strip()]
        return [tuple(m["tuple"][1:]) for m in messages if m.get("command") == "emit"]

    def read_until(self, tuples: list, done, what: str = "the tuples awaited") -> None:
        """Call next_tuple, adding what it emits to ``tuples``, until ``done()``."""
        def more() -> bool:
            for _ in range(100):
                self.spout.next_tuple()
                tuples.extend(self.emitted())
                if done():
                    return True
            return False

        wait_for(more, 60, what)

    def offsets_until(self, end: int) -> list[tuple[int, int, int]]:
        """Call next_tuple until a tuple reaching ``end`` was emitted; every tuple emitted."""
        tuples: list = []
        self.read_until(tuples, lambda: bool(tuples) and tuples[-1][2] >= end, f"tuples up to offset {end}")
        return [found[:3] for found in tuples]


def _produce(bootstrap: str, topic: str, first: int, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(first, first + count):
        producer.produce(topic, f"10.0.0.{i % 250},7,{int(time.time())},60".encode(), partition=0)
    assert producer.flush(30) == 0


def _delete_up_to(admin: AdminClient, topic: str, offset: int) -> None:
    """What retention does: the log now starts at ``offset``."""
    for future in admin.delete_records([TopicPartition(topic, 0, offset)]).values():
        future.result()


@pytest.fixture
def topic_and_store(stack, unique_name):
    admin = AdminClient({"bootstrap.servers": stack.config.kafka_bootstrap})
    admin.create_topics([NewTopic(unique_name, 1, 1)])[unique_name].result()
    dsn = stack.service("postgres").dsn("logstream")
    store = PostgresResultStore.from_dsn(dsn)
    store.create_schema()
    conf = topology_conf(name=unique_name, topic=unique_name, kafka_bootstrap=stack.config.kafka_bootstrap,
                         results_dsn=dsn, overrides={"records_per_tuple": 20})
    yield admin, store, conf, unique_name
    with store.conn.cursor() as cur:
        for table in (schema.OFFSETS, schema.RETENTION_LOSSES):
            cur.execute(f"DELETE FROM {table} WHERE topic = %s", (unique_name,))
    store.conn.commit()
    store.close()
    admin.delete_topics([unique_name])


def _losses(store, topic: str) -> list[tuple[int, int]]:
    with store.conn.cursor() as cur:
        cur.execute(f"SELECT from_offset, to_offset FROM {schema.RETENTION_LOSSES} WHERE topic = %s "
                    "ORDER BY from_offset", (topic,))
        rows = cur.fetchall()
    store.conn.rollback()
    return [tuple(row) for row in rows]


def test_offsets_deleted_by_retention_are_skipped_once_and_recorded_as_lost(topic_and_store, stack):
    """Without the skip, the spout (auto.offset.reset=error) would wait forever at offset 0 and then
    at 60; with Kafka's default reset it would jump to the end and loop re-seeking (issue #19)."""
    admin, store, conf, topic = topic_and_store
    bootstrap = stack.config.kafka_bootstrap
    _produce(bootstrap, topic, 0, 100)
    store.start_partition(topology=topic, topic=topic, partition=0, start_offset=0)
    _delete_up_to(admin, topic, 60)

    spout = Spout(conf)  # the stored offset 0 is below the log start 60

    assert store.position(topology=topic, topic=topic, partition=0).next_offset == 60
    assert _losses(store, topic) == [(0, 60)]
    tuples = spout.offsets_until(100)
    assert tuples[0][1] == 60 and all(a[2] == b[1] for a, b in zip(tuples, tuples[1:]))

    # while running: a rewind to 60 after retention deleted up to 120 (nothing was committed past 60)
    _produce(bootstrap, topic, 100, 50)
    _delete_up_to(admin, topic, 120)
    spout.spout.fail("0:60:100")
    tuples = spout.offsets_until(150)

    assert tuples[0][1] == 120 and tuples[-1][2] == 150 and all(a[2] == b[1] for a, b in zip(tuples, tuples[1:]))
    assert _losses(store, topic) == [(0, 60), (60, 120)]
    assert store.position(topology=topic, topic=topic, partition=0).next_offset == 120


def test_a_keyed_backlog_in_three_partitions_is_emitted_once_in_order_with_its_lines_as_runs(stack, unique_name):
    """Each partition's tuples follow each other with no gap or overlap while the spout holds a
    partition's short batches back for its next records, carry the lines of their host file as runs,
    and a rewind in the middle is read again from there."""
    bootstrap = stack.config.kafka_bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(unique_name, 3, 1)])[unique_name].result()
    dsn = stack.service("postgres").dsn("logstream")
    store = PostgresResultStore.from_dsn(dsn)
    store.create_schema()
    conf = topology_conf(name=unique_name, topic=unique_name, kafka_bootstrap=bootstrap, results_dsn=dsn,
                         overrides={"records_per_tuple": 200})
    producer = Producer({"bootstrap.servers": bootstrap})
    ends, line_bytes = [0, 0, 0], [[], [], []]  # each partition's lines' lengths, separator included
    for i in range(9_000):
        partition, value = i % 3, f"10.0.0.{i % 250},7,{int(time.time())},60".encode()
        key = make_line_id(f"web{partition}", "7-a", ends[partition], ends[partition] + len(value) + 1)
        ends[partition] += len(value) + 1
        line_bytes[partition].append(len(value) + 1)
        producer.produce(unique_name, value, key, partition=partition)
    assert producer.flush(30) == 0
    try:
        spout = Spout(conf)
        tuples: list = []
        spout.read_until(tuples, lambda: all(any(t[0] == p and t[2] == 3_000 for t in tuples) for p in range(3)))
        for partition in range(3):
            mine = [t for t in tuples if t[0] == partition]
            assert mine[0][1] == 0 and mine[-1][2] == 3_000 and all(a[2] == b[1] for a, b in zip(mine, mine[1:]))
            assert all(0 < t[2] - t[1] <= 200 for t in mine)
            for _p, first, next_offset, runs in (t[:3] + (t[5],) for t in mine):
                [(file, start, end, stretches, separator)] = runs["runs"]
                assert (file, stretches, separator) == (f"web{partition} 7-a", [0, next_offset - first], 1)
                assert (start, end) == (sum(line_bytes[partition][:first]), sum(line_bytes[partition][:next_offset]))

        spout.spout.fail("1:1000:1200")  # as the bolt fails a tuple: partition 1 again from offset 1000
        again: list = []
        spout.read_until(again, lambda: any(t[0] == 1 and t[2] == 3_000 for t in again))
        mine = [t for t in again if t[0] == 1]
        assert mine[0][1] == 1000 and all(a[2] == b[1] for a, b in zip(mine, mine[1:]))
    finally:
        with store.conn.cursor() as cur:
            cur.execute(f"DELETE FROM {schema.OFFSETS} WHERE topic = %s", (unique_name,))
        store.conn.commit()
        store.close()
        admin.delete_topics([unique_name])
