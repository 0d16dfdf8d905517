"""The HadoopConsumer's connections: Kafka through the Kafka provider's connection, HDFS through
WebHDFS, and the ZooKeeper that holds the partitions' leases."""

from __future__ import annotations

from typing import Any

from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook

from hooks.webhdfs import BoundedWebHDFSHook
from hooks.zookeeper import ZOOKEEPER_DEFAULT_CONN_ID, ZooKeeperHook
from logstream.hadoop_consumer.consumer import HadoopConsumer


class HadoopConsumerHook(KafkaBaseHook):
    """Builds a :class:`HadoopConsumer` from a Kafka, a WebHDFS and a ZooKeeper connection.

    :param hdfs_root: the HDFS folder logs, quarantine and offsets live under.
    :param kafka_config_id: the Kafka connection (its extra holds the librdkafka settings).
    :param webhdfs_conn_id: the WebHDFS connection of the HDFS that holds data and offset.dat.
    :param zookeeper_conn_id: the ZooKeeper connection (host and port; several hosts in ``extra.hosts``).
    """

    def __init__(self, *, hdfs_root: str, kafka_config_id: str = KafkaBaseHook.default_conn_name,
                 webhdfs_conn_id: str = BoundedWebHDFSHook.default_conn_name,
                 zookeeper_conn_id: str = ZOOKEEPER_DEFAULT_CONN_ID) -> None:
        super().__init__(kafka_config_id=kafka_config_id)
        self.hdfs_root = hdfs_root
        self.webhdfs_conn_id = webhdfs_conn_id
        self.zookeeper_conn_id = zookeeper_conn_id

    def hdfs_client(self) -> Any:
        return BoundedWebHDFSHook(webhdfs_conn_id=self.webhdfs_conn_id).get_conn()

    def zookeeper_hosts(self) -> str:
        return ZooKeeperHook(self.zookeeper_conn_id).hosts()

    def _get_client(self, config: dict[str, Any]) -> HadoopConsumer:
        return HadoopConsumer(config, self.hdfs_client(), self.hdfs_root, zookeeper_hosts=self.zookeeper_hosts(),
                              progress=self.log.info)
