"""The result store on the stack's PostgreSQL: a flush applies once; a replayed or concurrent copy of
it changes nothing; every applied flush is announced with NOTIFY online_panes in its transaction."""

from __future__ import annotations

import json
import select
import threading
from collections import Counter
from dataclasses import replace

import psycopg2

from logstream.results.store import Flush, PostgresResultStore, ensure_schema
from logstream.storm.window_counter import PaneDeltas

T0 = 1_795_839_600


def _dsn(stack) -> str:
    return stack.service("postgres").dsn("logstream")


def _flush(topic: str, first: int, records: int) -> Flush:
    deltas = PaneDeltas(config_counts=Counter({(T0, 7): records}), host_counts=Counter({(T0, "10.0.0.1"): records}),
                        pane_records=Counter({T0: records}), bad_records=Counter({(T0, "empty"): 1}))
    return Flush(topology=topic, topic=topic, partition=0, first_offset=first, next_offset=first + records + 1,
                 last_offset=first + records, watermark=T0 + 5, deltas=deltas)


def _totals(dsn: str, topic: str) -> tuple:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT (SELECT sum(records) FROM online_pane_totals WHERE topic = %(t)s), "
                    "(SELECT sum(records) FROM online_pane_config_counts WHERE topic = %(t)s), "
                    "(SELECT sum(records) FROM online_bad_records WHERE topic = %(t)s), "
                    "(SELECT next_offset FROM online_offsets WHERE topic = %(t)s)", {"t": topic})
        row = cur.fetchone()
    conn.close()
    return tuple(None if value is None else int(value) for value in row)


def test_a_replayed_flush_is_not_applied_twice(stack, unique_name):
    store = PostgresResultStore.from_dsn(_dsn(stack))
    store.create_schema()
    assert store.start_partition(topology=unique_name, topic=unique_name, partition=0, start_offset=0).next_offset == 0

    assert store.apply(_flush(unique_name, 0, 100)) is True
    assert store.apply(_flush(unique_name, 0, 100)) is False  # the same range again: a replay
    assert store.apply(_flush(unique_name, 50, 100)) is False  # not where the stored offset is
    assert store.apply(_flush(unique_name, 101, 10)) is True
    assert _totals(_dsn(stack), unique_name) == (110, 110, 2, 112)
    position = store.position(topology=unique_name, topic=unique_name, partition=0)
    assert (position.next_offset, position.watermark, position.line_ranges) == (112, T0 + 5, "")
    store.close()


def test_line_ranges_move_with_the_offset_only(stack, unique_name):
    store = PostgresResultStore.from_dsn(_dsn(stack))
    store.create_schema()
    store.start_partition(topology=unique_name, topic=unique_name, partition=0, start_offset=0)
    first = '{"web1 7-a":[1,[0,4200]]}'
    assert store.apply(replace(_flush(unique_name, 0, 100), line_ranges=first)) is True
    # a replayed flush moves neither the offset nor the ranges
    assert store.apply(replace(_flush(unique_name, 0, 100), line_ranges='{"web1 7-a":[1,[0,9999]]}')) is False
    assert store.position(topology=unique_name, topic=unique_name, partition=0).line_ranges == first
    assert store.apply(replace(_flush(unique_name, 101, 10), line_ranges="")) is True
    assert store.position(topology=unique_name, topic=unique_name, partition=0).line_ranges == ""
    store.close()


def test_concurrent_copies_apply_a_flush_once(stack, unique_name):
    setup = PostgresResultStore.from_dsn(_dsn(stack))
    setup.create_schema()
    setup.start_partition(topology=unique_name, topic=unique_name, partition=0, start_offset=0)
    setup.close()
    results, barrier = [], threading.Barrier(4)

    def writer() -> None:
        store = PostgresResultStore.from_dsn(_dsn(stack))
        barrier.wait()
        results.append(store.apply(_flush(unique_name, 0, 1000)))
        store.close()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert _totals(_dsn(stack), unique_name) == (1000, 1000, 1, 1001)


def test_an_applied_flush_notifies_listeners(stack, unique_name):
    listener = psycopg2.connect(_dsn(stack))
    listener.autocommit = True
    listener.cursor().execute("LISTEN online_panes")
    store = PostgresResultStore.from_dsn(_dsn(stack))
    store.create_schema()
    store.start_partition(topology=unique_name, topic=unique_name, partition=0, start_offset=0)
    store.apply(_flush(unique_name, 0, 10))

    payloads = []
    for _ in range(20):
        if select.select([listener], [], [], 1) != ([], [], []):
            listener.poll()
            payloads += [json.loads(n.payload) for n in listener.notifies if n.channel == "online_panes"]
            listener.notifies.clear()
        if any(p["topic"] == unique_name for p in payloads):
            break
    assert {"topic": unique_name, "partition": 0, "last_offset": 10} in payloads
    listener.close()
    store.close()


def test_the_schema_runs_once_per_version_and_never_waits_on_a_reader_once_current(scratch_dsn):
    """The DDL's ALTERs lock table after table; run on every deploy they deadlocked with the dashboard's
    snapshot, which holds several tables in one transaction (CI, stop 31). Once this version of the
    DDL ran, ensure_schema takes no lock: it returns at once beside a reader holding online_flushes."""
    conn = psycopg2.connect(scratch_dsn)
    try:
        assert ensure_schema(conn) is True  # a new database: the DDL runs
        assert ensure_schema(conn) is False  # the same version: nothing runs
    finally:
        conn.close()
    reader = psycopg2.connect(scratch_dsn)
    with reader.cursor() as cur:  # as the dashboard's read holds it until its transaction ends
        cur.execute("SELECT count(*) FROM online_flushes")
    answers = []
    second = psycopg2.connect(scratch_dsn)
    try:
        thread = threading.Thread(target=lambda: answers.append(ensure_schema(second)))
        thread.start()
        thread.join(15)
        assert answers == [False], "ensure_schema waited on the reader's lock"
    finally:
        reader.rollback()
        thread.join(60)
        second.close()
        reader.close()
