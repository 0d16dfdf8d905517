"""The live dashboard under load: 50 WebSocket clients for 60 s while flushes are committed.

    PYTHONPATH=plugins .venv/bin/python bench/dashboard_bench.py [--clients 50] [--seconds 60] [--rate 5]

Needs the stack's postgres and airflow (``python -m logstream stack up postgres airflow``). Logs in
as the stack's ``operator`` and opens the feed as the page does (``_token`` cookie, Origin). A writer
commits flushes into the real result store like the topology (counts, offset, flush row and
``NOTIFY`` in one transaction) ``--rate`` times a second on a topic of its own; every client notes
when a snapshot first shows each commit (the topic's ``last_update``), so a delay is the time from
the end of ``COMMIT`` to the client having the numbers. The same run measures the baseline first:
the api-server idle, then one client. The api-server's CPU is its process tree's CPU time over each
phase. The bench's rows are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import urllib.request
import uuid
from datetime import datetime, timezone

import psutil
import psycopg2
from websockets.asyncio.client import connect

from logstream.results import schema
from logstream.results.store import ensure_schema
from logstream.stack.airflow import OPERATOR, stack_passwords
from logstream.stack.config import StackConfig
from logstream.stack.postgres import Postgres
from logstream.stack.process import ManagedProcess

TABLES = (schema.PANE_HOST_COUNTS, schema.PANE_TOTALS, schema.OFFSETS, schema.FLUSHES)


class Writer:
    """Commits one flush at a time; remembers when each commit (by its ``committed_at``) ended. A commit
    is registered before its COMMIT, so that a push that beats the writer's own bookkeeping still counts."""

    def __init__(self, dsn: str, topic: str) -> None:
        self.dsn = dsn
        self.topic = topic
        self.committed: dict[str, float | None] = {}
        self.offset = 0

    def commit(self) -> None:
        pane = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        records = 100
        with self.conn, self.conn.cursor() as cur:
            cur.execute(f"INSERT INTO {schema.PANE_HOST_COUNTS} (topic, pane_start, host, records) VALUES (%s, %s, %s, %s) "
                        f"ON CONFLICT (topic, pane_start, host) DO UPDATE SET records = {schema.PANE_HOST_COUNTS}.records + EXCLUDED.records",
                        (self.topic, pane, f"10.1.{self.offset % 7}.1", records))
            cur.execute(f"INSERT INTO {schema.PANE_TOTALS} (topic, pane_start, records) VALUES (%s, %s, %s) "
                        f"ON CONFLICT (topic, pane_start) DO UPDATE SET records = {schema.PANE_TOTALS}.records + EXCLUDED.records",
                        (self.topic, pane, records))
            cur.execute(f"INSERT INTO {schema.OFFSETS} (topology, topic, partition, next_offset) VALUES ('bench', %s, 0, %s) "
                        "ON CONFLICT (topology, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
                        (self.topic, self.offset + records))
            cur.execute(f"INSERT INTO {schema.FLUSHES} (topology, topic, partition, first_offset, last_offset, records) "
                        "VALUES ('bench', %s, 0, %s, %s, %s) RETURNING committed_at",
                        (self.topic, self.offset, self.offset + records - 1, records))
            stamp = cur.fetchone()[0].isoformat()
            cur.execute("SELECT pg_notify(%s, %s)", (schema.NOTIFY_CHANNEL, json.dumps(
                {"topic": self.topic, "partition": 0, "last_offset": self.offset + records - 1})))
            self.committed[stamp] = None
        self.committed[stamp] = time.monotonic()
        self.offset += records

    def __enter__(self) -> Writer:
        self.conn = psycopg2.connect(self.dsn)
        ensure_schema(self.conn)
        return self

    def __exit__(self, *exc: object) -> None:
        with self.conn, self.conn.cursor() as cur:
            for table in TABLES:
                cur.execute(f"DELETE FROM {table} WHERE topic = %s", (self.topic,))
        self.conn.close()


class ApiServerCpu:
    """CPU seconds of the api-server's process tree (uvicorn may run workers as children)."""

    def __init__(self, config: StackConfig) -> None:
        self.root = psutil.Process(ManagedProcess("airflow-api-server", config.run_dir).pid())

    def seconds(self) -> float:
        total = 0.0
        for process in [self.root, *self.root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total


async def client(url: str, headers: dict, origin: str, writer: Writer, seen: dict[str, float], stop: asyncio.Event,
                 opened: asyncio.Event) -> None:
    """Notes in ``seen`` when a snapshot first showed each commit."""
    async with connect(url, additional_headers=headers, origin=origin, open_timeout=60, max_size=2**24) as ws:
        opened.set()
        while not stop.is_set():
            try:
                text = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                continue
            received = time.monotonic()
            topic = next((t for t in json.loads(text)["topics"] if t["topic"] == writer.topic), None)
            if topic is None or topic["last_update"] is None:
                continue
            shown = datetime.fromisoformat(topic["last_update"])
            # a snapshot shows every commit up to its newest one
            for stamp in list(writer.committed):
                if stamp not in seen and datetime.fromisoformat(stamp) <= shown:
                    seen[stamp] = received


async def phase(config: StackConfig, token: str, writer: Writer, cpu: ApiServerCpu, *, clients: int,
                seconds: float, rate: float) -> dict:
    base = f"http://{config.host}:{config.ports['airflow']}"
    url = f"ws://{config.host}:{config.ports['airflow']}/live/ws"
    stop = asyncio.Event()
    openings = [asyncio.Event() for _ in range(clients)]
    seen: list[dict[str, float]] = [{} for _ in range(clients)]
    tasks = [asyncio.create_task(client(url, {"Cookie": f"_token={token}"}, base, writer, mine, stop, opened))
             for opened, mine in zip(openings, seen)]
    for opened in openings:
        await asyncio.wait_for(opened.wait(), 120)
    commits, first = 0, len(writer.committed)
    cpu_before, started = cpu.seconds(), time.monotonic()
    while time.monotonic() - started < seconds:
        if rate:
            await asyncio.to_thread(writer.commit)
            commits += 1
            await asyncio.sleep(max(0.0, started + commits / rate - time.monotonic()))
        else:
            await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    cpu_percent = 100 * (cpu.seconds() - cpu_before) / elapsed
    await asyncio.sleep(2)  # the last commits' pushes are still on their way
    stop.set()
    await asyncio.gather(*tasks)
    ours = list(writer.committed.items())[first:]
    delays = sorted(mine[stamp] - at for mine in seen for stamp, at in ours if stamp in mine)
    return {
        "clients": clients, "seconds": round(elapsed, 1), "commits": commits, "pushes_seen": len(delays),
        "median_ms": round(1000 * statistics.median(delays), 1) if delays else None,
        "p99_ms": round(1000 * delays[min(len(delays) - 1, int(0.99 * len(delays)))], 1) if delays else None,
        "max_ms": round(1000 * delays[-1], 1) if delays else None,
        "expected_pushes": commits * clients, "api_server_cpu_percent": round(cpu_percent, 1),
    }


def login(config: StackConfig) -> str:
    body = json.dumps({"username": OPERATOR, "password": stack_passwords(config)[OPERATOR]}).encode()
    request = urllib.request.Request(f"http://{config.host}:{config.ports['airflow']}/auth/token", data=body,
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["access_token"]


async def main(clients: int, seconds: float, rate: float) -> None:
    config = StackConfig()
    dsn = Postgres(config).dsn("logstream")
    token = login(config)
    cpu = ApiServerCpu(config)
    with Writer(dsn, f"bench_dashboard_{uuid.uuid4().hex[:8]}") as writer:
        print(f"writer: {rate:g} commits/s on {writer.topic}; api-server pid {cpu.root.pid}", flush=True)
        results = [
            ("idle (no client, no commits)", await phase(config, token, writer, cpu, clients=0, seconds=15, rate=0)),
            ("baseline: 1 client", await phase(config, token, writer, cpu, clients=1, seconds=20, rate=rate)),
            (f"load: {clients} clients", await phase(config, token, writer, cpu, clients=clients, seconds=seconds, rate=rate)),
        ]
    for name, result in results:
        print(f"{name:<32} {json.dumps(result)}", flush=True)
    base, load = results[1][1], results[2][1]
    print(f"ratios load/baseline: median delay x{load['median_ms'] / base['median_ms']:.2f}, "
          f"p99 delay x{load['p99_ms'] / base['p99_ms']:.2f}, "
          f"api-server CPU x{load['api_server_cpu_percent'] / max(base['api_server_cpu_percent'], 0.1):.2f}")
    print(f"pushes seen {load['pushes_seen']} of {load['expected_pushes']} "
          f"({load['pushes_seen'] / max(load['expected_pushes'], 1):.1%}); delays under 1 s: "
          f"{'yes' if load['max_ms'] is not None and load['max_ms'] < 1000 else 'NO'} (max {load['max_ms']} ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=5, help="commits per second")
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.seconds, args.rate))
