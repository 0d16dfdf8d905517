"""The gap finder's task: host file bytes no consumer took, reported and refilled from the hosts."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any


from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from hooks.flume_metrics import FlumeMetricsHook
from hooks.webhdfs import BoundedWebHDFSHook
from logstream.flume.gap_refill import find_and_refill
from logstream.pipeline_config import load_pipeline_config
from logstream.results import schema
from logstream.reconciliation.line_accounting import online_line_ranges


class LineGapsError(AirflowException):
    """Lines of a host file were missing (and refilled), lost, or could not be refilled."""


class RefillLineGapsOperator(BaseOperator):
    """Compare ``topic``'s host files with the byte ranges the HadoopConsumer took
    (``logstream.flume.gap_refill``): a part still not taken ``gap_delay_minutes`` after it was first
    seen is a gap, re-read from its host file and sent through the host's L1 agent with its line ids.
    Fails naming each gap refilled, each range lost (its file rotated away or truncated: reported
    once) and each refill that failed, so an incident opens once and closes when no gap is left.
    Logs, per host file, which bytes Kafka, HDFS and the topology ``topology`` hold: missing, more
    than once, or exactly once (``logstream.reconciliation.line_accounting``).

    :param topic: the business topic whose hosts are looked at
    :param topology: the topology whose committed lines are accounted for (default ``security_stats_<topic>``)
    :param flume_conn_id: the Flume agents' connection (the hosts' log dirs, the L1s' refill ports)
    :param webhdfs_conn_id: the WebHDFS connection (``offset.dat``, the gap finder's state)
    :param kafka_config_id: the Kafka connection (``bootstrap.servers`` in its extra), for the accounting
    :param results_conn_id: the result database's PostgreSQL connection, for the accounting
    """

    ui_color = "#f3e9d2"

    def __init__(self, *, topic: str, topology: str | None = None,
                 flume_conn_id: str = FlumeMetricsHook.default_conn_name,
                 webhdfs_conn_id: str = BoundedWebHDFSHook.default_conn_name,
                 kafka_config_id: str = KafkaBaseHook.default_conn_name,
                 results_conn_id: str = "logstream_results", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.topology = topology or f"security_stats_{topic}"
        self.flume_conn_id = flume_conn_id
        self.webhdfs_conn_id = webhdfs_conn_id
        self.kafka_config_id = kafka_config_id
        self.results_conn_id = results_conn_id

    def execute(self, context: Any) -> str:
        pipeline = load_pipeline_config()
        flume = FlumeMetricsHook(flume_conn_id=self.flume_conn_id)
        tiers = flume.tiers(pipeline)
        # the hosts' files are read where the hosts see them: here, or on each host over SSH
        placement = replace(tiers.placement, hosts_root=flume.on_host(tiers, tiers.placement.hosts_root))
        client = BoundedWebHDFSHook(webhdfs_conn_id=self.webhdfs_conn_id).get_conn()
        kafka = KafkaBaseHook(kafka_config_id=self.kafka_config_id).get_connection(self.kafka_config_id)
        results = PostgresHook(postgres_conn_id=self.results_conn_id)
        # no topology has ever written here (the table comes with the first deploy): nothing to account for
        deployed = results.get_first("SELECT to_regclass(%s)", parameters=(schema.OFFSETS,))[0] is not None
        online = online_line_ranges(results.get_records, self.topology, self.topic) if deployed else None
        with flume.host_files() as host_files:
            outcome = find_and_refill(client, pipeline, placement, tiers.agents, topic=self.topic, now=time.time(),
                                      kafka_bootstrap=kafka.extra_dejson["bootstrap.servers"], online=online,
                                      l1_address=tiers.address, host_files=host_files, progress=self.log.info)
        self.log.info("%s: %s", self.topic, outcome.summary())
        if online is None:
            self.log.info("%s: the topology %s has committed nothing from it: not accounted for", self.topic,
                          self.topology)
        self.log.info("line accounting, per host file:\n%s", "\n".join(str(account) for account in outcome.accounts))
        problems = ([f"refilled (lines were missing): {gap}" for gap in outcome.refilled]
                    + [f"lost, cannot be refilled: {gap}" for gap in outcome.report.lost]
                    + [f"refill failed: {failure}" for failure in outcome.failures])
        if problems:
            raise LineGapsError(f"{self.topic}: {len(problems)} gap problem(s):\n" + "\n".join(problems))
        return outcome.summary()
