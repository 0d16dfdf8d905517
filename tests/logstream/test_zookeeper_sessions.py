"""ZooKeeper clients whose calls give up, against the stack's ZooKeeper reached through a relay on
loopback that the test can cut: a cut relay keeps its connections open and forwards nothing, and
holds new ones the same way (what a dropped link looks like to kazoo: no reset, no answer)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from kazoo.client import KazooState
from kazoo.exceptions import KazooException
from online_stats import wait_for

from logstream.zookeeper_sessions import bounded_client

SESSION_SECONDS = 4.0


class CuttableRelay:
    """Forwards TCP connections from a loopback port to ``upstream`` until :meth:`cut`; the
    connections open at the cut stay open and silent for good; the ones made while cut are held
    (what they sent waits unread) and forwarded from :meth:`heal` on."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.generation = 0  # connections of an older generation than the last cut are dead
        self.is_cut = False
        self.sockets: list[socket.socket] = []
        self.held: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self.is_cut = True
        self.generation += 1

    def heal(self) -> None:
        with self.lock:
            self.is_cut = False
            held, self.held = self.held, []
        for client in held:
            self._forward(client)

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        for sock in self.sockets:
            sock.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            with self.lock:
                if self.is_cut:
                    self.held.append(client)
                    continue
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        server = socket.create_connection(self.upstream)
        self.sockets.append(server)
        generation = self.generation
        for source, target in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, target, generation), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, generation: int) -> None:
        try:
            while data := source.recv(65536):
                if generation != self.generation:
                    continue  # swallowed: the link is cut
                target.sendall(data)
        except OSError:
            pass


@pytest.fixture
def relay(zookeeper_hosts):
    host, port = zookeeper_hosts.rsplit(":", 1)
    relay = CuttableRelay((host, int(port)))
    yield relay
    relay.close()


def timed(call) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except BaseException as err:  # noqa: BLE001 - the test looks at what ended the call
        return time.monotonic() - started, err
    return time.monotonic() - started, None


def test_calls_made_on_a_cut_link_end_in_an_error_once_the_session_is_surely_gone(relay, unique_name):
    client = bounded_client(f"127.0.0.1:{relay.port}", SESSION_SECONDS)
    client.start(timeout=15)
    try:
        lock = client.Lock(f"/tests/{unique_name}/lease", identifier="holder")
        assert lock.acquire(timeout=10)
        relay.cut()
        wait_for(lambda: client.state == KazooState.SUSPENDED, 3 * SESSION_SECONDS, "the connection suspended")
        # a lock's release while suspended, and a plain read: both used to wait for the whole outage
        results: dict[str, tuple[float, BaseException | None]] = {}
        calls = {"release": lock.release, "read": lambda: client.get_children(f"/tests/{unique_name}")}
        threads = [threading.Thread(target=lambda name=name, call=call: results.__setitem__(name, timed(call)))
                   for name, call in calls.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=6 * SESSION_SECONDS)
        assert set(results) == set(calls), f"still waiting after {6 * SESSION_SECONDS:.0f}s: {set(calls) - set(results)}"
        for name, (seconds, error) in results.items():
            assert isinstance(error, KazooException), (name, error)
            # the client stops itself a session's time after the suspension; its connection attempt
            # under way (up to a session's time) ends before the waiting calls fail
            assert seconds <= 4 * SESSION_SECONDS, (name, seconds)
        assert client.state == KazooState.LOST
    finally:
        relay.heal()
        client.stop()
        client.close()


def test_a_link_back_within_the_session_keeps_the_session_and_its_lock(relay, zookeeper_hosts, unique_name):
    # a longer session: kazoo notices the cut after 2/3 of it, and the link must be back before the
    # servers expire it
    session_seconds = 10.0
    client = bounded_client(f"127.0.0.1:{relay.port}", session_seconds)
    client.start(timeout=15)
    observer = bounded_client(zookeeper_hosts, session_seconds)
    observer.start(timeout=15)
    try:
        path = f"/tests/{unique_name}/lease"
        lock = client.Lock(path, identifier="holder")
        assert lock.acquire(timeout=10)
        session = client.client_id
        relay.cut()
        wait_for(lambda: client.state == KazooState.SUSPENDED, session_seconds, "the connection suspended")
        suspended = time.monotonic()
        relay.heal()
        wait_for(lambda: client.state == KazooState.CONNECTED, session_seconds, "the connection back")
        # past the moment a client suspended all along would have been stopped
        wait_for(lambda: time.monotonic() - suspended > session_seconds + 1, 2 * session_seconds, "a session's time")
        assert client.state == KazooState.CONNECTED and client.client_id == session
        assert observer.get_children(path) == [lock.node]
        lock.release()
        assert observer.get_children(path) == []
    finally:
        relay.heal()
        for each in (client, observer):
            each.stop()
            each.close()
