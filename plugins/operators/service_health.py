"""The services the pipeline stands on, checked through the connections its tasks use (and the local
stack's crashed ones started again): the ``services_health`` DAG's tasks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow.exceptions import AirflowException
from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook
from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.sdk import BaseOperator, Variable

from hooks.hiveserver2 import BoundedHiveServer2Hook
from hooks.local_stack import LocalStackHook
from hooks.webhdfs import BoundedWebHDFSHook
from hooks.zookeeper import ZooKeeperHook
from logstream.stack.process import ServiceError

PROBE_SECONDS = 15


@dataclass(frozen=True)
class Answer:
    """What a service said to its probe. ``started``: since when it runs, from a service that says so
    (PostgreSQL): one that started again between two checks had an outage nobody saw (no task runs
    while Airflow's own database is down)."""

    detail: str
    started: datetime | None = None


def _kafka(conn_id: str) -> Answer:
    metadata = KafkaAdminClientHook(kafka_config_id=conn_id).get_conn.list_topics(timeout=PROBE_SECONDS)
    if not metadata.brokers:
        raise AirflowException("no Kafka broker in the metadata")
    return Answer(f"{len(metadata.brokers)} broker(s), {len(metadata.topics)} topic(s)")


def _hdfs(conn_id: str) -> Answer:
    status = BoundedWebHDFSHook(webhdfs_conn_id=conn_id).get_conn().status("/")
    return Answer(f"WebHDFS answers: / is a {status['type'].lower()}")


def _hive(conn_id: str) -> Answer:
    hook = BoundedHiveServer2Hook(hiveserver2_conn_id=conn_id, statement_timeout=PROBE_SECONDS)
    return Answer(f"HiveServer2 answers SELECT 1: {hook.get_records('SELECT 1')}")


def _zookeeper(conn_id: str) -> Answer:
    hook = ZooKeeperHook(zookeeper_conn_id=conn_id)
    with hook.session() as client:
        return Answer(f"ZooKeeper {hook.hosts()} answers: / holds {len(client.get_children('/'))} node(s)")


def _postgres(conn_id: str) -> Answer:
    [started] = PostgresHook(postgres_conn_id=conn_id).get_first("SELECT pg_postmaster_start_time()")
    return Answer(f"PostgreSQL answers, running since {_utc(started)}", started)


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


# each service's probe and the connection it goes through by default
PROBES: dict[str, tuple[Callable[[str], Answer], str]] = {
    "zookeeper": (_zookeeper, "zookeeper_default"),
    "kafka": (_kafka, KafkaBaseHook.default_conn_name),
    "hdfs": (_hdfs, "webhdfs_default"),
    "hive": (_hive, "hiveserver2_default"),
    "postgres": (_postgres, "logstream_results"),
}


def start_time_variable(service: str) -> str:
    """The Airflow Variable keeping when ``service`` was found started at its last check."""
    return f"services_health.{service}.started"


class ServiceHealthOperator(BaseOperator):
    """Fails, naming the problem, when ``service`` does not answer through its connection: ZooKeeper
    (a session), Kafka (a broker in the metadata), HDFS (WebHDFS's status of ``/``), Hive (``SELECT 1``
    over HiveServer2). Logs what answered.

    Where this machine's Airflow keeps the local stack running (the ``local_stack`` connection,
    ``hooks/local_stack.py``), a process of the service that crashed is started first (the task waits
    until the service is healthy, as ``stack up`` would) and the task fails naming it with the seconds
    until it answered: one incident, which the next run closes. A service stopped on purpose (``stack
    down``) is left stopped and named down. Elsewhere the services' hosts restart them: the task
    starts nothing.

    PostgreSQL (the result store's server; on the local stack also Airflow's own database) is checked
    by its start time too: no task runs while Airflow's database is down, so the outage shows as a
    start time later than the last check's, and the task fails naming it once. On the local stack the
    stack's keeper (``logstream/stack/keeper.py``) starts a crashed PostgreSQL again, not a task.

    :param service: ``zookeeper``, ``kafka``, ``hdfs``, ``hive`` or ``postgres``.
    :param conn_id: the connection the probe goes through (default: the one the pipeline's tasks use).
    :param stack_conn_id: the local stack's connection.
    """

    def __init__(self, *, service: str, conn_id: str | None = None,
                 stack_conn_id: str = LocalStackHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if service not in PROBES:
            raise ValueError(f"service must be one of {sorted(PROBES)}, not {service!r}")
        self.service = service
        self.conn_id = conn_id or PROBES[service][1]
        self.stack_conn_id = stack_conn_id

    def execute(self, context: Any) -> str:
        problems = []
        local = LocalStackHook(stack_conn_id=self.stack_conn_id).supervised_service(self.service)
        if local is not None:
            try:
                started, seconds = local.start_crashed()
            except ServiceError as err:
                raise AirflowException(f"{self.service} could not be started again: {err}") from err
            if started:
                self.log.warning("%s had crashed: started again, healthy after %.1fs", ", ".join(started), seconds)
                problems.append(f"{self.service} down ({', '.join(repr(name) for name in started)} crashed): "
                                f"started again, healthy after {seconds:.0f}s")
        probe, _ = PROBES[self.service]
        try:
            answer = probe(self.conn_id)
        except Exception as err:  # noqa: BLE001 - whatever the client raises, the service does not answer
            problems.append(f"{self.service} not answering through {self.conn_id!r}: {type(err).__name__}: {err}")
            if local is not None and not local.is_running():
                problems.append(f"its local process is stopped (`stack up {self.service}` starts it)")
            raise AirflowException("; ".join(problems)) from err
        self.log.info("%s: %s", self.service, answer.detail)
        if answer.started is not None:
            on_purpose = local.started_on_purpose() if local is not None else None
            problems.extend(self._restarted_since_last_check(answer.started, on_purpose))
        if problems:
            raise AirflowException("; ".join(problems))
        return answer.detail

    def _restarted_since_last_check(self, started: datetime, on_purpose: datetime | None) -> list[str]:
        """The restart of the service since the last check, if any: none at the first check, and none
        when the local stack's ``stack up`` started it as it runs now (``on_purpose``)."""
        key = start_time_variable(self.service)
        seen = Variable.get(key, default=None)
        if seen == started.isoformat():
            return []
        Variable.set(key, started.isoformat())
        if seen is None:
            return []
        if on_purpose == started:
            self.log.info("%s was started again by `stack up` at %s, not after a crash", self.service, _utc(started))
            return []
        return [f"{self.service} restarted: running since {_utc(started)}, at the last check since "
                f"{_utc(datetime.fromisoformat(seen))}"]
