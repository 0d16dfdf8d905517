"""Waiting, in the triggerer, until a Storm topology runs: ACTIVE on Nimbus with all its workers up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from logstream.storm.nimbus import NimbusClient, TopologyHealth


def topology_runs(health: TopologyHealth | None, name: str, workers: int) -> tuple[bool, str]:
    """Whether a topology (``health`` from Nimbus, None: not there) is ACTIVE with ``workers`` workers
    that have been up for a moment, and its state in words."""
    if health is None:
        return False, f"no topology {name} on Nimbus"
    detail = f"{health.status}, {health.workers}/{workers} workers, up {health.uptime_secs}s"
    return health.status == "ACTIVE" and health.workers >= workers and health.uptime_secs > 0, detail


class StormTopologyRunningTrigger(BaseTrigger):
    """Fires ``{"status": "running", ...}`` once topology ``name`` is ACTIVE with ``workers`` workers
    that have been up for a moment, or ``{"status": "timeout", ...}`` after ``timeout`` seconds.

    :param name: the topology's name.
    :param host: Nimbus's host.
    :param port: Nimbus's Thrift port.
    :param workers: how many workers it must have up.
    :param timeout: seconds to wait at most.
    :param poll_interval: seconds between two questions to Nimbus.
    """

    def __init__(self, *, name: str, host: str, port: int, workers: int, timeout: float,
                 poll_interval: float = 3.0) -> None:
        super().__init__()
        self.name = name
        self.host = host
        self.port = port
        self.workers = workers
        self.timeout = timeout
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("triggers.storm_topology.StormTopologyRunningTrigger",
                {"name": self.name, "host": self.host, "port": self.port, "workers": self.workers,
                 "timeout": self.timeout, "poll_interval": self.poll_interval})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        nimbus = NimbusClient(host=self.host, port=self.port, timeout_ms=10_000)
        deadline = time.monotonic() + self.timeout
        last = "no answer from Nimbus yet"
        while time.monotonic() < deadline:
            try:
                health = await asyncio.to_thread(nimbus.health, self.name)
            except OSError as err:
                last = f"Nimbus at {self.host}:{self.port}: {err}"
            else:
                runs, last = topology_runs(health, self.name, self.workers)
                if runs:
                    yield TriggerEvent({"status": "running", "name": self.name, "id": health.id, "detail": last})
                    return
            self.log.info("topology %s: %s", self.name, last)
            await asyncio.sleep(self.poll_interval)
        yield TriggerEvent({"status": "timeout", "name": self.name, "detail": last})
