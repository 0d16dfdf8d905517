"""HQL on HiveServer2 through common-sql's operators, bounded and cancelled on kill.

The Hive provider's ``HiveOperator`` drives the ``hive``/``beeline`` command line (a JVM per task);
common-sql's ``SQLExecuteQueryOperator`` and check operators talk to HiveServer2 through the
connection's hook. These run them on ``BoundedHiveServer2Hook`` (``hooks/hiveserver2.py``): each
statement has a timeout, and a killed task cancels the statement it has running on the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLExecuteQueryOperator,
    SQLTableCheckOperator,
)

from hooks.hiveserver2 import BoundedHiveServer2Hook


class BoundedHiveSql:
    """Mixin for common-sql operators: the bounded hook, and ``on_kill`` cancels the running statement."""

    conn_id: str
    hook_params: dict

    @cached_property
    def _hook(self) -> BoundedHiveServer2Hook:
        return BoundedHiveServer2Hook(hiveserver2_conn_id=self.conn_id, **(self.hook_params or {}))

    def get_db_hook(self) -> BoundedHiveServer2Hook:
        return self._hook

    def on_kill(self) -> None:
        cancelled = self._hook.cancel_running()
        self.log.info("killed: cancelled %d running HiveServer2 statement(s)", cancelled)


class HqlOperator(BoundedHiveSql, SQLExecuteQueryOperator):
    """Run a templated HQL script (statements separated by ``;``) on a HiveServer2 connection.

    :param sql: the HQL, or the name of an ``.hql`` file on the DAG's ``template_searchpath``
    :param conn_id: the HiveServer2 connection
    """

    template_ext: Sequence[str] = (".hql", ".sql")
    template_fields_renderers = {"sql": "hql"}
    ui_color = "#f0e4ec"

    def __init__(self, *, sql: str, conn_id: str = BoundedHiveServer2Hook.default_conn_name, **kwargs: Any) -> None:
        kwargs.setdefault("split_statements", True)
        kwargs.setdefault("do_xcom_push", False)
        super().__init__(sql=sql, conn_id=conn_id, **kwargs)


class HiveCheckOperator(BoundedHiveSql, SQLCheckOperator):
    """common-sql's ``SQLCheckOperator`` on HiveServer2, bounded."""


class HiveColumnCheckOperator(BoundedHiveSql, SQLColumnCheckOperator):
    """common-sql's ``SQLColumnCheckOperator`` on HiveServer2, bounded."""


class HiveTableCheckOperator(BoundedHiveSql, SQLTableCheckOperator):
    """common-sql's ``SQLTableCheckOperator`` on HiveServer2, bounded."""
