"""Task logic for the online statistics on Storm: build and submit, kill, rebalance, health check."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.exceptions import AirflowException
from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook
from airflow.providers.apache.kafka.hooks.consume import KafkaConsumerHook
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.sdk import BaseOperator

from hooks.storm_nimbus import StormNimbusHook
from logstream.stack.process import ServiceError
from logstream.results.store import CONNECT_TIMEOUT_SECONDS, SESSION_OPTIONS, open_store
from logstream.storm.deployment import deploy
from logstream.pipeline_config import load_pipeline_config
from logstream.storm.health import Progress, judge, partition_lag

RESULTS_CONN_ID = "logstream_results"


def configured_results_conn_id() -> str:
    """The topology's result store connection: ``[logstream] results_conn_id``
    (``AIRFLOW__LOGSTREAM__RESULTS_CONN_ID``), else ``logstream_results``; its type (postgres or
    oracle) picks the store."""
    from airflow.configuration import conf

    return conf.get("logstream", "results_conn_id", fallback=RESULTS_CONN_ID)
JAR_DIR = Path(tempfile.gettempdir()) / "logstream-storm-jars"


def results_dsn(conn_id: str) -> str:
    """The result database as the workers reach it, by the connection's type. PostgreSQL: a libpq DSN
    (the hook's URI names a SQLAlchemy driver), with the connection's ``connect_timeout`` and
    ``options`` extras, else the store's session bounds. Oracle: ``oracle://login:password@host:port/
    service`` (the service from the extra ``service_name``, else the connection's schema)."""
    from urllib.parse import quote

    from psycopg2.extensions import make_dsn

    conn = PostgresHook.get_connection(conn_id)
    extra = conn.extra_dejson
    if conn.conn_type == "oracle":
        service = extra.get("service_name") or conn.schema
        if not service:
            raise AirflowException(f"connection {conn_id!r} (oracle) names no service: set extra service_name")
        return (f"oracle://{quote(conn.login or '', safe='')}:{quote(conn.password or '', safe='')}@"
                f"{conn.host}:{conn.port or 1521}/{service}")
    if conn.conn_type not in ("postgres", "postgresql"):
        raise AirflowException(f"connection {conn_id!r} is of type {conn.conn_type!r}: the result store is "
                               "PostgreSQL (postgres) or Oracle (oracle)")
    return make_dsn(host=conn.host, port=conn.port, user=conn.login, password=conn.password or None,
                    dbname=conn.schema, connect_timeout=extra.get("connect_timeout", CONNECT_TIMEOUT_SECONDS),
                    options=extra.get("options", SESSION_OPTIONS))


class SubmitStormTopologyOperator(BaseOperator):
    """Builds the security_stats jar and submits it as ``name``; a no-op when the same jar runs.

    Workers reach Kafka and the result database at the addresses of the connections given here, and
    run the Python components with the Nimbus connection's extra ``streamparse_run`` (the topology
    environment's path on the Supervisor hosts; without it, this worker's own environment, for a
    Supervisor on the same machine).

    :param name: the topology's name (templated).
    :param topic: the Kafka topic it counts (templated).
    :param overrides: ``logstream`` settings replacing ``include/storm/security_stats.yaml``'s.
    :param storm_conn_id: the Nimbus connection.
    :param kafka_config_id: the Kafka connection (``bootstrap.servers`` in its extra).
    :param results_conn_id: the result store's connection, of type postgres or oracle (default:
        ``[logstream] results_conn_id``, else ``logstream_results``).
    :param flux_core_jar: flux-core's jar, whose classes go into the topology jar (optional).
    """

    template_fields: Sequence[str] = ("name", "topic")

    def __init__(self, *, name: str, topic: str, overrides: dict[str, Any] | None = None,
                 storm_conn_id: str = StormNimbusHook.default_conn_name,
                 kafka_config_id: str = KafkaBaseHook.default_conn_name, results_conn_id: str | None = None,
                 flux_core_jar: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.topic = topic
        self.overrides = overrides
        self.storm_conn_id = storm_conn_id
        self.kafka_config_id = kafka_config_id
        self.results_conn_id = results_conn_id or configured_results_conn_id()
        self.flux_core_jar = flux_core_jar

    def execute(self, context: Any) -> str:
        kafka = KafkaBaseHook(kafka_config_id=self.kafka_config_id).get_connection(self.kafka_config_id)
        nimbus = StormNimbusHook(storm_conn_id=self.storm_conn_id)
        deployment = deploy(
            nimbus=nimbus.get_conn(),
            command=nimbus.get_connection(self.storm_conn_id).extra_dejson.get("streamparse_run"),
            name=self.name,
            topic=self.topic,
            kafka_bootstrap=kafka.extra_dejson["bootstrap.servers"],
            results_dsn=results_dsn(self.results_conn_id),
            jar_dir=JAR_DIR,
            flux_core_jar=Path(self.flux_core_jar) if self.flux_core_jar else None,
            overrides=self.overrides,
        )
        verb = "submitted" if deployment.submitted else "already running with the same jar"
        if deployment.replaced:
            verb = f"submitted in place of {deployment.replaced}, which ran other code (killed and waited out)"
        self.log.info("topology %s (%s) %s: %s", self.name, deployment.topology_id, verb, deployment.jar.name)
        return deployment.topology_id


class KillStormTopologyOperator(BaseOperator):
    """Kills topology ``name`` (its workers get ``wait_secs`` to finish); succeeds if it is already gone.

    :param name: the topology's name (templated).
    :param wait_secs: seconds Storm deactivates it before killing (templated).
    :param storm_conn_id: the Nimbus connection.
    """

    template_fields: Sequence[str] = ("name", "wait_secs")

    def __init__(self, *, name: str, wait_secs: int = 0, storm_conn_id: str = StormNimbusHook.default_conn_name,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.wait_secs = wait_secs
        self.storm_conn_id = storm_conn_id

    def execute(self, context: Any) -> None:
        nimbus = StormNimbusHook(storm_conn_id=self.storm_conn_id).get_conn()
        if nimbus.topology_id(self.name) is None:
            self.log.info("topology %s is not running: nothing to kill", self.name)
            return
        nimbus.kill(self.name, wait_secs=int(self.wait_secs))
        self.log.info("topology %s killed (after %ss)", self.name, self.wait_secs)


class RebalanceStormTopologyOperator(BaseOperator):
    """Rebalances topology ``name`` onto ``workers`` workers and/or new executor counts.

    :param name: the topology's name (templated).
    :param workers: the new number of workers (None: unchanged; templated).
    :param executors: component id -> executors (None: unchanged).
    :param wait_secs: seconds Storm deactivates it before moving executors.
    :param storm_conn_id: the Nimbus connection.
    """

    template_fields: Sequence[str] = ("name", "workers")

    def __init__(self, *, name: str, workers: int | None = None, executors: dict[str, int] | None = None,
                 wait_secs: int = 0, storm_conn_id: str = StormNimbusHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.workers = workers
        self.executors = executors
        self.wait_secs = wait_secs
        self.storm_conn_id = storm_conn_id

    def execute(self, context: Any) -> None:
        StormNimbusHook(storm_conn_id=self.storm_conn_id).get_conn().rebalance(
            self.name, wait_secs=self.wait_secs, workers=None if self.workers is None else int(self.workers),
            executors=self.executors)
        self.log.info("topology %s rebalanced: workers=%s executors=%s", self.name, self.workers, self.executors)


class StormTopologyHealthOperator(BaseOperator):
    """Fails, naming each problem, when topology ``name`` is down, inactive, short of workers, more
    than ``max_lag_records`` behind Kafka in a partition, lost records to Kafka's retention within
    the last hour (``online_retention_losses``), frozen (most records of the window arriving expired)
    or stalled (a partition's oldest uncounted record waiting too long); logs emitted/acked/failed,
    latency and each partition's progress.

    :param name: the topology's name (templated).
    :param topic: the topic it counts (templated).
    :param workers: how many workers it must have up.
    :param max_lag_records: the most records a partition may wait in Kafka uncounted (templated).
    :param window_minutes: the window of the expired share (templated; default ``pipeline.yaml``'s
        ``health.online_window_minutes``, which also holds the share and the stalled time).
    :param storm_conn_id: the Nimbus connection.
    :param kafka_config_id: the Kafka connection.
    :param results_conn_id: the result store's connection, of type postgres or oracle (default:
        ``[logstream] results_conn_id``, else ``logstream_results``).
    """

    template_fields: Sequence[str] = ("name", "topic", "max_lag_records", "window_minutes")

    def __init__(self, *, name: str, topic: str, workers: int = 1, max_lag_records: int = 1_000_000,
                 window_minutes: float | None = None, storm_conn_id: str = StormNimbusHook.default_conn_name,
                 kafka_config_id: str = KafkaBaseHook.default_conn_name, results_conn_id: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.topic = topic
        self.workers = workers
        self.max_lag_records = max_lag_records
        self.window_minutes = window_minutes
        self.storm_conn_id = storm_conn_id
        self.kafka_config_id = kafka_config_id
        self.results_conn_id = results_conn_id or configured_results_conn_id()

    def execute(self, context: Any) -> dict[str, Any]:
        health = StormNimbusHook(storm_conn_id=self.storm_conn_id).get_conn().health(self.name)
        settings = load_pipeline_config().health
        window = float(self.window_minutes) if self.window_minutes is not None else settings.online_window_minutes
        store = open_store(results_dsn(self.results_conn_id))  # PostgreSQL or Oracle, by the connection's type
        try:
            stored = store.stored_offsets(topology=self.name, topic=self.topic)
            # losses noticed within the last hour: one incident that closes by itself an hour later
            losses = store.recent_losses(topology=self.name, topic=self.topic, seconds=3600)
            counted = store.recent_flushes(topology=self.name, topic=self.topic, seconds=window * 60)
        finally:
            store.close()
        starts, ends = self._kafka_offsets()
        lag = partition_lag(ends, stored, starts)
        waited = self._oldest_waiting_seconds({p: stored.get(p, starts.get(p, 0)) for p, n in lag.items() if n})
        progress = {p: Progress(*counted.get(p, (0, 0)), oldest_waiting_seconds=waited.get(p)) for p in lag}
        report = judge(name=self.name, health=health, expected_workers=self.workers,
                       lag=lag, max_lag_records=int(self.max_lag_records),
                       retention_losses=losses, progress=progress,
                       window_minutes=window, max_expired_share=settings.online_max_expired_share,
                       stalled_minutes=settings.online_stalled_minutes)
        self.log.info("per partition, the last %g minutes: %s", window,
                      {p: f"{g.records} records counted, {g.expired} expired"
                          + (f", oldest uncounted waiting {g.oldest_waiting_seconds:.0f}s"
                             if g.oldest_waiting_seconds is not None else "")
                       for p, g in sorted(progress.items())})
        if health is not None:
            self.log.info("topology %s (%s): %s, %d workers, up %ds; emitted %d, acked %d, failed %d; "
                          "complete latency %.1f ms", self.name, health.id, health.status, health.workers,
                          health.uptime_secs, health.emitted, health.acked, health.failed, health.complete_latency_ms)
        self.log.info("lag per partition: %s (total %d)", report.lag, report.total_lag)
        if report.problems:
            raise AirflowException("; ".join(report.problems))
        return {"lag": report.total_lag, "acked": health.acked, "failed": health.failed,
                "complete_latency_ms": health.complete_latency_ms}

    def _oldest_waiting_seconds(self, next_offsets: dict[int, int]) -> dict[int, float]:
        """Per partition, how long ago (by its Kafka timestamp) the record at ``next_offsets`` arrived."""
        from confluent_kafka import TopicPartition

        if not next_offsets:
            return {}
        consumer = KafkaConsumerHook([self.topic], kafka_config_id=self.kafka_config_id).get_consumer()
        waited: dict[int, float] = {}
        try:
            consumer.assign([TopicPartition(self.topic, p, offset) for p, offset in next_offsets.items()])
            deadline = time.monotonic() + 20
            while len(waited) < len(next_offsets) and time.monotonic() < deadline:
                for message in consumer.consume(num_messages=len(next_offsets), timeout=2):
                    if message.error() is None and message.partition() not in waited:
                        waited[message.partition()] = time.time() - message.timestamp()[1] / 1000
                        consumer.pause([TopicPartition(self.topic, message.partition())])
        finally:
            consumer.close()
        return waited

    def _kafka_offsets(self) -> tuple[dict[int, int], dict[int, int]]:
        """Each partition's first and next offset in Kafka."""
        from confluent_kafka import TopicPartition

        consumer = KafkaConsumerHook([self.topic], kafka_config_id=self.kafka_config_id).get_consumer()
        try:
            partitions = consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
            marks = {p: consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10) for p in partitions}
        finally:
            consumer.close()
        return {p: low for p, (low, _high) in marks.items()}, {p: high for p, (_low, high) in marks.items()}


class StormDaemonsHealthOperator(BaseOperator):
    """Fails, naming each problem, when Nimbus does not answer, leads nothing or has fewer Supervisors
    registered than the connection's extra ``supervisors`` (default 1); logs the slots in use.

    With the connection's ``supervisor: airflow`` (the local stack's daemons, which this machine
    launches) and ``repair``, a daemon whose process crashed is started again first (this task waits
    for it, as ``stack up`` would: about 20 s), and the task fails naming it with the seconds until
    Storm was whole again: one incident, which the next run closes. A daemon stopped on purpose
    (``stack down storm``) is left stopped. With ``supervisor: hosts`` the daemons' hosts restart
    them; a missing one is named, never started here.

    :param repair: start the local daemons whose process crashed.
    :param storm_conn_id: the Nimbus connection.
    """

    def __init__(self, *, repair: bool = True, storm_conn_id: str = StormNimbusHook.default_conn_name,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repair = repair
        self.storm_conn_id = storm_conn_id

    def execute(self, context: Any) -> dict[str, int]:
        hook = StormNimbusHook(storm_conn_id=self.storm_conn_id)
        problems = []
        daemons = hook.local_daemons() if self.repair else None
        if daemons is not None:
            try:
                started, seconds = daemons.start_crashed()
            except ServiceError as err:
                raise AirflowException(f"storm daemons could not be started again: {err}") from err
            if started:
                self.log.warning("storm daemons %s had crashed: started again, Storm whole after %.1fs",
                                 ", ".join(started), seconds)
                problems.append(f"storm daemon(s) {', '.join(repr(name) for name in started)} down: started again, "
                                f"Storm whole after {seconds:.0f}s")
        try:
            summary = hook.get_conn().cluster_summary()
        except OSError as err:
            raise AirflowException("; ".join([*problems, f"Nimbus not answering: {err}"])) from err
        leaders = [n for n in summary.nimbuses if n.isLeader]
        slots = sum(s.num_workers for s in summary.supervisors)
        used = sum(s.num_used_workers for s in summary.supervisors)
        self.log.info("Nimbus %s: %d supervisor(s) (%s), %d/%d slots used, %d topologies",
                      f"{leaders[0].host}:{leaders[0].port}" if leaders else "(no leader)", len(summary.supervisors),
                      ", ".join(f"{s.host} up {s.uptime_secs}s" for s in summary.supervisors), used, slots,
                      len(summary.topologies))
        if not leaders:
            problems.append(f"no Nimbus leads ({len(summary.nimbuses)} answering)")
        expected = hook.expected_supervisors()
        if len(summary.supervisors) < expected:
            problems.append(f"{len(summary.supervisors)} Storm supervisor(s) registered, {expected} expected")
        if problems:
            raise AirflowException("; ".join(problems))
        return {"supervisors": len(summary.supervisors), "slots": slots, "slots_used": used}


class ResultStoreRetentionOperator(BaseOperator):
    """Delete the result store's rows older than ``include/pipeline.yaml``'s ``results_retention``
    (``ResultStore.apply_retention``: in batches, the newest flush and pane close of each partition
    kept), logging the rows deleted and the rate as it goes; returns table -> rows deleted."""

    def __init__(self, *, results_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results_conn_id = results_conn_id or configured_results_conn_id()

    def execute(self, context: Any) -> dict[str, int]:
        retention = load_pipeline_config().results_retention
        self.log.info("keeping (days; None: for ever): %s", retention)
        store = open_store(results_dsn(self.results_conn_id))
        try:
            return store.apply_retention(retention, say=self.log.info)
        finally:
            store.close()
