"""NimbusClient names every way Nimbus fails to answer as NimbusUnreachable, with its address."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from logstream.storm.nimbus import NimbusClient, NimbusUnreachable


def test_a_connection_reset_mid_call_is_nimbus_unreachable_with_its_address():
    """As a Nimbus SIGKILLed while it answers: the connection is accepted, then reset (seen once in a
    test run as a bare ``ConnectionResetError``, which no caller took for "Nimbus not answering")."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def accept_then_reset() -> None:
            conn, _ = server.accept()
            conn.recv(64)  # the request has started
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # RST, not FIN

        resetter = threading.Thread(target=accept_then_reset)
        resetter.start()
        with pytest.raises(NimbusUnreachable, match=rf"^Nimbus at 127\.0\.0\.1:{port}: "):
            NimbusClient(host="127.0.0.1", port=port, timeout_ms=10_000).cluster_summary()
        resetter.join(10)


def test_a_refused_connection_is_nimbus_unreachable_with_its_address():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    with pytest.raises(NimbusUnreachable, match=rf"^Nimbus at 127\.0\.0\.1:{port}: "):
        NimbusClient(host="127.0.0.1", port=port, timeout_ms=10_000).cluster_summary()
