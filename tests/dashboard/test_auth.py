"""Every refusal of the dashboard, on the stack's real api-server: HTTP 401/403 on every route and
WebSocket close 1008 before any data, for a missing, forged or expired token, a wrong Origin and a
user without the right (the ``viewer``); the ``operator`` gets the page, the files and the numbers."""

from __future__ import annotations

import asyncio
import json

import pytest
from dashboard_session import PAGE_ORIGIN, DashboardSession, expired, forged, next_snapshot
from websockets.exceptions import ConnectionClosed

ROUTES = ("/live/", "/live/static/dashboard.js", "/live/static/dashboard.css", "/live/api/snapshot")


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
    for route in ROUTES:
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
    assert reason in asyncio.run(refused_before_data(session, token, origin))


def test_the_operator_gets_a_snapshot_on_connect(session, operator_token):
    async def first() -> dict:
        async with session.feed(operator_token) as ws:
            return await next_snapshot(ws, 30)

    assert "topics" in asyncio.run(first())
