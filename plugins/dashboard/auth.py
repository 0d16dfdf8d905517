"""Who may see the live statistics. Airflow does not protect plugin apps, so every route of the
dashboard depends on :func:`dashboard_user` and the WebSocket handshake goes through
:func:`accept_dashboard_socket`; both refuse before any data is sent.

The right: the auth manager must allow the custom view ``RESOURCE_NAME`` and reading the result
store's connection. With the simple auth manager every role has the view; the connection is what
separates an operator (``op``/``admin``) from a ``viewer`` or ``user``, which fits what the page
shows: the contents of that database.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated
from urllib.parse import urlsplit

import jwt

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails
from airflow.api_fastapi.core_api.security import GetUserDep, resolve_user_from_token
from airflow.configuration import conf
from fastapi import Depends, HTTPException, WebSocket, status

RESOURCE_NAME = "Live statistics"
# an open feed re-checks its user's right this often, and ends when its login expires
LOGIN_RECHECK_SECONDS = 30.0
RESULTS_CONN_ID = "logstream_results"
# WebSocket close code "policy violation": the page shows the refusal and does not retry
CLOSE_REFUSED = 1008


def may_see_dashboard(user: BaseUser) -> bool:
    manager = get_auth_manager()
    return manager.is_authorized_custom_view(method="GET", resource_name=RESOURCE_NAME, user=user) and \
        manager.is_authorized_connection(method="GET", details=ConnectionDetails(conn_id=RESULTS_CONN_ID), user=user)


async def dashboard_user(user: GetUserDep) -> BaseUser:
    """The logged-in Airflow user (``_token`` cookie or bearer token: 401/403 from Airflow), if allowed."""
    if not may_see_dashboard(user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"user {user.get_name()!r} may not see the {RESOURCE_NAME}")
    return user


DashboardUserDep = Annotated[BaseUser, Depends(dashboard_user)]


def _expected_origin(websocket: WebSocket) -> str:
    """The api-server's own origin: ``[api] base_url``'s, else the one the Host header names."""
    base = urlsplit(conf.get("api", "base_url", fallback="") or "")
    if base.scheme and base.netloc:
        return f"{base.scheme}://{base.netloc}"
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    return f"{scheme}://{websocket.headers.get('host', '')}"


async def _refusal(websocket: WebSocket) -> tuple[str | None, BaseUser | None]:
    origin, expected = websocket.headers.get("origin"), _expected_origin(websocket)
    if origin != expected:  # the reason does not say which origin would do
        return f"origin {origin!r} is not this server's", None
    try:
        user = await resolve_user_from_token(websocket.cookies.get(COOKIE_NAME_JWT_TOKEN))
    except HTTPException as refused:
        return f"{refused.detail} (log in to Airflow)", None
    if not may_see_dashboard(user):
        return f"user {user.get_name()!r} may not see the {RESOURCE_NAME}", None
    return None, user


async def accept_dashboard_socket(websocket: WebSocket) -> BaseUser | None:
    """Accept the handshake; if the caller may not have the feed, close it with 1008 and its reason
    (accepting first, so the browser learns the code) and return None. No data is sent either way."""
    reason, user = await _refusal(websocket)
    await websocket.accept()
    if reason is not None:
        # a close reason is at most 123 bytes
        await websocket.close(code=CLOSE_REFUSED, reason=reason.encode()[:123].decode(errors="ignore"))
        return None
    return user


def _expiry(token: str | None) -> float | None:
    """When the (already validated) token expires, epoch seconds; None if it does not say."""
    try:
        expires = jwt.decode(token or "", options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(expires) if isinstance(expires, (int, float)) else None


async def close_when_login_ends(websocket: WebSocket, *, recheck: float = LOGIN_RECHECK_SECONDS) -> None:
    """Return once the feed's login ended, after closing it with 1008 and why: at the token's expiry
    (not after Airflow's validation leeway), or when a re-check every ``recheck`` seconds finds the
    token refused or the user's right gone. The page then asks for a new login."""
    token = websocket.cookies.get(COOKIE_NAME_JWT_TOKEN)
    expiry = _expiry(token)
    while True:
        now = time.time()
        if expiry is not None and now >= expiry:
            reason = "login expired: log in to Airflow again"
            break
        await asyncio.sleep(recheck if expiry is None else min(recheck, expiry - now))
        if expiry is not None and time.time() >= expiry:
            continue
        try:
            user = await resolve_user_from_token(token)
        except HTTPException as refused:
            reason = f"{refused.detail}: log in to Airflow again"
            break
        if not may_see_dashboard(user):
            reason = f"user {user.get_name()!r} may no longer see the {RESOURCE_NAME}"
            break
    await websocket.close(code=CLOSE_REFUSED, reason=reason.encode()[:123].decode(errors="ignore"))
