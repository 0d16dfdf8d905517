"""How long the live page's snapshot read takes once the result store holds 30 days of history,
against the same read on a store that holds only the last hour (the baseline, same run, same data
for the hour the page shows).

    PYTHONPATH=plugins .venv/bin/python bench/live_view_bench.py [--days 30] [--partitions 3] [--reads 20] [--retention]

Needs the stack's postgres (``python -m logstream stack up postgres``). Makes two scratch databases
in it (dropped at the end), creates the result store's tables (``include/sql/results/postgres.sql``)
in both and fills them server-side with ``generate_series`` as the topology would have written them
over ``--days`` days of one topic: a flush a second per partition (``online_flushes``), one pane a
minute with 50 Configuration IDs, 20 hosts and 3 bad-record reasons, pane closes per partition. The
hour store gets the last hour of the same rows. Each store is read ``--reads`` times with the
dashboard's own ``read_snapshot`` (after one warm-up read); the median and the worst are printed,
and their ratio to the baseline. ``--retention``: then the store's daily retention
(``ResultStore.apply_retention`` with ``include/pipeline.yaml``'s ``results_retention``) runs on the
long store, timed, and the reads are measured again.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psycopg2

from logstream.pipeline_config import load_pipeline_config
from logstream.results import schema
from logstream.results.live_view import read_snapshot
from logstream.results.store import PostgresResultStore
from logstream.stack.config import StackConfig
from logstream.stack.postgres import Postgres

TOPIC = "security_logs"
CONFIGS, HOSTS, REASONS = 50, 20, 3


def fill(dsn: str, days: float, partitions: int) -> dict[str, int]:
    """The tables of a store holding ``days`` of history up to now; returns each table's row count."""
    minutes, seconds = int(days * 1440), int(days * 86400)
    statements = [
        schema.ddl(),
        # a flush a second per partition, 100 records each, every offset once
        f"""INSERT INTO {schema.FLUSHES} (topology, topic, partition, first_offset, last_offset, records, expired, committed_at)
            SELECT 'bench', '{TOPIC}', p, s * 100, s * 100 + 99, 100, 0, now() - make_interval(secs => {seconds} - s)
            FROM generate_series(0, {partitions - 1}) p, generate_series(1, {seconds}) s""",
        f"""INSERT INTO {schema.PANE_TOTALS} (topic, pane_start, records, late_records, expired_records)
            SELECT '{TOPIC}', date_trunc('minute', now()) - make_interval(mins => m), 6000 * {partitions}, m % 7, m % 3
            FROM generate_series(0, {minutes - 1}) m""",
        f"""INSERT INTO {schema.PANE_CONFIG_COUNTS} (topic, pane_start, config_id, records, late_records)
            SELECT '{TOPIC}', date_trunc('minute', now()) - make_interval(mins => m), 1000 + c, 100 + c, 0
            FROM generate_series(0, {minutes - 1}) m, generate_series(1, {CONFIGS}) c""",
        f"""INSERT INTO {schema.PANE_HOST_COUNTS} (topic, pane_start, host, records, late_records)
            SELECT '{TOPIC}', date_trunc('minute', now()) - make_interval(mins => m), '10.0.0.' || h, 300 + h, 0
            FROM generate_series(0, {minutes - 1}) m, generate_series(1, {HOSTS}) h""",
        f"""INSERT INTO {schema.BAD_RECORDS} (topic, minute, reason, records)
            SELECT '{TOPIC}', date_trunc('minute', now()) - make_interval(mins => m), 'reason_' || r, r
            FROM generate_series(0, {minutes - 1}) m, generate_series(1, {REASONS}) r""",
        f"""INSERT INTO online_pane_closes (topology, topic, partition, pane_start, closed_by_offset, closed_by_time, committed_at)
            SELECT 'bench', '{TOPIC}', p, date_trunc('minute', now()) - make_interval(mins => m), m, now(), now()
            FROM generate_series(0, {partitions - 1}) p, generate_series(1, {minutes - 1}) m""",
        f"""INSERT INTO {schema.OFFSETS} (topology, topic, partition, next_offset)
            SELECT 'bench', '{TOPIC}', p, {seconds} * 100 + 100 FROM generate_series(0, {partitions - 1}) p""",
    ]
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
            counts = {}
            for table in (schema.FLUSHES, schema.PANE_CONFIG_COUNTS, schema.PANE_HOST_COUNTS, schema.PANE_TOTALS,
                          schema.BAD_RECORDS, "online_pane_closes"):
                cur.execute(f"SELECT count(*) FROM {table}")
                counts[table] = cur.fetchone()[0]
        return counts
    finally:
        conn.close()


async def read_times(dsn: str, reads: int) -> tuple[list[float], dict]:
    conn = await asyncpg.connect(dsn)
    try:
        snapshot = await read_snapshot(conn)  # warm-up: plans and pages cached as on a running api-server
        times = []
        for _ in range(reads):
            began = time.perf_counter()
            snapshot = await read_snapshot(conn)
            times.append(time.perf_counter() - began)
        return times, snapshot
    finally:
        await conn.close()


def database_dsn(superuser_dsn: str, database: str) -> str:
    parts = urlsplit(superuser_dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def report(name: str, times: list[float], snapshot: dict) -> None:
    topic = snapshot["topics"][0]
    print(f"{name}: {len(times)} reads, median {1000 * statistics.median(times):.1f} ms, worst {1000 * max(times):.1f} ms "
          f"({len(topic['history']['panes'])} panes, {len(topic['configs_last_hour'])} configs)", flush=True)


def main(days: float, partitions: int, reads: int, retention: bool) -> None:
    superuser = Postgres(StackConfig()).dsn()
    admin = psycopg2.connect(superuser)
    admin.autocommit = True
    stores = {"last hour only (baseline)": ("bench_live_view_hour", 1 / 24), f"{days:g} days": ("bench_live_view_days", days)}
    try:
        results = {}
        for name, (database, span) in stores.items():
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{database}"')
                cur.execute(f'CREATE DATABASE "{database}"')
            began = time.monotonic()
            counts = fill(database_dsn(superuser, database), span, partitions)
            print(f"{name}: filled in {time.monotonic() - began:.0f}s: {counts}", flush=True)
            times, snapshot = asyncio.run(read_times(database_dsn(superuser, database), reads))
            results[name] = times
            report(name, times, snapshot)
        base, full = results["last hour only (baseline)"], results[f"{days:g} days"]
        print(f"ratio {days:g} days / last hour: median x{statistics.median(full) / statistics.median(base):.2f}, "
              f"worst x{max(full) / max(base):.2f}")
        if retention:
            dsn = database_dsn(superuser, stores[f"{days:g} days"][0])
            kept = load_pipeline_config().results_retention
            store = PostgresResultStore.from_dsn(dsn)
            began = time.monotonic()
            try:
                deleted = store.apply_retention(kept)
            finally:
                store.close()
            took = time.monotonic() - began
            print(f"retention {kept}: {sum(deleted.values()):,} rows deleted in {took:.1f}s "
                  f"({sum(deleted.values()) / took:,.0f} rows/s): {deleted}", flush=True)
            times, snapshot = asyncio.run(read_times(dsn, reads))
            report(f"{days:g} days after the retention", times, snapshot)
    finally:
        with admin.cursor() as cur:
            for database, _ in stores.values():
                cur.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--retention", action="store_true", help="then time the daily retention and read again")
    args = parser.parse_args()
    main(args.days, args.partitions, args.reads, args.retention)
