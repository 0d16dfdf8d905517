"""The result store's retention on a real PostgreSQL database of the test's own (the session's result
store is shared, so this one is made and dropped here): the rows older than pipeline.yaml's
``results_retention`` go, table by table, the newest flush and pane close of each partition stay
whatever their age, and two copies deleting at once end where one does."""

from __future__ import annotations

import json
import threading
from urllib.parse import unquote, urlsplit

import psycopg2
import pytest
import yaml

from logstream.pipeline_config import ResultRetention
from logstream.results import schema
from logstream.results.store import PostgresResultStore

DAY = 86400
RETENTION = {"flushes_days": 7, "pane_closes_days": 7, "panes_days": 90, "bad_records_days": 90}

# (topology, partition, age in seconds) of each flush and pane close; ages of panes and bad records
FLUSHES = [("t1", 0, 10 * DAY), ("t1", 0, 9 * DAY), ("t1", 0, 8 * DAY),
           ("t1", 1, 10 * DAY), ("t1", 1, DAY), ("t1", 1, 3600), ("t0", 0, 30 * DAY)]
CLOSES = [("t1", 0, 9 * DAY), ("t1", 0, 8 * DAY), ("t1", 0, 6 * DAY), ("t1", 2, 40 * DAY)]
PANES = [100 * DAY, 91 * DAY, 89 * DAY, DAY]
BAD = [95 * DAY, 5 * DAY]


def expected_left() -> dict[str, set]:
    """What stays, from the rule alone: young enough, or the newest of its partition (trail tables)."""
    def trail(rows, days):
        newest = {}
        for i, (topology, partition, age) in enumerate(rows):
            key = (topology, partition)
            newest[key] = min(newest.get(key, age), age)
        return {i for i, (topology, partition, age) in enumerate(rows)
                if age < days * DAY or age == newest[(topology, partition)]}

    panes = {i for i, age in enumerate(PANES) if age < RETENTION["panes_days"] * DAY}
    return {schema.FLUSHES: trail(FLUSHES, RETENTION["flushes_days"]),
            schema.PANE_CLOSES: trail(CLOSES, RETENTION["pane_closes_days"]),
            schema.PANE_TOTALS: panes, schema.PANE_CONFIG_COUNTS: panes, schema.PANE_HOST_COUNTS: panes,
            schema.BAD_RECORDS: {i for i, age in enumerate(BAD) if age < RETENTION["bad_records_days"] * DAY}}


def fill(dsn: str) -> None:
    """Each row's index in its list is kept in a column of its own (offset, records), to tell which stayed."""
    ago = "now() - make_interval(secs => %s)"
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(schema.ddl())
        for i, (topology, partition, age) in enumerate(FLUSHES):
            cur.execute(f"INSERT INTO {schema.FLUSHES} (topology, topic, partition, first_offset, last_offset, records, "
                        f"committed_at) VALUES (%s, 'logs', %s, %s, %s, 1, {ago})", (topology, partition, i, i, age))
        for i, (topology, partition, age) in enumerate(CLOSES):
            cur.execute(f"INSERT INTO {schema.PANE_CLOSES} (topology, topic, partition, pane_start, closed_by_offset, "
                        f"closed_by_time, committed_at) VALUES (%s, 'logs', %s, {ago}, %s, now(), {ago})",
                        (topology, partition, age, i, age))
        for i, age in enumerate(PANES):
            cur.execute(f"INSERT INTO {schema.PANE_TOTALS} (topic, pane_start, records) VALUES ('logs', {ago}, %s)", (age, i))
            cur.execute(f"INSERT INTO {schema.PANE_CONFIG_COUNTS} (topic, pane_start, config_id, records) "
                        f"VALUES ('logs', {ago}, 7, %s)", (age, i))
            cur.execute(f"INSERT INTO {schema.PANE_HOST_COUNTS} (topic, pane_start, host, records) "
                        f"VALUES ('logs', {ago}, 'h', %s)", (age, i))
        for i, age in enumerate(BAD):
            cur.execute(f"INSERT INTO {schema.BAD_RECORDS} (topic, minute, reason, records) VALUES ('logs', {ago}, 'r', %s)",
                        (age, i))
    conn.close()


def left(dsn: str) -> dict[str, set]:
    index = {schema.FLUSHES: "first_offset", schema.PANE_CLOSES: "closed_by_offset", schema.PANE_TOTALS: "records",
             schema.PANE_CONFIG_COUNTS: "records", schema.PANE_HOST_COUNTS: "records", schema.BAD_RECORDS: "records"}
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        found = {}
        for table, column in index.items():
            cur.execute(f"SELECT {column} FROM {table}")
            found[table] = {row[0] for row in cur.fetchall()}
    conn.close()
    return found


def test_the_task_deletes_what_is_older_than_the_pipelines_retention_and_keeps_each_partitions_newest(
        scratch_dsn, tmp_path, monkeypatch):
    from operators.storm_topology import ResultStoreRetentionOperator

    fill(scratch_dsn)
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump({"topics": [{"name": "logs"}], "results_retention": RETENTION}))
    monkeypatch.setenv("LOGSTREAM_PIPELINE_CONFIG", str(tmp_path / "pipeline.yaml"))
    parts = urlsplit(scratch_dsn)
    monkeypatch.setenv("AIRFLOW_CONN_RETENTION_TEST", json.dumps({
        "conn_type": "postgres", "host": parts.hostname, "port": parts.port, "login": parts.username,
        "password": unquote(parts.password), "schema": parts.path.lstrip("/")}))

    deleted = ResultStoreRetentionOperator(task_id="delete_old_rows", results_conn_id="retention_test").execute({})

    want = expected_left()
    assert left(scratch_dsn) == want
    assert deleted == {schema.FLUSHES: 3, schema.PANE_CLOSES: 2, schema.PANE_TOTALS: 2, schema.PANE_CONFIG_COUNTS: 2,
                       schema.PANE_HOST_COUNTS: 2, schema.BAD_RECORDS: 1}
    assert deleted == {table: rows - len(want[table]) for table, rows in
                       {schema.FLUSHES: len(FLUSHES), schema.PANE_CLOSES: len(CLOSES), schema.PANE_TOTALS: len(PANES),
                        schema.PANE_CONFIG_COUNTS: len(PANES), schema.PANE_HOST_COUNTS: len(PANES),
                        schema.BAD_RECORDS: len(BAD)}.items()}
    # a second run finds nothing more to delete
    assert set(ResultStoreRetentionOperator(task_id="again", results_conn_id="retention_test").execute({}).values()) == {0}


def test_two_copies_deleting_at_once_in_batches_of_one_end_where_one_does(scratch_dsn):
    fill(scratch_dsn)
    retention = ResultRetention(**RETENTION)
    totals, errors = [], []

    def copy() -> None:
        store = PostgresResultStore.from_dsn(scratch_dsn)
        try:
            totals.append(store.apply_retention(retention, batch=1))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)
        finally:
            store.close()

    threads = [threading.Thread(target=copy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert left(scratch_dsn) == expected_left()
    # every row deleted once between them
    assert {table: totals[0][table] + totals[1][table] for table in totals[0]} == {
        schema.FLUSHES: 3, schema.PANE_CLOSES: 2, schema.PANE_TOTALS: 2, schema.PANE_CONFIG_COUNTS: 2,
        schema.PANE_HOST_COUNTS: 2, schema.BAD_RECORDS: 1}


def test_a_retention_of_zero_days_or_of_words_is_refused():
    with pytest.raises(ValueError, match="panes_days must be a number of days above 0"):
        ResultRetention(panes_days=0)
    with pytest.raises(ValueError, match="flushes_days must be a number"):
        ResultRetention(flushes_days="a week")
    assert ResultRetention(bad_records_days=None).bad_records_days is None
