"""WebHDFS calls end within their timeout, even against a namenode that accepts and never answers."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from requests.exceptions import RequestException

from hooks.webhdfs import BoundedWebHDFSHook


@pytest.fixture
def silent_port():
    """A port whose kernel accepts connections (listen backlog) while nothing ever reads or answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_a_call_to_a_silent_namenode_ends_within_its_timeout(silent_port, monkeypatch):
    conn = {"conn_type": "webhdfs", "host": "127.0.0.1", "port": silent_port, "login": "root", "extra": {"timeout": 2}}
    monkeypatch.setenv("AIRFLOW_CONN_WEBHDFS_SILENT", json.dumps(conn))
    outcome = {}

    def connect():
        began = time.monotonic()
        try:
            BoundedWebHDFSHook(webhdfs_conn_id="webhdfs_silent").get_conn()
        except RequestException as err:
            outcome["error"] = err
        outcome["seconds"] = time.monotonic() - began

    caller = threading.Thread(target=connect, daemon=True)
    caller.start()
    caller.join(timeout=30)
    assert not caller.is_alive(), "the WebHDFS call was still waiting after 30 s"
    assert "timed out" in str(outcome["error"])
    assert 2 <= outcome["seconds"] < 10


def test_the_stack_connection_is_bounded_and_works(stack):
    client = BoundedWebHDFSHook().get_conn()
    assert client._timeout == 60
    assert client.status("/")["type"] == "DIRECTORY"
