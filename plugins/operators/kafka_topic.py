"""Create or check a business's Kafka topic before anything reads it."""

from __future__ import annotations

from typing import Any

from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook
from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook
from airflow.sdk import BaseOperator

from logstream.kafka_topics import ensure_topic


class EnsureKafkaTopicOperator(BaseOperator):
    """Creates the topic, or adds partitions, so that it has ``partitions``; fails if it has more.

    :param topic: the topic's name.
    :param partitions: how many partitions it must have.
    :param replication: its replication factor when it is created.
    :param kafka_config_id: the Kafka connection.
    """

    template_fields = ("topic",)

    def __init__(self, *, topic: str, partitions: int, replication: int = 1,
                 kafka_config_id: str = KafkaBaseHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.partitions = partitions
        self.replication = replication
        self.kafka_config_id = kafka_config_id

    def execute(self, context: Any) -> str:
        outcome = ensure_topic(KafkaAdminClientHook(kafka_config_id=self.kafka_config_id).get_conn, self.topic,
                               self.partitions, self.replication)
        self.log.info(outcome)
        return outcome
