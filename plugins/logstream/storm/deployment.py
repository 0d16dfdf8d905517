"""Deploying the security_stats topology: the result store's tables, the jar, the submission.

Resubmitting the same code is a no-op: the running topology's config carries the jar's hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logstream.results.store import PostgresResultStore
from logstream.storm.nimbus import NimbusClient
from logstream.storm.topology_config import PREFIX, topology_conf
from logstream.storm.topology_jar import build_jar, thrift_topology, streamparse_run

JAR_SHA_KEY = PREFIX + "jar_sha256"


@dataclass(frozen=True)
class Deployment:
    topology_id: str
    jar: Path
    submitted: bool  # False: the same jar was already running


class TopologyAlreadyRunning(RuntimeError):
    """A topology of that name runs other code; kill it first (Storm runs one topology per name)."""


def deploy(*, nimbus: NimbusClient, name: str, topic: str, kafka_bootstrap: str, results_dsn: str,
           jar_dir: Path, flux_core_jar: Path | None = None, overrides: dict[str, Any] | None = None) -> Deployment:
    """Create the result tables, build the jar and submit it unless the same jar runs under ``name``.

    :param nimbus: the cluster's Nimbus.
    :param name: the topology's name (also the writer's name in ``online_offsets``).
    :param topic: the Kafka topic to count.
    :param kafka_bootstrap: Kafka's bootstrap servers as the workers reach them.
    :param results_dsn: the result database as the workers reach it (libpq DSN or URI).
    :param jar_dir: where built jars are kept.
    :param flux_core_jar: flux-core's jar, whose classes go into the topology jar.
    :param overrides: ``logstream`` settings that replace the file's (records_per_tuple, ...).
    """
    from logstream.storm.topologies.security_stats import SecurityStats

    store = PostgresResultStore.from_dsn(results_dsn)
    try:
        store.create_schema()
    finally:
        store.close()
    conf = topology_conf(name=name, topic=topic, kafka_bootstrap=kafka_bootstrap, results_dsn=results_dsn,
                         overrides=overrides)
    command = streamparse_run()
    jar = build_jar(SecurityStats, name=name, conf=conf, out_dir=jar_dir, flux_core_jar=flux_core_jar, command=command)
    conf[JAR_SHA_KEY] = jar.sha256
    running = nimbus.health(name)
    if running is not None:
        if running.conf.get(JAR_SHA_KEY) == jar.sha256:
            return Deployment(running.id, jar.path, submitted=False)
        raise TopologyAlreadyRunning(
            f"topology {name!r} ({running.id}) runs jar {running.conf.get(JAR_SHA_KEY)!r}, not {jar.sha256!r}: kill it first")
    topology_id = nimbus.submit(name=name, jar=jar.path, topology=thrift_topology(SecurityStats, command=command), conf=conf)
    return Deployment(topology_id, jar.path, submitted=True)
