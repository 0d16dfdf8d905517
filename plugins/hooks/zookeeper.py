"""The ZooKeeper ensemble that coordinates logstream's writers (the HadoopConsumer's partition
leases, the Hive reports' write lock), from an Airflow connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk import BaseHook
from kazoo.client import KazooClient

from logstream.zookeeper_sessions import bounded_client

ZOOKEEPER_DEFAULT_CONN_ID = "zookeeper_default"
SESSION_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 30.0


class ZooKeeperHook(BaseHook):
    """ZooKeeper's ``host:port,...`` from a connection: its host and port, or several hosts in ``extra.hosts``.

    :param zookeeper_conn_id: the ZooKeeper connection
    """

    conn_name_attr = "zookeeper_conn_id"
    default_conn_name = ZOOKEEPER_DEFAULT_CONN_ID
    conn_type = "generic"
    hook_name = "ZooKeeper"

    def __init__(self, zookeeper_conn_id: str = ZOOKEEPER_DEFAULT_CONN_ID) -> None:
        super().__init__()
        self.zookeeper_conn_id = zookeeper_conn_id

    def hosts(self) -> str:
        connection = self.get_connection(self.zookeeper_conn_id)
        return connection.extra_dejson.get("hosts") or f"{connection.host}:{connection.port}"

    @contextmanager
    def session(self) -> Iterator[KazooClient]:
        """A started client (a ZooKeeper session) for the duration of the block; its ephemeral nodes go with it."""
        client = bounded_client(self.hosts(), SESSION_TIMEOUT_SECONDS)
        client.start(timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            yield client
        finally:
            client.stop()
            client.close()
