"""Storm's Nimbus behind an Airflow connection (``storm_default``: host and Thrift port of Nimbus).

Extra ``supervisors``: how many Storm Supervisors must be registered (default 1). Extra
``supervisor``: who starts a Storm daemon whose process is gone. ``hosts`` (the default) is
the daemons' own hosts (Compose's restart policy, the cluster's hosts): the tasks never start one.
``airflow`` with ``home`` (the local stack's folder) is this machine's Airflow: the daemons of the
local stack under ``home``, which the health task starts again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from hooks.local_stack import airflow_keeps
from logstream.storm.nimbus import NimbusClient

if TYPE_CHECKING:
    from logstream.stack.storm import Storm

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

    def local_daemons(self) -> Storm | None:
        """The local stack's Storm daemons when this machine's Airflow supervises them, else None."""
        conn = self.get_connection(self.storm_conn_id)
        home = airflow_keeps(self.storm_conn_id, conn.extra_dejson)
        if home is None:
            return None
        from logstream.stack.config import StackConfig
        from logstream.stack.storm import Storm

        # ports as the stack's (LOGSTREAM_*_PORT, which Airflow's processes inherit from it)
        return Storm(StackConfig(home=home, host=conn.host or "127.0.0.1"))

    def expected_supervisors(self) -> int:
        """How many Storm Supervisors must be registered: the extra ``supervisors``, default 1."""
        return int(self.get_connection(self.storm_conn_id).extra_dejson.get("supervisors", 1))
