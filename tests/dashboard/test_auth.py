"""Every refusal of the dashboard, on the stack's real api-server: HTTP 401/403 on every route and
WebSocket close 1008 before any data, for a missing, forged or expired token, a wrong Origin and a
user without the right (the ``viewer``); the ``operator`` gets the page, the files and the numbers,
with a Content-Security-Policy; an open feed ends with its login; feeds per user are capped."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest
from dashboard_session import PAGE_ORIGIN, DashboardSession, expired, forged, next_snapshot, resigned
from websockets.exceptions import ConnectionClosed

ROUTES = ("/live/", "/live/static/dashboard.js", "/live/static/dashboard.css", "/live/static/uPlot.iife.min.js",
          "/live/static/uPlot.min.css", "/live/static/uPlot.LICENSE", "/live/api/snapshot")
# refused before the topic is even looked up (the operator gets a 404 for a topic with no counts)
REFUSED_ROUTES = (*ROUTES, "/live/api/series?topic=any&host=any")


@pytest.fixture(scope="module")
def session(stack) -> DashboardSession:
    return DashboardSession(stack.config)


@pytest.fixture(scope="module")
def operator_token(session) -> str:
    return session.login("operator")


def test_the_operator_gets_every_route(session, operator_token):
    for route in ROUTES:
        status, body = session.get(route, operator_token)
        assert status == 200, (route, body[:300])
    assert b'<script src="static/dashboard.js"' in session.get("/live/", operator_token)[1]
    assert "topics" in json.loads(session.get("/live/api/snapshot", operator_token)[1])


@pytest.mark.parametrize("case, status", [("missing", 401), ("expired", 401), ("forged", 403), ("viewer", 403)])
def test_every_route_refuses(session, operator_token, case, status):
    token = {"missing": None, "expired": expired(operator_token), "forged": forged(operator_token),
             "viewer": session.login("viewer")}[case]
    for route in REFUSED_ROUTES:
        got, body = session.get(route, token)
        assert got == status, (route, body[:300])
        assert b"topics" not in body and b"<script" not in body


def test_a_file_outside_the_page_is_not_served(session, operator_token):
    assert session.get("/live/static/..%2Fapp.py", operator_token)[0] == 404
    assert session.get("/live/static/index.html", operator_token)[0] == 404


async def refused_before_data(session: DashboardSession, token: str | None, origin: str | None) -> str:
    async with session.feed(token, origin=origin) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008, closed.value
    return closed.value.rcvd.reason


@pytest.mark.parametrize("case, reason", [
    ("missing", "Not authenticated"), ("expired", "Token Expired"), ("forged", "Invalid JWT token"),
    ("viewer", "'viewer' may not see"), ("wrong origin", "origin 'http://evil.example' is not"),
    ("no origin", "origin None is not"),
])
def test_the_feed_closes_1008_before_any_data(session, operator_token, case, reason):
    token = {"missing": None, "expired": expired(operator_token), "forged": forged(operator_token),
             "viewer": session.login("viewer")}.get(case, operator_token)
    origin = {"wrong origin": "http://evil.example", "no origin": None}.get(case, PAGE_ORIGIN)
    said = asyncio.run(refused_before_data(session, token, origin))
    assert reason in said
    assert session.base not in said  # a refusal does not tell which origin would do


def test_every_response_carries_a_content_security_policy(session, operator_token):
    """Refusals included; the page itself works under it (tests/dashboard/test_page.py, Chromium)."""
    for route, token in (("/live/", operator_token), ("/live/api/snapshot", operator_token), ("/live/", None)):
        request = urllib.request.Request(f"{session.base}{route}",
                                         headers={"Cookie": f"_token={token}"} if token else {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                headers = response.headers
        except urllib.error.HTTPError as refused:
            headers = refused.headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'self'" in policy, (route, policy)
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_an_open_feed_closes_1008_when_its_login_expires(session, operator_token):
    """A token that expires 8 s after the feed opened: snapshots until then, then close 1008 saying
    the login expired (at the expiry, not after Airflow's validation leeway or the 30 s re-check).
    Without the login watch the feed stays open and the 40 s wait for the close fails (checked once)."""
    token = resigned(operator_token, exp=int(time.time()) + 8)

    async def until_closed() -> tuple[float, object]:
        async with session.feed(token) as ws:
            opened = time.monotonic()
            assert "topics" in await next_snapshot(ws, 30)
            with pytest.raises(ConnectionClosed) as closed:
                while time.monotonic() - opened < 40:  # snapshots come every 10 s at least: bounded here
                    await asyncio.wait_for(ws.recv(), 30)
            return time.monotonic() - opened, closed.value.rcvd

    seconds, close = asyncio.run(until_closed())
    assert close is not None and close.code == 1008 and "login expired" in close.reason, close
    assert seconds < 20


def test_feeds_per_user_are_capped(session, operator_token):
    """Eight feeds of the operator are served; a ninth is closed 1008 before any data, and once one
    of the eight closed, a new one is served again."""
    from dashboard.app import SOCKETS_PER_USER

    async def run() -> tuple[str, dict]:
        feeds = [await session.feed(operator_token).__aenter__() for _ in range(SOCKETS_PER_USER)]
        try:
            for ws in feeds:
                assert "topics" in await next_snapshot(ws, 30)
            refusal = await refused_before_data(session, operator_token, PAGE_ORIGIN)
            await feeds.pop().close()
            # the server counts the closed feed out once its handler ends: until then it may still refuse
            deadline = time.monotonic() + 30
            while True:
                async with session.feed(operator_token) as again:
                    try:
                        return refusal, await next_snapshot(again, 30)
                    except ConnectionClosed as closed:
                        if time.monotonic() > deadline or "already" not in closed.rcvd.reason:
                            raise
                await asyncio.sleep(0.2)
        finally:
            for ws in feeds:
                await ws.close()

    refusal, snapshot = asyncio.run(run())
    assert f"{SOCKETS_PER_USER} live pages are open for this user already" in refusal
    assert "topics" in snapshot


def test_the_operator_gets_a_snapshot_on_connect(session, operator_token):
    async def first() -> dict:
        async with session.feed(operator_token) as ws:
            return await next_snapshot(ws, 30)

    assert "topics" in asyncio.run(first())
