"""Talking to the live dashboard of the stack's api-server as a browser would: a login token in the
``_token`` cookie, the page's Origin on the WebSocket; and tokens that must be refused."""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.error
import urllib.request
import weakref

import jwt
from websockets.asyncio.client import ClientConnection, connect

from dashboard.pushed_topics import merged
from logstream.stack.airflow import stack_passwords
from logstream.stack.config import StackConfig

PAGE_ORIGIN = "the page's own origin"


class DashboardSession:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.base = f"http://{config.host}:{config.ports['airflow']}"

    def login(self, user: str) -> str:
        body = json.dumps({"username": user, "password": stack_passwords(self.config)[user]}).encode()
        request = urllib.request.Request(f"{self.base}/auth/token", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["access_token"]

    def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": f"_token={token}"} if token else {}
        try:
            with urllib.request.urlopen(urllib.request.Request(f"{self.base}{path}", headers=headers), timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def feed(self, token: str | None, *, origin: str | None = PAGE_ORIGIN) -> connect:
        """``async with session.feed(token) as ws``: the WebSocket the page opens (``origin=None``: none sent)."""
        headers = {"Cookie": f"_token={token}"} if token else {}
        return connect(f"ws://{self.config.host}:{self.config.ports['airflow']}/live/ws",
                       origin=self.base if origin == PAGE_ORIGIN else origin, additional_headers=headers, open_timeout=30, max_size=2**22)


def resigned(token: str, *, secret: str | None = None, **claims: object) -> str:
    """``token`` with ``claims`` changed, signed with ``secret`` (default: the stack's real JWT secret)."""
    payload = {**jwt.decode(token, options={"verify_signature": False}), **claims}
    header = jwt.get_unverified_header(token)
    key = secret if secret is not None else os.environ["AIRFLOW__API_AUTH__JWT_SECRET"]
    return jwt.encode(payload, key, algorithm=header["alg"], headers={"kid": header.get("kid")})


def expired(token: str) -> str:
    now = int(time.time())
    return resigned(token, iat=now - 7200, nbf=now - 7200, exp=now - 3600)


def forged(token: str) -> str:
    return resigned(token, secret="not-the-stack-secret-" * 4, role="ADMIN")


# per open feed, the topics it was pushed so far (a push carries only the changed ones)
_HELD: weakref.WeakKeyDictionary[ClientConnection, dict[str, dict]] = weakref.WeakKeyDictionary()


async def next_snapshot(ws: ClientConnection, timeout: float) -> dict:
    """The whole snapshot ``ws``'s client holds after its next push, as the page merges it."""
    return merged(_HELD.setdefault(ws, {}), await next_push(ws, timeout))


async def next_push(ws: ClientConnection, timeout: float) -> dict:
    """The next push as sent: ``topic_order`` and the topics changed since the previous one."""
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))
