"""Waiting until an hour can be reconciled: reported offline, final online."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook
from airflow.providers.apache.kafka.hooks.consume import KafkaConsumerHook
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.sdk import BaseSensorOperator

from hooks.hiveserver2 import BoundedHiveServer2Hook
from logstream.kafka_partitions import end_offsets
from logstream.reconciliation.online_offline import offline_hour_version, online_final_through, online_hour_is_final
from operators.storm_topology import RESULTS_CONN_ID
from sensors.complete_hours import run_hours


class ReconcilableHoursSensor(BaseSensorOperator):
    """Wait until every hour of the run has a Hive report and the topology's counts of it are final
    (every partition's watermark past the hour's end plus the allowed lateness; a partition with no
    watermark that the topology has read to Kafka's end holds no hour back).

    :param topic: the Kafka topic
    :param topology: the Storm topology that counts it online
    :param database: the reports' Hive database (templated)
    :param allowed_lateness: the topology's allowed lateness
    """

    template_fields: Sequence[str] = ("topology", "database")

    def __init__(self, *, topic: str, topology: str, database: str, allowed_lateness: timedelta,
                 results_conn_id: str = RESULTS_CONN_ID,
                 hiveserver2_conn_id: str = BoundedHiveServer2Hook.default_conn_name,
                 kafka_config_id: str = KafkaBaseHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.topology = topology
        self.database = database
        self.allowed_lateness = allowed_lateness
        self.results_conn_id = results_conn_id
        self.hiveserver2_conn_id = hiveserver2_conn_id
        self.kafka_config_id = kafka_config_id

    def kafka_ends(self) -> dict[int, int]:
        consumer = KafkaConsumerHook([self.topic], kafka_config_id=self.kafka_config_id).get_consumer()
        try:
            return end_offsets(consumer, self.topic)
        finally:
            consumer.close()

    def poke(self, context) -> bool:
        hive = BoundedHiveServer2Hook(hiveserver2_conn_id=self.hiveserver2_conn_id)
        results = PostgresHook(postgres_conn_id=self.results_conn_id)
        kafka_ends = self.kafka_ends()
        waiting = []
        for key in run_hours(context, self.topic):
            if offline_hour_version(hive.get_records, self.database, self.topic, key) is None:
                waiting.append(f"{key}: no Hive report yet")
            elif not online_hour_is_final(results.get_records, self.topology, self.topic, key, self.allowed_lateness,
                                        kafka_ends):
                final = online_final_through(results.get_records, self.topology, self.topic, kafka_ends)
                waiting.append(f"{key}: online counts final only up to {final} (topology {self.topology})")
        for line in waiting:
            self.log.info("%s %s", self.topic, line)
        return not waiting
