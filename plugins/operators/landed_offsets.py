"""The continuous exactly-once check: every Kafka offset landed in HDFS once, proven from HDFS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook
from airflow.providers.apache.kafka.hooks.consume import KafkaConsumerHook
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException
from confluent_kafka import KafkaException

from hooks.webhdfs import BoundedWebHDFSHook
from logstream.kafka_partitions import first_offsets
from logstream.reconciliation.landed_offsets import audit_topic


class LandedOffsetsError(AirflowException):
    """HDFS does not hold every committed offset of a topic exactly once."""


class CheckLandedOffsetsOperator(BaseOperator):
    """Prove from HDFS file names, their line counts and ``offset.dat`` that every offset of every
    partition of ``topic`` up to the committed one landed exactly once
    (``logstream.reconciliation.landed_offsets``); fail naming each gap, loss or duplicate.

    Returns one summary line per partition.

    :param topic: the Kafka topic
    :param partitions: its partition count
    :param hdfs_root: the HadoopConsumer's HDFS root (templated)
    :param webhdfs_conn_id: the WebHDFS connection
    :param kafka_config_id: the Kafka connection (the first offset each partition still keeps)
    """

    template_fields: Sequence[str] = ("hdfs_root",)
    ui_color = "#e4f0e8"

    def __init__(self, *, topic: str, partitions: int, hdfs_root: str,
                 webhdfs_conn_id: str = BoundedWebHDFSHook.default_conn_name,
                 kafka_config_id: str = KafkaBaseHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.partitions = partitions
        self.hdfs_root = hdfs_root
        self.webhdfs_conn_id = webhdfs_conn_id
        self.kafka_config_id = kafka_config_id

    def execute(self, context) -> list[str]:
        client = BoundedWebHDFSHook(webhdfs_conn_id=self.webhdfs_conn_id).get_conn()
        kafka_starts = None
        consumer = KafkaConsumerHook([self.topic], kafka_config_id=self.kafka_config_id).get_conn  # not subscribed
        try:
            kafka_starts = first_offsets(consumer, self.topic, self.partitions)
        except KafkaException as err:  # HDFS alone still proves no gap and no duplicate between batches
            self.log.warning("%s: Kafka did not say its first offsets (%s): a gap before the first batch goes unseen",
                             self.topic, err)
        finally:
            consumer.close()
        audits = audit_topic(client, self.hdfs_root, self.topic, self.partitions, kafka_starts=kafka_starts,
                             progress=self.log.info)
        problems = [f"{audit.topic}[{audit.partition}]: {problem}" for audit in audits for problem in audit.problems]
        if problems:
            raise LandedOffsetsError(f"{len(problems)} problem(s) in what {self.topic} landed in HDFS:\n" + "\n".join(problems))
        return [audit.summary() for audit in audits]
