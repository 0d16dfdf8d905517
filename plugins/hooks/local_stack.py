"""The local stack's services when this machine's Airflow keeps them running: the connection
``local_stack`` (extra ``supervisor: airflow`` and ``home``, the stack's folder; ``python -m logstream
stack up`` gives its Airflow one). Without that connection, or with ``supervisor: hosts`` (a
deployment: Compose's restart policy, systemd, the cluster's hosts), the services' hosts restart
them and the tasks only check them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from logstream.stack.service import Service

# who starts a service whose process is gone (the extra ``supervisor``, as Storm's and Flume's connections say it)
KEEPERS = ("airflow", "hosts")


def airflow_keeps(conn_id: str, extra: dict) -> Path | None:
    """The local stack's folder when a connection's extra says this machine's Airflow keeps its
    processes running (``supervisor: airflow`` with ``home``); None when their hosts do (the default)."""
    supervisor = extra.get("supervisor", "hosts")
    if supervisor not in KEEPERS:
        raise ValueError(f"connection {conn_id!r}: supervisor must be one of {list(KEEPERS)}, not {supervisor!r}")
    if supervisor == "hosts":
        return None
    if "home" not in extra:
        raise ValueError(f"connection {conn_id!r}: supervisor airflow needs extra 'home' (the local stack's folder)")
    return Path(extra["home"])


class LocalStackHook(BaseHook):
    """:param stack_conn_id: the local stack's connection."""

    conn_name_attr = "stack_conn_id"
    default_conn_name = "local_stack"
    conn_type = "generic"
    hook_name = "logstream local stack"

    def __init__(self, stack_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.stack_conn_id = stack_conn_id

    def supervised_service(self, name: str) -> Service | None:
        """The local stack's service ``name`` when this machine's Airflow supervises the stack, else None."""
        from airflow.exceptions import AirflowNotFoundException

        try:
            extra = self.get_connection(self.stack_conn_id).extra_dejson
        except AirflowNotFoundException:
            return None
        home = airflow_keeps(self.stack_conn_id, extra)
        if home is None:
            return None
        from logstream.stack.config import StackConfig
        from logstream.stack.local_stack import LocalStack

        # ports as the stack's (LOGSTREAM_*_PORT, which Airflow's processes inherit from it)
        return LocalStack(StackConfig(home=home), only=[name]).service(name)
