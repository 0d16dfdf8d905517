"""The live dashboard under load: 50 and 500 WebSocket clients while flushes are committed, and the
browser's render time of each push.

    PYTHONPATH=plugins .venv/bin/python bench/dashboard_bench.py [--clients 50,500] [--seconds 60] [--rate 5] [--no-browser]

Needs the stack's postgres and airflow (``python -m logstream stack up postgres airflow``). Logs in
as the stack's ``operator`` and opens the feed as the page does (``_token`` cookie, Origin). The feed
serves at most ``SOCKETS_PER_USER`` sockets per user, so the clients come as one user per that many:
the operator's token re-signed with the stack's JWT secret for users ``bench-0``, ``bench-1``... (the
auth manager checks them as any login: signature, expiry, role). A writer commits flushes into the
real result store like the topology (counts, offset, flush row and ``NOTIFY`` in one transaction)
``--rate`` times a second on a topic of its own; every client notes when a snapshot first shows each
commit (the topic's ``last_update``), so a delay is the time from the end of ``COMMIT`` to the client
having the numbers. A client decodes only its topic's part of each push, so that 500 of them in one
process measure the server rather than this process's JSON parsing; the bench's own CPU is printed.

The same run measures the baselines first: the api-server idle, then one client. Headless Chromium
(Debian's, through Selenium) has the live page open during the one-client phase and the largest
load: the page measures each push (User Timing: "live render", from the message to the DOM and
charts updated; "live frame", to the next frame after it) and the bench collects them with a
PerformanceObserver installed before the page's scripts, with the page's navigation timing. The
api-server's CPU is its process tree's CPU time over each phase. The bench's rows are deleted at the
end.
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

import jwt
import psutil
import psycopg2
from websockets.asyncio.client import connect

from logstream.results import schema
from logstream.results.store import ensure_schema
from logstream.stack.airflow import OPERATOR, stack_passwords
from logstream.stack.config import StackConfig
from logstream.stack.credentials import local_secret
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


DECODER = json.JSONDecoder()


def topic_update(text: str, topic: str) -> str | None:
    """``topic``'s ``last_update`` in a snapshot's text, decoding that topic's object only (each
    topic's object starts with its name: ``live_view._empty_topic``)."""
    at = text.find(f'{{"topic": {json.dumps(topic)}')
    if at < 0:
        return None
    return DECODER.raw_decode(text, at)[0]["last_update"]


async def client(url: str, headers: dict, origin: str, writer: Writer, seen: dict[str, float], stop: asyncio.Event,
                 opened: asyncio.Event, sizes: list[int]) -> None:
    """Notes in ``seen`` when a snapshot first showed each commit."""
    async with connect(url, additional_headers=headers, origin=origin, open_timeout=120, max_size=2**24) as ws:
        # a client's first push carries every topic (its size is not a push's): the phase starts once
        # every client has had it, so that the 500 first pushes are not counted as the commits' delay
        await asyncio.wait_for(ws.recv(), 120)
        opened.set()
        while not stop.is_set():
            try:
                text = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                continue
            received = time.monotonic()
            if len(sizes) < 5000:
                sizes.append(len(text))
            last_update = topic_update(text, writer.topic)
            if last_update is None:
                continue
            shown = datetime.fromisoformat(last_update)
            # a snapshot shows every commit up to its newest one
            for stamp in list(writer.committed):
                if stamp not in seen and datetime.fromisoformat(stamp) <= shown:
                    seen[stamp] = received


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def phase(config: StackConfig, tokens: list[str], writer: Writer, cpu: ApiServerCpu, *, seconds: float,
                rate: float, page: Page | None = None) -> dict:
    base = f"http://{config.host}:{config.ports['airflow']}"
    url = f"ws://{config.host}:{config.ports['airflow']}/live/ws"
    stop = asyncio.Event()
    clients = len(tokens)
    openings = [asyncio.Event() for _ in range(clients)]
    seen: list[dict[str, float]] = [{} for _ in range(clients)]
    sizes: list[int] = []
    tasks = [asyncio.create_task(client(url, {"Cookie": f"_token={token}"}, base, writer, mine, stop, opened, sizes))
             for token, opened, mine in zip(tokens, openings, seen)]
    for opened in openings:
        await asyncio.wait_for(opened.wait(), 180)
    if page is not None:
        await asyncio.to_thread(page.forget_measures)
    commits, first = 0, len(writer.committed)
    own = psutil.Process()
    cpu_before, own_before, started = cpu.seconds(), sum(own.cpu_times()[:2]), time.monotonic()
    while time.monotonic() - started < seconds:
        if rate:
            await asyncio.to_thread(writer.commit)
            commits += 1
            await asyncio.sleep(max(0.0, started + commits / rate - time.monotonic()))
        else:
            await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    cpu_percent = 100 * (cpu.seconds() - cpu_before) / elapsed
    own_percent = 100 * (sum(own.cpu_times()[:2]) - own_before) / elapsed
    await asyncio.sleep(2)  # the last commits' pushes are still on their way
    stop.set()
    await asyncio.gather(*tasks)
    ours = list(writer.committed.items())[first:]
    delays = sorted(mine[stamp] - at for mine in seen for stamp, at in ours if stamp in mine)
    result = {
        "clients": clients, "seconds": round(elapsed, 1), "commits": commits, "pushes_seen": len(delays),
        "median_ms": round(1000 * statistics.median(delays), 1) if delays else None,
        "p99_ms": round(1000 * percentile(delays, 0.99), 1) if delays else None,
        "max_ms": round(1000 * delays[-1], 1) if delays else None,
        "expected_pushes": commits * clients, "api_server_cpu_percent": round(cpu_percent, 1),
        "bench_cpu_percent": round(own_percent, 1),
        "push_bytes_median": int(statistics.median(sizes)) if sizes else None,
    }
    if page is not None:
        result["browser"] = await asyncio.to_thread(page.measures)
    return result


class Page:
    """The live page in headless Chromium, its pushes' User Timing measures collected as they come."""

    OBSERVER = """
        window.benchMeasures = [];
        new PerformanceObserver((list) => {
          for (const entry of list.getEntries()) {
            window.benchMeasures.push({name: entry.name, duration: entry.duration, end: entry.startTime + entry.duration,
                                       bytes: entry.detail.bytes,
                                       topics: entry.detail.topics, changed: entry.detail.changed});
          }
        }).observe({type: "measure"});
    """

    def __init__(self, config: StackConfig, token: str) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1100"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        base = f"http://{config.host}:{config.ports['airflow']}"
        self.driver.get(f"{base}/api/v2/version")  # the cookie needs a page of the origin
        self.driver.add_cookie({"name": "_token", "value": token, "path": "/"})
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": self.OBSERVER})
        self.driver.get(f"{base}/live/")
        deadline = time.monotonic() + 120
        while not self.driver.execute_script("return window.benchMeasures.length"):
            if time.monotonic() > deadline:
                raise TimeoutError("the live page rendered no push in 120 s")
            time.sleep(0.2)
        # from the navigation's start: the page's own files loaded, and the first push's numbers drawn
        self.load = self.driver.execute_script("""
            const nav = performance.getEntriesByType("navigation")[0];
            const first = window.benchMeasures.find((m) => m.name === "live render");
            return {dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
                    load_ms: Math.round(nav.loadEventEnd), first_numbers_ms: Math.round(first.end)};
        """)

    def forget_measures(self) -> None:
        self.driver.execute_script("window.benchMeasures = []")

    def measures(self) -> dict:
        entries = self.driver.execute_script("return window.benchMeasures")
        summary: dict = {}
        for name in ("live render", "live frame"):
            durations = [e["duration"] for e in entries if e["name"] == name]
            if durations:
                summary[name.replace(" ", "_") + "_ms"] = {
                    "pushes": len(durations), "median": round(statistics.median(durations), 1),
                    "p99": round(percentile(durations, 0.99), 1), "max": round(max(durations), 1)}
        summary["push_bytes_median"] = statistics.median(e["bytes"] for e in entries) if entries else None
        summary["topics"] = entries[-1]["topics"] if entries else None
        renders = [e for e in entries if e["name"] == "live render"]
        summary["topics_changed_per_push"] = statistics.median(e["changed"] for e in renders) if renders else None
        return summary

    def close(self) -> None:
        self.driver.quit()


def login(config: StackConfig) -> str:
    body = json.dumps({"username": OPERATOR, "password": stack_passwords(config)[OPERATOR]}).encode()
    request = urllib.request.Request(f"http://{config.host}:{config.ports['airflow']}/auth/token", data=body,
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["access_token"]


def client_tokens(config: StackConfig, token: str, clients: int) -> list[str]:
    """A token per client, ``SOCKETS_PER_USER`` clients per user: the operator's login re-signed with
    the stack's JWT secret for users ``bench-0``, ``bench-1``... (same role, same expiry)."""
    from dashboard.app import SOCKETS_PER_USER

    secret = local_secret(config, "airflow-jwt")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    users = [jwt.encode({**claims, "sub": f"bench-{n}"}, secret, algorithm=header["alg"], headers={"kid": header.get("kid")})
             for n in range(-(-clients // SOCKETS_PER_USER))]
    return [users[i // SOCKETS_PER_USER] for i in range(clients)]


def ratio(load: float | None, base: float | None) -> str:
    return f"x{load / base:.2f}" if load is not None and base else "--"


async def main(client_counts: list[int], seconds: float, rate: float, browser: bool) -> None:
    config = StackConfig()
    dsn = Postgres(config).dsn("logstream")
    token = login(config)
    cpu = ApiServerCpu(config)
    page = await asyncio.to_thread(Page, config, token) if browser else None
    try:
        with Writer(dsn, f"bench_dashboard_{uuid.uuid4().hex[:8]}") as writer:
            print(f"writer: {rate:g} commits/s on {writer.topic}; api-server pid {cpu.root.pid}; "
                  f"load average {' '.join(f'{x:.1f}' for x in psutil.getloadavg())}", flush=True)
            if page is not None:
                print(f"page load: {json.dumps(page.load)}", flush=True)
            results = [("idle (no client, no commits)",
                        await phase(config, [], writer, cpu, seconds=15, rate=0))]
            print(f"{results[-1][0]:<32} {json.dumps(results[-1][1])}", flush=True)
            results.append(("baseline: 1 client", await phase(config, client_tokens(config, token, 1), writer, cpu,
                                                               seconds=20, rate=rate, page=page)))
            print(f"{results[-1][0]:<32} {json.dumps(results[-1][1])}", flush=True)
            for count in client_counts:
                results.append((f"load: {count} clients", await phase(
                    config, client_tokens(config, token, count), writer, cpu, seconds=seconds, rate=rate,
                    page=page if count == max(client_counts) else None)))
                print(f"{results[-1][0]:<32} {json.dumps(results[-1][1])}", flush=True)
    finally:
        if page is not None:
            page.close()
    base = results[1][1]
    for name, load in results[2:]:
        print(f"{name}: median delay {ratio(load['median_ms'], base['median_ms'])}, p99 delay "
              f"{ratio(load['p99_ms'], base['p99_ms'])}, api-server CPU "
              f"{ratio(load['api_server_cpu_percent'], max(base['api_server_cpu_percent'], 0.1))} the baseline's; "
              f"pushes seen {load['pushes_seen']} of {load['expected_pushes']} "
              f"({load['pushes_seen'] / max(load['expected_pushes'], 1):.1%}); delays under 1 s: "
              f"{'yes' if load['max_ms'] is not None and load['max_ms'] < 1000 else 'NO'} (max {load['max_ms']} ms)")
        if "browser" in load and "browser" in base:
            for measure in ("live_render_ms", "live_frame_ms"):
                b, m = base["browser"].get(measure), load["browser"].get(measure)
                if b and m:
                    print(f"  browser {measure}: median {m['median']} ms ({ratio(m['median'], b['median'])}), "
                          f"p99 {m['p99']} ms ({ratio(m['p99'], b['p99'])}) against the one-client phase")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="50,500", help="client counts, one load phase each (comma-separated)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=5, help="commits per second")
    parser.add_argument("--no-browser", action="store_true", help="no Chromium page (render time not measured)")
    args = parser.parse_args()
    asyncio.run(main([int(n) for n in args.clients.split(",")], args.seconds, args.rate, not args.no_browser))
