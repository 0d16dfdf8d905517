"""Storm's Nimbus behind an Airflow connection (``storm_default``: host and Thrift port of Nimbus)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from logstream.storm.nimbus import NimbusClient

DEFAULT_NIMBUS_PORT = 6627


class StormNimbusHook(BaseHook):
    """Shaped like the Hive metastore hook: Thrift behind a connection, connected in :meth:`get_conn`.

    :param storm_conn_id: the connection to Nimbus (host, port; extra ``timeout_ms``).
    """

    conn_name_attr = "storm_conn_id"
    default_conn_name = "storm_default"
    conn_type = "storm"
    hook_name = "Apache Storm (Nimbus Thrift)"

    def __init__(self, storm_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.storm_conn_id = storm_conn_id

    def get_conn(self) -> NimbusClient:
        conn = self.get_connection(self.storm_conn_id)
        return NimbusClient(host=conn.host, port=conn.port or DEFAULT_NIMBUS_PORT,
                            timeout_ms=int(conn.extra_dejson.get("timeout_ms", 30_000)))
