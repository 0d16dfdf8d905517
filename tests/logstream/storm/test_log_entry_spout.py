"""The spout in this process against the stack's Kafka and PostgreSQL: offsets Kafka's retention
deleted before they were counted are skipped on purpose, recorded as lost, and never looped on."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from online_stats import wait_for

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

    def emitted(self) -> list[tuple[int, int, int]]:
        text = self.out.getvalue().decode()[self.read:]
        self.read += len(text)
        messages = [json.loads(chunk) for chunk in text.split("\nend\n") if chunk.strip()]
        return [tuple(m["tuple"][1:4]) for m in messages if m.get("command") == "emit"]

    def offsets_until(self, end: int) -> list[tuple[int, int, int]]:
        """Call next_tuple until a tuple reaching ``end`` was emitted; every tuple emitted."""
        tuples: list = []
        wait_for(lambda: self.spout.next_tuple() or tuples.extend(self.emitted()) or (tuples and tuples[-1][2] >= end),
                 60, f"tuples up to offset {end}")
        return tuples


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
