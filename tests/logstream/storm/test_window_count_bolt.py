"""The counting bolt in this process, against the stack's PostgreSQL, speaking Storm's multilang
protocol into a buffer: it never stalls on a stored offset that moved on without it, a database
error in the middle of a tick does not crash it, and lines the spout describes as runs are counted
once each."""

from __future__ import annotations

import io
import logging
import json
import time

import numpy as np
import psycopg2
import pytest
from pystorm.component import Tuple

from logstream.line_ids import line_runs, make_line_id
from logstream.results import schema
from logstream.results.store import Flush, PostgresResultStore
from logstream.storm.bolts.window_count import WindowCountBolt
from logstream.storm.topology_config import topology_conf
from logstream.storm.window_counter import PaneDeltas


class Bolt:
    """A WindowCountBolt whose acks and fails are read back from what it wrote for Storm."""

    def __init__(self, conf: dict) -> None:
        self.out = io.BytesIO()
        self.bolt = WindowCountBolt(input_stream=io.BytesIO(), output_stream=self.out)
        self.bolt.logger = logging.getLogger("window_count_bolt")  # Storm's handshake would set it
        self.bolt.initialize(conf, {})
        self.read = 0

    def commands(self) -> list[tuple[str, str]]:
        text = self.out.getvalue().decode()[self.read:]
        self.read += len(text)
        messages = [json.loads(chunk) for chunk in text.split("\nend\n") if chunk.strip()]
        return [(m["command"], m["id"]) for m in messages if m.get("command") in ("ack", "fail")]

    def send(self, topic: str, partition: int, first: int, count: int) -> str:
        now_ms = int(time.time() * 1000)
        lines = "".join(f"10.0.0.{i % 250},7,{now_ms // 1000 - 60},60\n" for i in range(first, first + count))
        tup_id = f"{partition}:{first}:{first + count}"
        self.bolt.process(Tuple(tup_id, "spout", "default", 1,
                                [topic, partition, first, first + count, lines, [now_ms] + [0] * (count - 1), None]))
        return tup_id

    def tick(self) -> None:
        self.bolt.process_tick(Tuple("tick", "__system", "__tick", -1, [1]))


@pytest.fixture
def store_and_conf(stack, unique_name):
    dsn = stack.service("postgres").dsn("logstream")
    store = PostgresResultStore.from_dsn(dsn)
    store.create_schema()
    conf = topology_conf(name=unique_name, topic=unique_name, kafka_bootstrap=stack.config.kafka_bootstrap,
                         results_dsn=dsn, overrides={"flush_records": 1_000_000})
    yield store, conf, unique_name
    with store.conn.cursor() as cur:
        for table in (schema.OFFSETS, schema.PANE_TOTALS, schema.PANE_CONFIG_COUNTS, schema.PANE_HOST_COUNTS,
                      schema.BAD_RECORDS, schema.FLUSHES):
            cur.execute(f"DELETE FROM {table} WHERE topic = %s", (unique_name,))
    store.conn.commit()
    store.close()


def _commit_elsewhere(store, topology: str, topic: str, partition: int, first: int, next_offset: int) -> None:
    """What another copy of the bolt would commit: the offsets, with nothing to count."""
    assert store.apply(Flush(topology=topology, topic=topic, partition=partition, first_offset=first,
                             next_offset=next_offset, last_offset=next_offset - 1, watermark=None,
                             deltas=PaneDeltas()))


def test_a_stored_offset_that_moved_on_without_the_bolt_is_read_again_instead_of_failing_forever(store_and_conf):
    """Without the re-read on a gap, every tuple from offset 20 on fails (and the spout rewinds to
    it, again and again): the last assertions fail."""
    store, conf, name = store_and_conf
    store.start_partition(topology=name, topic=name, partition=0, start_offset=0)
    bolt = Bolt(conf)
    first = bolt.send(name, 0, 0, 10)
    bolt.tick()
    assert bolt.commands() == [("ack", first)]
    _commit_elsewhere(store, name, name, 0, 10, 20)  # the partition was counted elsewhere meanwhile

    later = bolt.send(name, 0, 20, 10)
    bolt.tick()

    assert bolt.commands() == [("ack", later)]
    assert store.position(topology=name, topic=name, partition=0).next_offset == 30


def test_a_database_error_while_flushing_one_partition_does_not_crash_the_tick(store_and_conf, stack):
    """The first partition's flush meets a killed connection (all partitions are forgotten); the
    second's stored offset moved meanwhile. Before the fix the tick raised KeyError."""
    store, conf, name = store_and_conf
    for partition in (0, 1):
        store.start_partition(topology=name, topic=name, partition=partition, start_offset=0)
    bolt = Bolt(conf)
    sent = [bolt.send(name, partition, 0, 10) for partition in (0, 1)]
    _commit_elsewhere(store, name, name, 1, 0, 5)
    with psycopg2.connect(stack.service("postgres").dsn("logstream")) as admin, admin.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        bolt_pid = bolt.bolt.store.conn.get_backend_pid()
        cur.execute("SELECT pg_terminate_backend(%s)", (bolt_pid,))

    bolt.tick()

    assert sorted(bolt.commands()) == sorted(("fail", tup_id) for tup_id in sent)
    # and it goes on: the spout's replay is counted from the stored offsets
    again = [bolt.send(name, 0, 0, 10), bolt.send(name, 1, 5, 5)]
    bolt.tick()
    assert sorted(bolt.commands()) == sorted(("ack", tup_id) for tup_id in again)
    assert [store.position(topology=name, topic=name, partition=p).next_offset for p in (0, 1)] == [10, 10]


def test_lines_sent_as_runs_are_counted_once_through_copies_and_a_partial_replay(store_and_conf):
    """The spout's runs of adjacent lines (line_ids.line_runs) for three tuples of one host file: new
    lines, lines re-sent beside new ones (a failover's copies: the runs overlap what was counted), and a
    replay starting inside what was counted. Each line is in a pane once, each copy a bad record."""
    store, conf, name = store_and_conf
    store.start_partition(topology=name, topic=name, partition=0, start_offset=0)
    now_ms = int(time.time() * 1000)
    values = [f"10.0.0.{line},7,{now_ms // 1000 - 60},60".encode() for line in range(30)]
    starts = [0]
    for value in values:
        starts.append(starts[-1] + len(value) + 1)
    # offset -> line: lines 0-9, then 5-19 (5-9 again), then 20-29
    line_at = [*range(10), *range(5, 20), *range(20, 30)]
    bolt = Bolt(conf)

    def send(first: int, count: int) -> str:
        lines = line_at[first:first + count]
        keys = [make_line_id("web1", "7-a", starts[line], starts[line + 1]) for line in lines]
        runs = line_runs(keys, np.array([len(values[line]) for line in lines], np.int64))
        assert runs is not None  # adjacent lines: the spout sends them as runs
        tup_id = f"0:{first}:{first + count}"
        bolt.bolt.process(Tuple(tup_id, "spout", "default", 1,
                                [name, 0, first, first + count, "".join(values[line].decode() + "\n" for line in lines),
                                 [now_ms] + [0] * (count - 1), {"runs": runs}]))
        return tup_id

    sent = [send(0, 10), send(10, 15)]
    bolt.tick()
    sent.append(send(20, 15))  # offsets 20-24 were counted: only 25-34 are new to the bolt
    bolt.tick()

    assert bolt.commands() == [("ack", tup_id) for tup_id in sent]
    seen, copies = set(), 0
    for line in line_at:
        copies += line in seen
        seen.add(line)
    with store.conn.cursor() as cur:
        cur.execute(f"SELECT coalesce(sum(records), 0) FROM {schema.PANE_TOTALS} WHERE topic = %s", (name,))
        in_panes = cur.fetchone()[0]
        cur.execute(f"SELECT reason, sum(records) FROM {schema.BAD_RECORDS} WHERE topic = %s GROUP BY reason", (name,))
        bad = dict(cur.fetchall())
    store.conn.commit()
    assert (in_panes, bad) == (len(seen), {"copy": copies}) == (30, {"copy": 5})
    assert store.position(topology=name, topic=name, partition=0).next_offset == 35
