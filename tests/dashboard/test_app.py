"""The live feed on the stack's real api-server: what a logged-in operator receives equals what the
test committed, every client gets each committed flush within a second, and a client that sends
garbage or never reads does not hold up the others."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from datetime import datetime, timedelta

import pytest
from dashboard_session import DashboardSession, next_snapshot
from online_results import PANE, Entry, minute, utc_now
from produced_and_landed import create_topic, produce_records
from websockets.exceptions import ConnectionClosed

PUSH_WITHIN_SECONDS = 1.0


@pytest.fixture(scope="module")
def session(stack) -> DashboardSession:
    return DashboardSession(stack.config)


def topic_of(snapshot: dict, topic: str) -> dict | None:
    return next((t for t in snapshot["topics"] if t["topic"] == topic), None)


def entries(pane: datetime, count: int, *, host_base: int = 1) -> list[Entry]:
    return [Entry(host=f"172.16.0.{host_base + i % 4}", config_id=7 + i % 3, pane_start=pane) for i in range(count)]


async def until_topic(ws, topic: str, predicate, timeout: float) -> dict:
    """Snapshots until one shows ``topic`` as ``predicate`` wants; returns that topic's part."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no snapshot of {topic} as expected within {timeout}s")
        shown = topic_of(await next_snapshot(ws, remaining), topic)
        if shown is not None and predicate(shown):
            return shown


def test_the_json_equals_what_was_committed(session, results):
    pane = minute(utc_now())
    results.commit(entries(pane, 9) + entries(pane - PANE, 5, host_base=2),
                   malformed={(pane, "bad_ip"): 2})
    snapshot = json.loads(session.get("/live/api/snapshot", session.login("operator"))[1])
    shown = topic_of(snapshot, results.topic)
    now = datetime.fromisoformat(snapshot["generated_at"])
    assert shown["top_hosts"] == results.top_hosts()
    assert shown["configs_last_hour"] == results.configs_last_hour()
    assert shown["malformed"] == results.malformed_last_hour(now) == [{"reason": "bad_ip", "records": 2}]
    assert shown["records_per_second"] == results.records_per_second(now) == round(14 / 60, 2)


def test_the_drill_down_gives_one_hosts_or_configurations_minutes_and_share(session, results):
    pane = minute(utc_now())
    results.commit(entries(pane, 11) + entries(pane - 3 * PANE, 6, host_base=3))
    token = session.login("operator")
    for key, value in (("host", "172.16.0.3"), ("config_id", 8)):
        status, body = session.get(f"/live/api/series?topic={results.topic}&{key}={value}", token)
        assert status == 200, body
        assert json.loads(body) == results.series(key, value)
    assert json.loads(session.get(f"/live/api/series?topic={results.topic}&host=172.16.0.3", token)[1])["share"] == \
        round((3 + 2) / 17, 4)  # 172.16.0.3: i % 4 == 2 in the 11 (i = 2, 6, 10), i % 4 == 0 in the 6
    assert session.get(f"/live/api/series?topic={results.topic}", token)[0] == 400
    assert session.get(f"/live/api/series?topic={results.topic}&host=a&config_id=1", token)[0] == 400
    assert session.get(f"/live/api/series?topic={results.topic}_none&host=a", token)[0] == 404


def test_a_feed_task_that_dies_of_anything_is_started_again_with_its_traceback_logged():
    from dashboard.app import keep_running
    from dashboard.app import log as app_log

    starts = []

    async def task() -> None:
        starts.append(time.monotonic())
        if len(starts) == 1:
            raise KeyError("topic")
        if len(starts) == 2:
            raise RuntimeError("unforeseen")
        await asyncio.Event().wait()  # the third start runs for good

    async def run() -> None:
        supervisor = asyncio.create_task(keep_running("the listener", task, restart_seconds=0.05))
        while len(starts) < 3:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        supervisor.cancel()
        with pytest.raises(asyncio.CancelledError):
            await supervisor

    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # Airflow's logging set-up replaces the root handlers pytest's caplog uses
    app_log.addHandler(handler)
    try:
        asyncio.run(run())
    finally:
        app_log.removeHandler(handler)
    assert len(starts) == 3
    assert [r.getMessage() for r in records] == [
        "live dashboard: the listener died (restart 1 in 0s)", "live dashboard: the listener died (restart 2 in 0s)"]
    assert [r.exc_info[0] for r in records] == [KeyError, RuntimeError]


def test_without_a_kafka_connection_the_feed_says_staleness_is_off_and_still_serves_the_counts(results):
    """A deployment with no ``kafka_default``: the feed (in this process, on the real result store)
    says ``off`` (the page: "no Kafka connection: stale statistics are not told"), not ``checking``,
    and serves the counts."""
    from dashboard.app import ResultStoreFeed

    results.commit(entries(minute(utc_now()), 2))

    async def read(kafka_config: dict | None) -> dict:
        feed = ResultStoreFeed(results.dsn, kafka_config=kafka_config)
        try:
            return await feed.snapshot()
        finally:
            await feed.close()

    snapshot = asyncio.run(read(None))
    assert snapshot["staleness"] == "off"
    assert topic_of(snapshot, results.topic)["top_hosts"] == results.top_hosts()
    assert asyncio.run(read({"bootstrap.servers": "127.0.0.1:9"}))["staleness"] == "checking"


def test_a_snapshot_request_is_answered_after_the_result_stores_connections_were_dropped(session, results, stack):
    """The requests' pooled connections killed by the server (as a restart of it would): the next
    request is answered all the same, on a new connection."""
    import psycopg2

    from logstream.stack.postgres import reader_and_password

    results.commit(entries(minute(utc_now()), 4))
    token = session.login("operator")
    assert session.get("/live/api/snapshot", token)[0] == 200
    reader, _ = reader_and_password(stack.config, "logstream")
    admin = psycopg2.connect(stack.service("postgres").dsn())
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = %s", (reader,))
            assert cur.fetchone()[0] >= 1  # the pool's idle connection at least (and the listener's)
    finally:
        admin.close()
    status, body = session.get("/live/api/snapshot", token)
    assert status == 200, body
    assert topic_of(json.loads(body), results.topic)["top_hosts"] == results.top_hosts()

    # the listener lost its connection too: it is back, and a commit is pushed again
    async def pushed_again() -> None:
        async with session.feed(token) as ws:
            await next_snapshot(ws, 30)
            await asyncio.to_thread(results.commit, entries(minute(utc_now()), 5, host_base=2))
            expected = results.top_hosts()
            await until_topic(ws, results.topic, lambda t: t["top_hosts"] == expected, 30)

    asyncio.run(pushed_again())


def test_every_client_gets_each_commit_within_a_second(session, results):
    token = session.login("operator")
    pane = minute(utc_now())

    async def scenario() -> list[float]:
        clients = [await session.feed(token).__aenter__() for _ in range(5)]
        try:
            for ws in clients:
                await next_snapshot(ws, 30)
            delays = []
            for round_ in range(1, 4):
                batch = entries(pane, 3 * round_, host_base=round_)
                committed = time.monotonic()
                await asyncio.to_thread(results.commit, batch)
                expected = results.top_hosts()
                for ws in clients:
                    await until_topic(ws, results.topic, lambda t: t["top_hosts"] == expected, 10)
                    delays.append(time.monotonic() - committed)
            return delays
        finally:
            for ws in clients:
                await ws.close()

    delays = asyncio.run(scenario())
    assert len(delays) == 15
    assert max(delays) < PUSH_WITHIN_SECONDS, delays


def test_garbage_from_one_client_closes_only_that_client(session, results):
    token = session.login("operator")

    async def scenario() -> tuple[int, dict]:
        async with session.feed(token) as rude, session.feed(token) as polite:
            await next_snapshot(rude, 30)
            await next_snapshot(polite, 30)
            await rude.send("{not json")
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(rude.recv(), 10)
            await polite.send(json.dumps({"type": "refresh"}))
            await next_snapshot(polite, 10)
            await asyncio.to_thread(results.commit, entries(minute(utc_now()), 4))
            expected = results.top_hosts()
            shown = await until_topic(polite, results.topic, lambda t: t["top_hosts"] == expected, PUSH_WITHIN_SECONDS)
            return closed.value.rcvd.code, shown

    code, shown = asyncio.run(scenario())
    assert code == 1003
    assert shown["top_hosts"] == results.top_hosts()


def test_a_client_that_never_reads_does_not_hold_up_the_others(session, results):
    token = session.login("operator")
    host, port = session.config.host, session.config.ports["airflow"]
    # a raw handshake whose socket is never read again, with the smallest receive buffer
    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    silent.connect((host, port))
    silent.sendall((f"GET /live/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                    f"Origin: {session.base}\r\nCookie: _token={token}\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += silent.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    try:
        async def scenario() -> list[float]:
            async with session.feed(token) as reader:
                await next_snapshot(reader, 30)
                delays = []
                for i in range(20):
                    committed = time.monotonic()
                    await asyncio.to_thread(results.commit, entries(minute(utc_now()), 50, host_base=i))
                    expected = results.top_hosts()
                    await until_topic(reader, results.topic, lambda t: t["top_hosts"] == expected, 10)
                    delays.append(time.monotonic() - committed)
                return delays

        delays = asyncio.run(scenario())
        assert max(delays) < PUSH_WITHIN_SECONDS, delays
    finally:
        silent.close()


def test_a_topic_is_called_stale_only_while_records_wait_in_kafka_with_no_flush(session, results, stack):
    """The topic's Kafka topic holds 30 records. A flush of 10, committed half an hour ago: 20 wait
    with no flush, so the feed calls the topic stale since that flush. A flush of the other 20, also
    half an hour old: nothing waits, so an old last flush is a quiet topic, not a stale one, on every
    read for longer than the threshold. Five more records and a fresh flush of 2: 3 wait; not stale
    at once (a flush just came), stale since that flush once the threshold has passed with no other."""
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    create_topic(kafka, results.topic, 1)
    token = session.login("operator")
    pane = minute(utc_now())
    half_an_hour_ago = utc_now() - timedelta(minutes=30)

    def counted(topic: dict) -> int:
        return sum(h["records"] for h in topic["top_hosts"])

    async def until(ws, predicate, timeout: float) -> tuple[dict, dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            snapshot = await next_snapshot(ws, deadline - time.monotonic())
            topic = topic_of(snapshot, results.topic)
            if topic is not None and predicate(topic):
                assert snapshot["staleness"] == "on", snapshot["staleness"]
                return snapshot, topic
        raise AssertionError(f"no snapshot of {results.topic} as expected within {timeout}s")

    async def scenario() -> dict:
        seen = {}
        async with session.feed(token) as ws:
            produce_records(kafka, results.topic, 30)
            await asyncio.to_thread(results.commit, entries(pane, 10), committed_at=half_an_hour_ago)
            _, seen["stale"] = await until(ws, lambda t: t["stale"] is not None, 60)

            await asyncio.to_thread(results.commit, entries(pane, 20), committed_at=half_an_hour_ago)
            first, seen["quiet"] = await until(ws, lambda t: counted(t) == 30, 30)
            quiet_since = datetime.fromisoformat(first["generated_at"])
            while True:  # every read for longer than the threshold (10 s): still quiet, not stale
                snapshot, topic = await until(ws, lambda t: True, 30)
                assert topic["stale"] is None, topic
                if (datetime.fromisoformat(snapshot["generated_at"]) - quiet_since).total_seconds() > 12:
                    break

            produce_records(kafka, results.topic, 5)
            await asyncio.to_thread(results.commit, entries(pane, 2))
            _, seen["fresh"] = await until(ws, lambda t: counted(t) == 32, 30)
            seen["stale_again_at"], seen["stale_again"] = await until(ws, lambda t: t["stale"] is not None, 60)
        return seen

    seen = asyncio.run(scenario())
    assert seen["stale"]["stale"]["waiting"] == 30 - 10
    assert datetime.fromisoformat(seen["stale"]["stale"]["since"]) == half_an_hour_ago
    assert seen["quiet"]["stale"] is None
    assert seen["fresh"]["stale"] is None
    fresh_flush = results.flushes[-1][0]
    assert seen["stale_again"]["stale"] == {"since": seen["stale_again"]["last_update"], "waiting": 35 - 32}
    assert datetime.fromisoformat(seen["stale_again"]["stale"]["since"]) == fresh_flush
    assert (datetime.fromisoformat(seen["stale_again_at"]["generated_at"]) - fresh_flush).total_seconds() >= 10
