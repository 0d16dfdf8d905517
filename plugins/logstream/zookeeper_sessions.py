"""ZooKeeper clients whose calls give up.

With kazoo's defaults a client cut off from ZooKeeper hangs, saying nothing, for the whole outage: a
call made while the connection is suspended waits in kazoo's queue until a connection is back, and a
command that meets a lost connection is retried for ever. A client made here stops itself once its
connection has been suspended for ``session_timeout`` seconds (by then the servers have expired the
session: whatever it held is gone), which fails every waiting call with a ``KazooException``.
"""

from __future__ import annotations

import threading

from kazoo.client import KazooClient, KazooState


def bounded_client(hosts: str, session_timeout: float) -> KazooClient:
    """A kazoo client (not started) for ``hosts`` whose calls give up once it has been without
    ZooKeeper for ``session_timeout`` seconds."""
    client = KazooClient(hosts=hosts, timeout=session_timeout)
    client.add_listener(_StopWhenSuspended(client, session_timeout))
    return client


class _StopWhenSuspended:
    """A state listener: stops the client when its connection stays suspended for ``seconds``."""

    def __init__(self, client: KazooClient, seconds: float) -> None:
        self.client = client
        self.seconds = seconds
        self.timer: threading.Timer | None = None
        self.lock = threading.Lock()

    def __call__(self, state: str) -> bool:
        # runs on kazoo's connection thread: it must not block, the timer's thread does the stopping
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if state == KazooState.SUSPENDED:
                self.timer = threading.Timer(self.seconds, self._stop_if_still_suspended)
                self.timer.daemon = True
                self.timer.start()
        return False

    def _stop_if_still_suspended(self) -> None:
        if self.client.state == KazooState.SUSPENDED:
            try:
                self.client.stop()
            except Exception:  # noqa: BLE001 - stop() gives up waiting for a connection attempt under way; that attempt ends it
                pass
