"""The Oracle result store, as far as it can be checked without an Oracle server (none can be
obtained on these machines): every statement it runs and its DDL parse under Oracle's grammar
(sqlglot's Oracle dialect), and its logic runs against the stack's PostgreSQL through a DB-API
connection that translates each statement (``tests/oracle_on_postgres.py``; not Oracle): flushes
apply once, replays change nothing, and two writers racing to insert the same new pane keys (where
Oracle's MERGE fails one of them with ORA-00001, as PostgreSQL's MERGE does) both land. The address
of the store picks its dialect."""

from __future__ import annotations

import random
import re
import threading
from collections import Counter

import pytest
import sqlglot
from oracle_on_postgres import OracleOnPostgres, drop_schema, make_schema

from logstream.results import schema
from logstream.results.store import Flush, OracleResultStore, PostgresResultStore, open_store, oracle_statements
from logstream.storm.window_counter import PaneDeltas

T0 = 1_795_839_600
POSTGRES_ONLY = re.compile(r"ON CONFLICT|%s|%\(|\bnow\(\)|::|make_interval|RETURNING|pg_notify", re.IGNORECASE)


def test_every_statement_and_the_ddl_parse_as_oracle():
    statements = OracleResultStore(connect=lambda: None).statements() + oracle_statements(schema.ddl("oracle"))
    assert len(statements) >= 20
    for statement in statements:
        sqlglot.parse_one(statement, read="oracle", error_level=sqlglot.ErrorLevel.RAISE)
        assert not POSTGRES_ONLY.search(statement), statement
        assert not re.search(r":\d", statement), f"positional bind in {statement}"
    # the check can fail: the PostgreSQL store's statements are not Oracle's
    postgres = [PostgresResultStore.INSERT_POSITION, PostgresResultStore.RECENT_FLUSHES]
    assert all(POSTGRES_ONLY.search(statement) for statement in postgres)


def test_the_address_picks_the_dialect():
    assert isinstance(open_store("oracle://logstream:secret@db.example:1521/FREEPDB1"), OracleResultStore)
    assert isinstance(open_store("postgresql://logstream:secret@db.example:5432/logstream"), PostgresResultStore)
    assert isinstance(open_store("host=db.example dbname=logstream user=logstream"), PostgresResultStore)
    with pytest.raises(ValueError, match="not a result store address"):
        open_store("mysql://db.example/logstream")


@pytest.fixture
def oracle_schema(stack, unique_name):
    dsn = stack.service("postgres").dsn("logstream")
    make_schema(dsn, unique_name)
    setup = OracleResultStore(connect=lambda: OracleOnPostgres(dsn, unique_name))
    setup.create_schema()
    setup.close()
    yield lambda: OracleResultStore(connect=lambda: OracleOnPostgres(dsn, unique_name))
    drop_schema(dsn, unique_name)


def _flush(partition: int, first: int, panes: dict[int, int], *, topic: str = "t") -> Flush:
    """A flush of ``panes`` (pane start -> records), the same records per configuration and host."""
    deltas = PaneDeltas(config_counts=Counter({(pane, 7): n for pane, n in panes.items()}),
                        host_counts=Counter({(pane, "10.0.0.1"): n for pane, n in panes.items()}),
                        pane_records=Counter(panes), bad_records=Counter({(T0, "empty"): 1}))
    records = sum(panes.values()) + 1
    return Flush(topology="topo", topic=topic, partition=partition, first_offset=first, next_offset=first + records,
                 last_offset=first + records - 1, watermark=max(panes), deltas=deltas)


def _sums(store: OracleResultStore, topic: str = "t") -> tuple:
    rows = store._rows(
        f"SELECT (SELECT SUM(records) FROM {schema.PANE_TOTALS} WHERE topic = :topic), "
        f"(SELECT SUM(records) FROM {schema.PANE_CONFIG_COUNTS} WHERE topic = :topic), "
        f"(SELECT SUM(records) FROM {schema.PANE_HOST_COUNTS} WHERE topic = :topic), "
        f"(SELECT SUM(records) FROM {schema.BAD_RECORDS} WHERE topic = :topic) FROM dual", {"topic": topic})
    return tuple(None if value is None else int(value) for value in rows[0])


def test_flushes_apply_once_and_replays_change_nothing(oracle_schema):
    store = oracle_schema()
    assert store.start_partition(topology="topo", topic="t", partition=0, start_offset=0).next_offset == 0
    assert store.start_partition(topology="topo", topic="t", partition=0, start_offset=99).next_offset == 0
    first = _flush(0, 0, {T0: 100, T0 + 60: 20})
    assert store.apply(first) is True
    assert store.apply(first) is False  # a replay
    assert store.apply(_flush(0, 50, {T0: 5})) is False  # not where the stored offset is
    second = _flush(0, first.next_offset, {T0 + 60: 30, T0 + 120: 1})
    assert store.apply(second) is True
    assert _sums(store) == (151, 151, 151, 2)
    position = store.position(topology="topo", topic="t", partition=0)
    assert (position.next_offset, position.watermark) == (second.next_offset, T0 + 120)
    assert store.stored_offsets(topology="topo", topic="t") == {0: second.next_offset}
    assert store.recent_flushes(topology="topo", topic="t", seconds=3600) == {0: (153, 0)}
    # a stored offset below Kafka's log start: moved up once, the range recorded as lost
    assert store.skip_to_log_start(topology="topo", topic="t", partition=0, log_start=1000) == (second.next_offset, 1000)
    assert store.skip_to_log_start(topology="topo", topic="t", partition=0, log_start=1000) is None
    assert store.recent_losses(topology="topo", topic="t", seconds=3600) == [(0, second.next_offset, 1000)]
    store.close()


def test_two_writers_racing_for_the_same_new_pane_keys_both_land(oracle_schema):
    """Two partitions' writers flush the same new panes at the same moment, 40 times: each time one
    MERGE finds no row, inserts, and the other's insert fails on the key (ORA-00001 on Oracle). The
    store runs the failed flush again from its guard; the totals are the sum of both partitions'.
    Removal check: with ``UNIQUE_KEY_RETRIES = 1`` (no retry) the writers fail with the
    IntegrityError. The race is seen to happen (``lost_races`` counts the retries)."""
    setup = oracle_schema()
    for partition in (0, 1):
        setup.start_partition(topology="topo", topic="t", partition=partition, start_offset=0)
    setup.close()
    rounds, rng = 40, random.Random(7)
    plans = {p: [{T0 + 60 * r: rng.randint(1, 50), T0 + 60 * r + 3600: rng.randint(1, 50)} for r in range(rounds)]
             for p in (0, 1)}
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    stores = {p: oracle_schema() for p in (0, 1)}

    def writer(partition: int) -> None:
        store, offset = stores[partition], 0
        try:
            for panes in plans[partition]:
                flush = _flush(partition, offset, panes)
                barrier.wait(timeout=60)
                assert store.apply(flush) is True
                offset = flush.next_offset
        except BaseException as err:  # noqa: BLE001 (reported below)
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(p,)) for p in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    expected = sum(sum(panes.values()) for p in (0, 1) for panes in plans[p])
    check = oracle_schema()
    assert _sums(check) == (expected, expected, expected, 2 * rounds)
    per_pane = Counter()
    for p in (0, 1):
        for panes in plans[p]:
            per_pane.update(panes)
    stored = check._rows(f"SELECT pane_start, records FROM {schema.PANE_TOTALS} WHERE topic = :topic", {"topic": "t"})
    assert Counter({int(start.timestamp()): int(n) for start, n in stored}) == per_pane
    assert sum(store.lost_races for store in stores.values()) > 0, "the race never happened: the test proved nothing"
    for store in [*stores.values(), check]:
        store.close()
