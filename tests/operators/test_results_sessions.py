"""The result store's sessions are bounded (``results_dsn``, the local stack's connection): a writer
paused inside a transaction loses it and its row locks within the idle bound, and a statement
stuck behind a lock ends at the statement bound. On the stack's PostgreSQL."""

from __future__ import annotations

import json

import psycopg2
import pytest
from airflow.providers.postgres.hooks.postgres import PostgresHook

from logstream.results import schema
from logstream.results.store import PostgresResultStore
from online_stats import wait_for
from operators.storm_topology import RESULTS_CONN_ID, results_dsn


def bounded_connection(monkeypatch, options: str) -> None:
    """The results connection of the stack, with ``options`` of the test's own (seconds, not minutes)."""
    conn = PostgresHook.get_connection(RESULTS_CONN_ID)
    monkeypatch.setenv(f"AIRFLOW_CONN_{RESULTS_CONN_ID.upper()}", json.dumps({
        "conn_type": "postgres", "host": conn.host, "port": conn.port, "login": conn.login,
        "password": conn.password, "schema": conn.schema, "extra": {**conn.extra_dejson, "options": options}}))


def test_the_workers_and_the_hooks_get_the_session_bounds(stack):
    for connect in (lambda: psycopg2.connect(results_dsn(RESULTS_CONN_ID)), PostgresHook(RESULTS_CONN_ID).get_conn):
        with connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')")
            assert cur.fetchone() == ("5min", "1min")
        conn.close()


def test_the_live_dashboard_gets_them_too(stack):
    """asyncpg takes server settings, not libpq's ``options``: the connection's own URI (extras as a
    JSON ``__extra__`` parameter) made the server refuse the dashboard's connection."""
    import asyncio

    import asyncpg

    from dashboard.app import _results_dsn

    async def settings() -> tuple:
        conn = await asyncpg.connect(_results_dsn())
        try:
            return tuple(await conn.fetchrow("SELECT current_setting('statement_timeout'), "
                                             "current_setting('idle_in_transaction_session_timeout')"))
        finally:
            await conn.close()

    assert asyncio.run(settings()) == ("5min", "1min")


def test_a_writer_paused_inside_a_transaction_loses_its_row_lock(stack, unique_name, monkeypatch):
    """The bolt's other copy is not held up for longer than the idle bound by a copy paused in a
    flush. Removal check: without ``idle_in_transaction_session_timeout`` in the options the second
    writer never gets the row and the wait fails."""
    bounded_connection(monkeypatch, "-c statement_timeout=300s -c idle_in_transaction_session_timeout=5s")
    dsn = results_dsn(RESULTS_CONN_ID)
    store = PostgresResultStore.from_dsn(dsn)
    store.create_schema()
    store.start_partition(topology=unique_name, topic=unique_name, partition=0, start_offset=0)
    store.close()

    paused = psycopg2.connect(dsn)
    with paused.cursor() as cur:  # a flush that stops (SIGSTOP) after locking its position row
        cur.execute(f"SELECT next_offset FROM {schema.OFFSETS} WHERE topology = %s FOR UPDATE", (unique_name,))

    other = psycopg2.connect(dsn)
    other.autocommit = True

    def row_free() -> bool:
        with other.cursor() as cur:
            try:
                cur.execute(f"SELECT next_offset FROM {schema.OFFSETS} WHERE topology = %s FOR UPDATE NOWAIT",
                            (unique_name,))
                return True
            except psycopg2.errors.LockNotAvailable:
                return False

    assert not row_free(), "the writer holds the row while in its transaction"
    wait_for(row_free, timeout=60, what="the paused writer's row lock being released")
    # the paused writer, woken, learns its transaction is gone: it cannot commit anything
    with pytest.raises(psycopg2.OperationalError, match="idle-in-transaction timeout|terminating connection|server closed the connection"):
        with paused.cursor() as cur:
            cur.execute(f"UPDATE {schema.OFFSETS} SET next_offset = 99 WHERE topology = %s", (unique_name,))
        paused.commit()
    with other.cursor() as cur:
        cur.execute(f"SELECT next_offset FROM {schema.OFFSETS} WHERE topology = %s", (unique_name,))
        assert cur.fetchone() == (0,)
        cur.execute(f"DELETE FROM {schema.OFFSETS} WHERE topology = %s", (unique_name,))
    other.close()


def test_a_statement_stuck_behind_a_lock_ends_at_the_statement_bound(stack, unique_name, monkeypatch):
    bounded_connection(monkeypatch, "-c statement_timeout=2s -c idle_in_transaction_session_timeout=60s")
    hook = PostgresHook(RESULTS_CONN_ID)
    holder = PostgresHook(RESULTS_CONN_ID).get_conn()
    with holder.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (unique_name,))
    try:
        with pytest.raises(Exception, match="canceling statement due to statement timeout"):
            hook.get_records("SELECT pg_advisory_lock(hashtext(%s))", parameters=(unique_name,))
    finally:
        holder.close()


def test_the_live_dashboard_reads_with_a_role_that_can_only_read(stack, unique_name):
    """The dashboard's connection (``_results_dsn``) is the result store's read-only role: it reads
    the writers' tables, those made before its grant and after, and listens to their NOTIFYs; it can
    write, make or drop nothing, not even after asking for a read-write transaction. Removal checks:
    the dashboard on ``logstream_results`` (the owner) writes; without the default privileges the
    table made afterwards is refused."""
    import asyncio

    import asyncpg

    from dashboard.app import _results_dsn

    owner = psycopg2.connect(results_dsn(RESULTS_CONN_ID))
    owner.autocommit = True
    store = PostgresResultStore.from_dsn(results_dsn(RESULTS_CONN_ID))
    store.create_schema()
    store.start_partition(topology=unique_name, topic=unique_name, partition=0, start_offset=41)
    store.close()
    later = f"{unique_name}_later"  # a table the writers make after the read-only role's grants
    with owner.cursor() as cur:
        cur.execute(f"CREATE TABLE {later} (n integer)")
        cur.execute(f"INSERT INTO {later} VALUES (7)")

    async def as_the_dashboard() -> dict:
        conn = await asyncpg.connect(_results_dsn())
        seen: dict = {"refused": []}
        try:
            seen["user"] = await conn.fetchval("SELECT current_user")
            seen["offset"] = await conn.fetchval(f"SELECT next_offset FROM {schema.OFFSETS} WHERE topology = $1",
                                                 unique_name)
            seen["later"] = await conn.fetchval(f"SELECT n FROM {later}")
            notified = asyncio.get_running_loop().create_future()
            await conn.add_listener(schema.NOTIFY_CHANNEL, lambda *args: notified.done() or notified.set_result(args[3]))
            with owner.cursor() as cur:
                cur.execute("SELECT pg_notify(%s, %s)", (schema.NOTIFY_CHANNEL, unique_name))
            seen["notified"] = await asyncio.wait_for(notified, 30)
            for statement in (f"UPDATE {schema.OFFSETS} SET next_offset = 0 WHERE topology = '{unique_name}'",
                              f"DELETE FROM {later}", f"INSERT INTO {later} VALUES (8)",
                              f"CREATE TABLE {unique_name}_mine (n integer)", f"DROP TABLE {later}"):
                for begin in ("BEGIN", "BEGIN READ WRITE"):
                    try:
                        await conn.execute(f"{begin}; {statement}; COMMIT")
                    except asyncpg.PostgresError as err:
                        seen["refused"].append(type(err).__name__)
                        await conn.execute("ROLLBACK")
        finally:
            await conn.close()
        return seen

    seen = asyncio.run(as_the_dashboard())
    with owner.cursor() as cur:
        cur.execute(f"SELECT next_offset FROM {schema.OFFSETS} WHERE topology = %s", (unique_name,))
        assert cur.fetchone() == (41,)
        cur.execute(f"SELECT array_agg(n) FROM {later}")
        assert cur.fetchone() == ([7],)
        cur.execute("SELECT count(*) FROM pg_tables WHERE tablename = %s", (f"{unique_name}_mine",))
        assert cur.fetchone() == (0,)
        cur.execute(f"DROP TABLE {later}")
    owner.close()
    assert seen["user"] != PostgresHook.get_connection(RESULTS_CONN_ID).login
    assert (seen["offset"], seen["later"], seen["notified"]) == (41, 7, unique_name)
    # refused for the read-only transaction, then (read-write asked for) for the missing privilege
    assert seen["refused"] == ["ReadOnlySQLTransactionError", "InsufficientPrivilegeError"] * 5, seen["refused"]
