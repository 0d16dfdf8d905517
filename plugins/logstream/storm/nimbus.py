"""Nimbus over Thrift (framed, binary), with streamparse's bindings: submit, kill, rebalance, health.

No ``storm`` CLI is involved: the jar is uploaded in chunks (``beginFileUpload``/``uploadChunk``/
``finishFileUpload``) and the topology is the Thrift ``StormTopology`` streamparse's DSL builds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UPLOAD_CHUNK_BYTES = 300 * 1024


class NimbusUnreachable(ConnectionError):
    """Nimbus did not answer (down, restarting, or the connection broke): an OSError, as a refused
    socket is, so a caller waiting for Nimbus catches one kind of error whatever the transport said."""


@dataclass(frozen=True)
class ComponentStats:
    executors: int
    emitted: int
    acked: int
    failed: int
    # a bolt's capacity as Storm computes it (the share of its time its executors spent executing over
    # the last 10 minutes; near 1: it is the bottleneck); None for a spout
    capacity: float | None = None


@dataclass(frozen=True)
class TopologyHealth:
    """What Nimbus says about a running topology (stats over its whole life, ``:all-time``)."""

    id: str
    name: str
    status: str
    uptime_secs: int
    workers: int
    emitted: int
    acked: int
    failed: int
    complete_latency_ms: float
    components: dict[str, ComponentStats]
    conf: dict[str, Any]
    executors: int = 0


class NimbusClient:
    """A short-lived Thrift connection per call, so a restarted Nimbus is simply reached again.

    :param host: Nimbus's host.
    :param port: its Thrift port (``nimbus.thrift.port``).
    :param timeout_ms: socket timeout of each call.
    """

    def __init__(self, *, host: str, port: int, timeout_ms: int = 30_000) -> None:
        self.host = host
        self.port = port
        self.timeout_ms = timeout_ms

    @contextmanager
    def client(self) -> Iterator[Any]:
        from streamparse.thrift import Nimbus
        from thriftpy2.protocol import TBinaryProtocolFactory
        from thriftpy2.rpc import make_client
        from thriftpy2.transport import TFramedTransportFactory, TTransportException

        # thriftpy2's word for a refused connection, or the socket's own (a Nimbus killed mid-answer
        # resets it): either way Nimbus is unreachable, and says where (a local file's error, as the
        # jar's in upload_jar, stays what it is)
        unreachable = (TTransportException, ConnectionError, TimeoutError)
        try:
            client = make_client(Nimbus, self.host, self.port, proto_factory=TBinaryProtocolFactory(),
                                 trans_factory=TFramedTransportFactory(), timeout=self.timeout_ms)
        except unreachable as err:
            raise NimbusUnreachable(f"Nimbus at {self.host}:{self.port}: {err}") from err
        try:
            yield client
        except NimbusUnreachable:
            raise
        except unreachable as err:
            raise NimbusUnreachable(f"Nimbus at {self.host}:{self.port}: {err}") from err
        finally:
            client.close()

    def cluster_summary(self) -> Any:
        with self.client() as nimbus:
            return nimbus.getClusterInfo()

    def topology_id(self, name: str) -> str | None:
        """The id of the live topology called ``name`` (None if there is none)."""
        return next((t.id for t in self.cluster_summary().topologies if t.name == name), None)

    def upload_jar(self, jar: Path) -> str:
        with self.client() as nimbus:
            location = nimbus.beginFileUpload()
            with jar.open("rb") as data:
                while chunk := data.read(UPLOAD_CHUNK_BYTES):
                    nimbus.uploadChunk(location, chunk)
            nimbus.finishFileUpload(location)
        return location

    def submit(self, *, name: str, jar: Path, topology: Any, conf: dict[str, Any]) -> str:
        """Upload ``jar`` and submit ``topology`` (a Thrift ``StormTopology``) active; returns its id."""
        from streamparse.thrift import SubmitOptions, TopologyInitialStatus

        location = self.upload_jar(jar)
        with self.client() as nimbus:
            nimbus.submitTopologyWithOpts(name, location, json.dumps(conf), topology,
                                          SubmitOptions(initial_status=TopologyInitialStatus.ACTIVE))
        topology_id = self.topology_id(name)
        if topology_id is None:
            raise RuntimeError(f"Nimbus accepted topology {name!r} but does not list it")
        return topology_id

    def kill(self, name: str, *, wait_secs: int = 0) -> None:
        from streamparse.thrift import KillOptions

        with self.client() as nimbus:
            nimbus.killTopologyWithOpts(name, KillOptions(wait_secs=wait_secs))

    def rebalance(self, name: str, *, wait_secs: int = 0, workers: int | None = None,
                  executors: dict[str, int] | None = None) -> None:
        from streamparse.thrift import RebalanceOptions

        with self.client() as nimbus:
            nimbus.rebalance(name, RebalanceOptions(wait_secs=wait_secs, num_workers=workers, num_executors=executors))

    def executor_hosts(self, name: str) -> dict[str, int]:
        """Host -> executors of topology ``name`` that Nimbus has assigned there (empty if no such
        topology); a host that died keeps its executors until Nimbus reassigns them."""
        topology_id = self.topology_id(name)
        if topology_id is None:
            return {}
        with self.client() as nimbus:
            executors = nimbus.getTopologyInfo(topology_id).executors or []
        hosts: dict[str, int] = {}
        for executor in executors:
            hosts[executor.host] = hosts.get(executor.host, 0) + 1
        return hosts

    def health(self, name: str) -> TopologyHealth | None:
        """The topology's status, workers and all-time stats; None if no topology has that name."""
        topology_id = self.topology_id(name)
        if topology_id is None:
            return None
        with self.client() as nimbus:
            return _health(nimbus.getTopologyPageInfo(topology_id, ":all-time", False))

    def topologies(self) -> list[TopologyHealth]:
        """Every live topology's health, by name (one connection to Nimbus)."""
        with self.client() as nimbus:
            summaries = nimbus.getClusterInfo().topologies or []
            return [_health(nimbus.getTopologyPageInfo(t.id, ":all-time", False))
                    for t in sorted(summaries, key=lambda t: t.name)]


def _health(page: Any) -> TopologyHealth:
    stats = page.topology_stats
    components = {}
    for component_id, agg in {**(page.id_to_spout_agg_stats or {}), **(page.id_to_bolt_agg_stats or {})}.items():
        common = agg.common_stats
        bolt = agg.specific_stats.bolt if agg.specific_stats is not None and agg.specific_stats.bolt else None
        components[component_id] = ComponentStats(common.num_executors or 0, common.emitted or 0,
                                                   common.acked or 0, common.failed or 0,
                                                   capacity=float(bolt.capacity or 0.0) if bolt is not None else None)
    return TopologyHealth(
        id=page.id,
        name=page.name,
        status=page.status,
        uptime_secs=page.uptime_secs or 0,
        workers=len(page.workers or []),
        emitted=(stats.window_to_emitted or {}).get(":all-time", 0),
        acked=(stats.window_to_acked or {}).get(":all-time", 0),
        failed=(stats.window_to_failed or {}).get(":all-time", 0),
        complete_latency_ms=(stats.window_to_complete_latencies_ms or {}).get(":all-time", 0.0),
        components=components,
        conf=json.loads(page.topology_conf or "{}"),
        executors=page.num_executors or 0,
    )
