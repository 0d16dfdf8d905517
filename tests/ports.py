"""Loopback ports for tests."""

from __future__ import annotations

import socket


def unused_port() -> int:
    """A loopback port nothing listens on: bound by the system's choice, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
