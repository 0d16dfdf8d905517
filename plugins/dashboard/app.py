"""The live dashboard's FastAPI app, mounted in Airflow's api-server by ``dashboard_plugin.py``.

``GET /`` the page, ``GET /static/<file>`` its script and style, ``GET /api/incidents`` the
pipeline's open and recently closed incidents, ``GET /api/snapshot`` the numbers
as JSON, ``GET /api/storm`` the Storm topologies' figures from Nimbus, ``GET /api/flume`` the Flume
agents' from their metrics, ``GET /api/series?topic=T&host=H`` (or ``&config_id=C``) one host's or Configuration ID's
records per minute of the last hour and its share (the page's drill-down), ``/ws`` the push feed: the
snapshot on connect, then after every committed flush the topics it changed (``pushed_topics.py``), closed
(1008) when the login ends; at most ``SOCKETS_PER_USER`` feeds per user. Every response carries a
Content-Security-Policy (nothing but the page's own files; framed only by Airflow's own UI).

One :class:`ResultStoreFeed` per process (started in the app's lifespan) LISTENs on the result
store's ``NOTIFY`` channel, reads one snapshot per burst of notifications and fans it out; each
client has its own sender, which sends what changed since its last push whenever it is ready, so a
slow or silent client never holds up the others and is dropped when a send stalls.

Each topic of a snapshot carries ``stale``: ``{"since": the last flush, "waiting": records}`` when
records have waited in Kafka for two flush intervals (at least 10 s) with no flush
(``logstream/results/staleness.py``), else null; the snapshot's ``staleness`` says whether that was
judged: ``on``, ``checking`` (Kafka not read yet), ``failing`` (Kafka not readable) or ``off`` (no
``kafka_default`` connection). Kafka's offsets come from a poller of their own, so an unreachable
Kafka never holds up the counts; the poller wakes the listener while records wait, so the clock is
judged every poll, not only on flushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect, status
from fastapi.responses import FileResponse, JSONResponse

from dashboard.auth import CLOSE_REFUSED, RESULTS_CONN_ID, DashboardUserDep, accept_dashboard_socket, close_when_login_ends
from dashboard.pushed_topics import PushedTopics
from logstream.incidents import RECENT_VARIABLE, VARIABLE_PREFIX, incidents_view
from logstream.results.live_view import read_series, read_snapshot
from logstream.results.schema import NOTIFY_CHANNEL
from logstream.kafka_topics import log_bounds
from logstream.results.staleness import StalenessJudge, waiting_records
from logstream.results.store import SESSION_OPTIONS, session_settings
from logstream.storm.topology_config import load_settings

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# what the dashboard reads the result store with: its read-only role (``RESULTS_CONN_ID`` is the
# writers' connection, and the one whose read right lets a user see the page)
READER_CONN_ID = "logstream_results_reader"
# uPlot 1.6.32 (MIT, uPlot.LICENSE) is vendored from the npm registry's tarball as it is: no build step
STATIC_FILES = {"dashboard.js", "dashboard.css", "uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE"}
# without notifications the snapshot is still refreshed now and then: records/s decays with time
IDLE_REFRESH_SECONDS = 10.0
SEND_TIMEOUT_SECONDS = 10.0
RECONNECT_SECONDS = 2.0
STORM_CONN_ID = "storm_default"
FLUME_CONN_ID = "flume_default"
# Nimbus and the Flume agents are asked at most this often, whatever the number of pages (they poll every 10 s)
PANEL_READ_SECONDS = 5.0
# what a pooled connection that the server closed raises at its next use
CONNECTION_GONE = (asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.PostgresConnectionError,
                   asyncpg.AdminShutdownError, ConnectionError)
# pooled connections of the HTTP reads (/api/snapshot, /api/series) per api-server process
REQUEST_CONNECTIONS = 4
# a feed task (the listener, Kafka's poller) that dies of anything unforeseen is started again after this
RESTART_SECONDS = 5.0
# how often Kafka's offsets are read for the staleness check
KAFKA_POLL_SECONDS = 2.0
KAFKA_POLL_TIMEOUT_SECONDS = 5.0
KAFKA_CONN_ID = "kafka_default"
# WebSocket close codes: "unsupported data" for a message that is not ours, "try again later"
CLOSE_BAD_MESSAGE = 1003
CLOSE_TOO_SLOW = 1013
# open feeds per user (each is a snapshot fan-out and a database-backed push): more are refused
SOCKETS_PER_USER = 8
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class Subscriber:
    """One WebSocket client: the topic versions it was sent, and the task that sends it what changed
    whenever the feed has a new snapshot (one push however many came while it was sending)."""

    def __init__(self, websocket: WebSocket, pushed: PushedTopics) -> None:
        self.websocket = websocket
        self.pushed = pushed
        self.sent: dict[str, int] = {}
        self.ready = asyncio.Event()

    def wake(self, *, everything: bool = False) -> None:
        """A new snapshot is there; ``everything``: the next push carries every topic (a refresh)."""
        if everything:
            self.sent.clear()
        self.ready.set()

    async def send_forever(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            await asyncio.wait_for(self.websocket.send_text(self.pushed.message(self.sent)), SEND_TIMEOUT_SECONDS)


class ResultStoreFeed:
    """LISTEN on the result store, snapshot after each burst of NOTIFYs, wake every subscriber to push it."""

    def __init__(self, dsn: str, *, kafka_config: dict[str, Any] | None = None, flush_every_seconds: float = 1.0) -> None:
        self.dsn = dsn
        self.subscribers: set[Subscriber] = set()
        self.pushed = PushedTopics()
        # every topic's numbers as last read, in order; the topics flushed since the last read
        self.current: dict[str, dict[str, Any]] = {}
        self.notified: set[str] = set()
        self.full_read_due = True
        self.full_read_at = 0.0
        self.changed = asyncio.Event()
        self.kafka_config = kafka_config
        self.staleness = StalenessJudge(flush_every_seconds)
        # per topic (log starts, ends), as last read by poll_kafka; None: not read (yet, or failing)
        self.kafka: dict[str, tuple[dict[int, int], dict[int, int]]] | None = None
        self.kafka_state = "checking" if kafka_config is not None else "off"
        # per topic, the stored next offsets the listener last read
        self.stored: dict[str, dict[int, int]] = {}
        self.pool: asyncpg.Pool | None = None
        self.pool_lock = asyncio.Lock()

    def subscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.add(subscriber)
        if self.pushed.ready:
            subscriber.wake()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        """A flush's NOTIFY names its topic: the next read reads that topic (any other: all of them)."""
        try:
            topic = json.loads(payload)["topic"]
        except (ValueError, TypeError, KeyError):
            topic = None
        if isinstance(topic, str):
            self.notified.add(topic)
            self.changed.set()
        else:
            self.read_everything()

    def read_everything(self) -> None:
        """Wakes the listener for a read of every topic (time passed, Kafka's offsets moved, a lost connection)."""
        self.full_read_due = True
        self.changed.set()

    async def _pooled(self, read: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
        """``read`` on a pooled connection (made on first use, up to ``REQUEST_CONNECTIONS`` kept open,
        so a request pays no connection set-up; the listener keeps its own). A connection the server
        closed is mostly replaced by the pool when next taken; one closed while it is being taken
        fails its first use (seen: ``InternalClientError: cannot switch to state 15``, a 500 to the
        page): that read is made once more on a new connection."""
        async with self.pool_lock:
            if self.pool is None:
                self.pool = await asyncpg.create_pool(self.dsn, min_size=0, max_size=REQUEST_CONNECTIONS,
                                                      max_inactive_connection_lifetime=300)
        for attempt in (1, 2):
            try:
                async with self.pool.acquire() as conn:
                    return await read(conn)
            except CONNECTION_GONE as err:
                if attempt == 2:
                    raise
                log.info("live dashboard: a pooled connection was gone (%s); reading on a new one", err)
                self.pool.expire_connections()

    async def snapshot(self) -> dict[str, Any]:
        return await self._pooled(lambda conn: self._read(conn, judge=False))

    async def series(self, topic: str, key: str, value: str | int) -> dict[str, Any] | None:
        async def read(conn: asyncpg.Connection) -> dict[str, Any] | None:
            try:
                return await read_series(conn, topic, key, value)
            except asyncpg.UndefinedTableError:
                return None

        return await self._pooled(read)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def run(self) -> None:
        while True:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                log.warning("live dashboard: result store connection lost (%s); reconnecting in %.0fs",
                            err, RECONNECT_SECONDS)
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            # a connection the server drops hears no NOTIFY again: read at once (which fails, and
            # ``run`` reconnects) rather than at the next idle refresh, up to 10 s later
            conn.add_termination_listener(lambda _: self.read_everything())
            log.info("live dashboard: listening on %s", NOTIFY_CHANNEL)
            self.full_read_due = True
            while True:
                self.changed.clear()
                # every topic at least every IDLE_REFRESH_SECONDS (records/s decays, the malformed
                # minutes move) and whenever something but a flush woke us; else the flushed topics
                full = self.full_read_due or time.monotonic() - self.full_read_at >= IDLE_REFRESH_SECONDS
                notified, self.notified, self.full_read_due = self.notified, set(), False
                started = time.monotonic()
                snapshot = await self._read(conn, judge=True,
                                            unchanged=() if full else self.current.keys() - notified)
                if full:
                    self.full_read_at = started
                self._publish(snapshot)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), IDLE_REFRESH_SECONDS)
        finally:
            await conn.close()

    async def _read(self, conn: asyncpg.Connection, *, judge: bool, unchanged: Collection[str] = ()) -> dict[str, Any]:
        """One snapshot (of the topics but ``unchanged``; ``topic_order`` names them all); ``judge``: the
        listener's reads move the staleness clocks, a request's only read them."""
        try:
            snapshot = await read_snapshot(conn, unchanged=unchanged)
        except asyncpg.UndefinedTableError:
            # the topology creates the tables when it first deploys; its first flush NOTIFYs us
            # (a read all the same: the page's silence watch counts it)
            return {"generated_at": datetime.now(UTC).isoformat(), "topics": [], "topic_order": [],
                    "staleness": self.kafka_state}
        try:
            self._judge_staleness(snapshot, record=judge)
        except Exception:  # noqa: BLE001 - the counts are pushed whatever the staleness check hits
            log.exception("live dashboard: staleness not judged")
            snapshot["staleness"] = "failing"
            for topic in snapshot["topics"]:
                topic.pop("next_offsets", None)
                topic["stale"] = None
        return snapshot

    def _judge_staleness(self, snapshot: dict[str, Any], *, record: bool) -> None:
        now = datetime.fromisoformat(snapshot["generated_at"])
        snapshot["staleness"] = self.kafka_state
        for topic in snapshot["topics"]:
            stored = topic.pop("next_offsets")
            if record:
                self.stored[topic["topic"]] = stored
            topic["stale"] = None
            if self.kafka is None or topic["topic"] not in self.kafka:
                continue
            starts, ends = self.kafka[topic["topic"]]
            last = datetime.fromisoformat(topic["last_update"]) if topic["last_update"] else None
            topic["stale"] = self.staleness.judge(topic["topic"], now=now, last_update=last,
                                                  waiting=waiting_records(ends, starts, stored), record=record)

    async def poll_kafka(self) -> None:
        """Read Kafka's offsets of the topics every ``KAFKA_POLL_SECONDS`` (one admin client, in a
        thread); while records wait, wake the listener so that their clock is judged now."""
        from confluent_kafka.admin import AdminClient

        admin = None
        while True:
            try:
                if admin is None:  # (not "admin or ...": a client with nothing queued is falsy, len() 0)
                    admin = AdminClient(self.kafka_config)
                self.kafka = await asyncio.to_thread(log_bounds, admin, list(self.stored), KAFKA_POLL_TIMEOUT_SECONDS)
                if self.kafka_state != "on":
                    log.info("live dashboard: Kafka's offsets read: staleness judged")
                    self.kafka_state = "on"
                    self.read_everything()
            except Exception as err:  # noqa: BLE001 - whatever Kafka's client raises, the counts go on
                if self.kafka_state != "failing":
                    log.warning("live dashboard: Kafka's offsets not readable (%s): staleness not judged", err)
                    self.kafka_state = "failing"
                    self.read_everything()
                admin, self.kafka = None, None
            waiting = [topic for topic, (starts, ends) in (self.kafka or {}).items()
                       if waiting_records(ends, starts, self.stored.get(topic, {}))]
            if waiting:  # their clocks are judged by the read this wakes
                self.notified.update(waiting)
                self.changed.set()
            await asyncio.sleep(KAFKA_POLL_SECONDS)

    def _publish(self, snapshot: dict[str, Any]) -> None:
        read = {topic["topic"]: topic for topic in snapshot["topics"]}
        # the topics not read are as the last read left them (and judged)
        self.current = {name: read[name] if name in read else self.current[name] for name in snapshot["topic_order"]}
        self.pushed.update({**snapshot, "topics": list(self.current.values())})
        for subscriber in list(self.subscribers):
            subscriber.wake()


async def keep_running(name: str, task: Callable[[], Awaitable[None]], *, restart_seconds: float = RESTART_SECONDS) -> None:
    """Run ``task()`` for ever: whatever it dies of (but cancellation) is logged with its traceback
    and it is started again after ``restart_seconds``, so one unforeseen error never ends the live
    counts for the api-server's lifetime (the page tells its users meanwhile: no push came)."""
    restarts = 0
    while True:
        try:
            await task()
            log.error("live dashboard: %s returned; starting it again", name)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the supervisor of last resort
            restarts += 1
            log.exception("live dashboard: %s died (restart %d in %.0fs)", name, restarts, restart_seconds)
        await asyncio.sleep(restart_seconds)


class Panel:
    """A panel read in a thread (``_read``: blocking clients) at most every ``PANEL_READ_SECONDS``
    whatever the number of pages asking: the last answer is kept and given to all of them."""

    def __init__(self, conn_id: str) -> None:
        self.conn_id = conn_id
        self.lock = asyncio.Lock()
        self.last: dict[str, Any] | None = None
        self.read_at = 0.0

    async def read(self) -> dict[str, Any]:
        async with self.lock:
            if self.last is None or time.monotonic() - self.read_at >= PANEL_READ_SECONDS:
                self.last = await asyncio.to_thread(self._read)
                self.read_at = time.monotonic()
            return self.last

    def _read(self) -> dict[str, Any]:
        raise NotImplementedError


class StormPanel(Panel):
    """The Storm topologies' figures as Nimbus's Thrift API gives them (what operators open the Storm
    UI for, which cannot run here): ``{"state": "on"|"failing"|"off", "error", "read_at", "topologies"}``."""

    def __init__(self, conn_id: str = STORM_CONN_ID) -> None:
        super().__init__(conn_id)

    def _read(self) -> dict[str, Any]:
        from airflow.exceptions import AirflowNotFoundException

        from hooks.storm_nimbus import StormNimbusHook

        now = datetime.now(UTC).isoformat()
        try:
            nimbus = StormNimbusHook(storm_conn_id=self.conn_id).get_conn()
        except AirflowNotFoundException:
            return {"state": "off", "error": f"no connection {self.conn_id!r}", "read_at": now, "topologies": []}
        try:
            healths = nimbus.topologies()
        except Exception as err:  # noqa: BLE001 - Nimbus down or answering nonsense: the page says so
            log.warning("live dashboard: Nimbus not read: %s", err)
            return {"state": "failing", "error": str(err), "read_at": now, "topologies": []}
        return {"state": "on", "error": None, "read_at": now, "topologies": [_topology_figures(h) for h in healths]}


class FlumePanel(Panel):
    """Every Flume agent of the pipeline (``flume_default``'s deployment of ``pipeline.yaml``), read
    from its ``/metrics``: events in and out (totals and rates since the previous reading), channel
    fill, failed connections, an L1's failover events (``logstream.flume.metrics.agent_figures``); an
    agent that does not answer is listed as down."""

    def __init__(self, conn_id: str = FLUME_CONN_ID) -> None:
        super().__init__(conn_id)
        self.previous: dict[str, Any] = {}  # agent -> its last AgentMetrics (for the rates)

    def _read(self) -> dict[str, Any]:
        from airflow.exceptions import AirflowNotFoundException

        from hooks.flume_metrics import FlumeMetricsHook
        from logstream.flume.metrics import agent_figures
        from logstream.pipeline_config import load_pipeline_config

        now = datetime.now(UTC).isoformat()
        hook = FlumeMetricsHook(flume_conn_id=self.conn_id)
        try:
            tiers = hook.tiers(load_pipeline_config())
            agents = tiers.agents
        except AirflowNotFoundException:
            return {"state": "off", "error": f"no connection {self.conn_id!r}", "read_at": now, "agents": []}
        except Exception as err:  # noqa: BLE001 - a deployment that cannot be described: the page says so
            log.warning("live dashboard: Flume agents not described: %s", err)
            return {"state": "failing", "error": str(err), "read_at": now, "agents": []}
        shown = []
        for agent in agents:
            metrics, why = hook.read(tiers, agent.name)
            row = {"agent": agent.name, "tier": agent.tier, "up": metrics is not None, "error": why or None}
            if metrics is not None:
                row.update(agent_figures(metrics, primary_sink=agent.primary_sink, previous=self.previous.get(agent.name)))
                self.previous[agent.name] = metrics
            shown.append(row)
        return {"state": "on", "error": None, "read_at": now, "agents": shown}


def _topology_figures(health: Any) -> dict[str, Any]:
    return {
        "name": health.name, "status": health.status, "uptime_secs": health.uptime_secs, "workers": health.workers,
        "executors": health.executors, "emitted": health.emitted, "acked": health.acked, "failed": health.failed,
        "complete_latency_ms": round(health.complete_latency_ms, 1),
        "components": [{"id": name, "executors": c.executors, "emitted": c.emitted, "acked": c.acked, "failed": c.failed,
                        "capacity": None if c.capacity is None else round(c.capacity, 3)}
                       for name, c in sorted(health.components.items()) if not name.startswith("__")],
    }


def _results_dsn() -> str:
    """The result store's read-only connection (``logstream_results_reader``; the writers'
    ``logstream_results`` with a warning where a deployment defines none) as asyncpg's URI, its
    ``options`` extra (else the store's session bounds) as server settings: the connection's own URI
    carries its extras as a JSON ``__extra__`` parameter, which asyncpg would send to the server as a
    setting."""
    from urllib.parse import quote, urlencode

    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    try:
        conn = Connection.get_connection_from_secrets(READER_CONN_ID)
    except AirflowNotFoundException:
        log.warning("live dashboard: no connection %r (the result store's read-only role); reading with %r, "
                    "the writers' own", READER_CONN_ID, RESULTS_CONN_ID)
        conn = Connection.get_connection_from_secrets(RESULTS_CONN_ID)
    settings = session_settings(conn.extra_dejson.get("options", SESSION_OPTIONS))
    return (f"postgresql://{quote(conn.login or '', safe='')}:{quote(conn.password or '', safe='')}@{conn.host}:"
            f"{conn.port or 5432}/{quote(conn.schema or '', safe='')}?{urlencode(settings)}")


def _kafka_config() -> dict[str, Any] | None:
    """The ``kafka_default`` connection's client settings; None (no staleness check) without it."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    try:
        return dict(Connection.get_connection_from_secrets(KAFKA_CONN_ID).extra_dejson)
    except AirflowNotFoundException:
        log.warning("live dashboard: no connection %r: stale statistics are not told", KAFKA_CONN_ID)
        return None


def _incident_variables() -> dict[str, str]:
    """The incident notifier's Variables, read from Airflow's metadata database (the api-server's)."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import or_, select

    with create_session() as session:
        rows = session.scalars(select(Variable).where(or_(Variable.key.startswith(VARIABLE_PREFIX, autoescape=True),
                                                          Variable.key == RECENT_VARIABLE))).all()
        return {row.key: row.val for row in rows}


def create_app(*, dsn: str | None = None) -> FastAPI:
    """The dashboard app.

    :param dsn: the result store's PostgreSQL URI; by default the ``logstream_results`` connection's,
        looked up when the app starts (not when the plugin is imported)
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.feed = ResultStoreFeed(dsn or _results_dsn(), kafka_config=_kafka_config(),
                                         flush_every_seconds=load_settings()["logstream"]["flush_every_seconds"])
        tasks = [asyncio.create_task(keep_running("the listener", app.state.feed.run), name="live-dashboard-listener")]
        if app.state.feed.kafka_config is not None:
            tasks.append(asyncio.create_task(keep_running("Kafka's poller", app.state.feed.poll_kafka),
                                             name="live-dashboard-kafka"))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.state.feed.close()

    app = FastAPI(title="logstream live statistics", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.sockets = {}  # user id -> open feeds
    app.state.storm = StormPanel()
    app.state.flume = FlumePanel()

    @app.middleware("http")
    async def security_headers(request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.get("/")
    async def page(user: DashboardUserDep) -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/static/{name}")
    async def static_file(name: str, user: DashboardUserDep) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no file {name!r}")
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})

    @app.get("/api/snapshot")
    async def snapshot(user: DashboardUserDep) -> JSONResponse:
        return JSONResponse(await app.state.feed.snapshot())

    @app.get("/api/series")
    async def series(user: DashboardUserDep, topic: str, host: str | None = None,
                     config_id: int | None = None) -> JSONResponse:
        if (host is None) == (config_id is None):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "give one of host or config_id")
        key, value = ("host", host) if host is not None else ("config_id", config_id)
        found = await app.state.feed.series(topic, key, value)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no counts for topic {topic!r}")
        return JSONResponse(found, headers={"Cache-Control": "no-store"})

    @app.get("/api/storm")
    async def storm(user: DashboardUserDep) -> JSONResponse:
        """Every Storm topology's workers, executors, tuples and latency from Nimbus (``StormPanel``)."""
        return JSONResponse(await app.state.storm.read(), headers={"Cache-Control": "no-store"})

    @app.get("/api/flume")
    async def flume(user: DashboardUserDep) -> JSONResponse:
        """Every Flume agent's events in and out, channel fill and failovers (``FlumePanel``)."""
        return JSONResponse(await app.state.flume.read(), headers={"Cache-Control": "no-store"})

    @app.get("/api/incidents")
    async def incidents(user: DashboardUserDep) -> JSONResponse:
        """The pipeline's open incidents and the last closed ones (``logstream/incidents.py``)."""
        return JSONResponse(incidents_view(await asyncio.to_thread(_incident_variables)),
                            headers={"Cache-Control": "no-store"})

    @app.websocket("/ws")
    async def feed(websocket: WebSocket) -> None:
        user = await accept_dashboard_socket(websocket)
        if user is None:
            return
        who = user.get_id()
        if app.state.sockets.get(who, 0) >= SOCKETS_PER_USER:
            await websocket.close(code=CLOSE_REFUSED, reason=f"{SOCKETS_PER_USER} live pages are open for this "
                                                            f"user already: close one")
            return
        app.state.sockets[who] = app.state.sockets.get(who, 0) + 1
        subscriber = Subscriber(websocket, app.state.feed.pushed)
        app.state.feed.subscribe(subscriber)
        sender = asyncio.create_task(subscriber.send_forever())
        receiver = asyncio.create_task(_read_requests(websocket, subscriber, app.state.feed))
        login = asyncio.create_task(close_when_login_ends(websocket))
        try:
            done, _ = await asyncio.wait({sender, receiver, login}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if isinstance(task.exception(), TimeoutError):
                    log.info("live dashboard: dropped a client that stopped reading")
                    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                        await websocket.close(code=CLOSE_TOO_SLOW, reason="too slow")
        finally:
            app.state.feed.unsubscribe(subscriber)
            app.state.sockets[who] -= 1
            if not app.state.sockets[who]:
                del app.state.sockets[who]
            for task in (sender, receiver, login):
                task.cancel()

    return app


async def _read_requests(websocket: WebSocket, subscriber: Subscriber, feed: ResultStoreFeed) -> None:
    """The one message a client may send is ``{"type": "refresh"}``; anything else closes it (1003)."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            text = await websocket.receive_text()
            try:
                request = json.loads(text)
            except ValueError:
                request = None
            if not isinstance(request, dict) or request.get("type") != "refresh":
                await websocket.close(code=CLOSE_BAD_MESSAGE, reason="expected {\"type\": \"refresh\"}")
                return
            if feed.pushed.ready:
                subscriber.wake(everything=True)
