"""Deploying the security_stats topology: the result store's tables, the jar, the submission.

Resubmitting the same code is a no-op: the running topology's config carries the jar's hash. Other
code (a changed topology, configuration or dependency) replaces the running topology: it is killed
with a wait of ``kill_wait_secs`` (its spouts stop, in-flight tuples finish), its name is waited out
on Nimbus, and the new one is submitted; it resumes from the offsets the old one committed, so
nothing is counted twice or lost. The result store's schema is migrated only when a topology is
submitted, not on every scheduled check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logstream.results.store import open_store
from logstream.storm.nimbus import NimbusClient
from logstream.storm.topology_config import PREFIX, topology_conf
from logstream.storm.topology_jar import build_jar, thrift_topology, streamparse_run

JAR_SHA_KEY = PREFIX + "jar_sha256"


@dataclass(frozen=True)
class Deployment:
    topology_id: str
    jar: Path
    submitted: bool  # False: the same jar was already running
    replaced: str | None = None  # the id of the topology of other code it replaced


class TopologyAlreadyRunning(RuntimeError):
    """A topology of that name runs other code and may not be replaced (Storm runs one topology per name)."""


def deploy(*, nimbus: NimbusClient, name: str, topic: str, kafka_bootstrap: str, results_dsn: str,
           jar_dir: Path, flux_core_jar: Path | None = None, overrides: dict[str, Any] | None = None,
           replace_running: bool = True, kill_wait_secs: int = 10, gone_timeout: float = 300.0,
           command: str | None = None) -> Deployment:
    """Build the jar and, unless the same jar runs under ``name``, migrate the result tables and
    submit it, replacing a topology of other code (``replace_running``).

    :param nimbus: the cluster's Nimbus.
    :param name: the topology's name (also the writer's name in ``online_offsets``).
    :param topic: the Kafka topic to count.
    :param kafka_bootstrap: Kafka's bootstrap servers as the workers reach them.
    :param results_dsn: the result database as the workers reach it (a PostgreSQL DSN or URI, or
        ``oracle://user:password@host:port/service``: :func:`logstream.results.store.open_store`).
    :param jar_dir: where built jars are kept.
    :param flux_core_jar: flux-core's jar, whose classes go into the topology jar.
    :param overrides: ``logstream`` settings that replace the file's (records_per_tuple, ...).
    :param replace_running: kill a topology of other code running under ``name`` and submit (False: raise).
    :param kill_wait_secs: Storm's wait between deactivating the old topology and killing it.
    :param gone_timeout: how long Nimbus may take to forget the old topology.
    :param command: the ``streamparse_run`` of the topology's environment on the Supervisor hosts
        (default: this interpreter's own, for a Supervisor on this machine).
    """
    from logstream.storm.topologies.security_stats import SecurityStats

    conf = topology_conf(name=name, topic=topic, kafka_bootstrap=kafka_bootstrap, results_dsn=results_dsn,
                         overrides=overrides)
    command = command or streamparse_run()
    jar = build_jar(SecurityStats, name=name, conf=conf, out_dir=jar_dir, flux_core_jar=flux_core_jar, command=command)
    conf[JAR_SHA_KEY] = jar.sha256
    running = nimbus.health(name)
    replaced = None
    if running is not None:
        if running.conf.get(JAR_SHA_KEY) == jar.sha256:
            return Deployment(running.id, jar.path, submitted=False)
        if not replace_running:
            raise TopologyAlreadyRunning(f"topology {name!r} ({running.id}) runs jar {running.conf.get(JAR_SHA_KEY)!r}, "
                                         f"not {jar.sha256!r}: kill it first")
        nimbus.kill(name, wait_secs=kill_wait_secs)
        deadline = time.monotonic() + gone_timeout
        while nimbus.topology_id(name) is not None:
            if time.monotonic() > deadline:
                raise TopologyAlreadyRunning(f"topology {name!r} ({running.id}) was killed but Nimbus still lists it "
                                             f"after {gone_timeout:.0f}s")
            time.sleep(2)
        replaced = running.id
    store = open_store(results_dsn)
    try:
        store.create_schema()
    finally:
        store.close()
    topology_id = nimbus.submit(name=name, jar=jar.path, topology=thrift_topology(SecurityStats, command=command), conf=conf)
    return Deployment(topology_id, jar.path, submitted=True, replaced=replaced)
