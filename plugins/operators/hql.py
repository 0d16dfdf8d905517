"""HQL files run on HiveServer2.

The Hive provider's ``HiveOperator`` drives the ``hive``/``beeline`` command line (a JVM per task);
common-sql's ``SQLExecuteQueryOperator`` talks to HiveServer2 through ``HiveServer2Hook`` but only
reads ``.sql`` files as templates. This is the latter, reading ``.hql`` files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator


class HqlOperator(SQLExecuteQueryOperator):
    """Run a templated HQL script (statements separated by ``;``) on a HiveServer2 connection.

    :param sql: the HQL, or the name of an ``.hql`` file on the DAG's ``template_searchpath``
    :param conn_id: the HiveServer2 connection
    """

    template_ext: Sequence[str] = (".hql", ".sql")
    template_fields_renderers = {"sql": "hql"}
    ui_color = "#f0e4ec"

    def __init__(self, *, sql: str, conn_id: str = HiveServer2Hook.default_conn_name, **kwargs: Any) -> None:
        kwargs.setdefault("split_statements", True)
        kwargs.setdefault("do_xcom_push", False)
        super().__init__(sql=sql, conn_id=conn_id, **kwargs)
