"""Hive of the local stack (Spark's Thrift server), through the Hive provider's HiveServer2Hook."""

from __future__ import annotations

import pytest
from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook
from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook


def test_external_table_over_hdfs_folder(stack, unique_name):
    folder = f"/tests/{unique_name}"
    rows = [f"10.0.0.{i % 7},{1000 + i % 3},1795000000,300" for i in range(300)]
    WebHDFSHook().get_conn().write(f"{folder}/part-0.log", data=("\n".join(rows) + "\n").encode())

    hive = HiveServer2Hook()
    hive.run(
        f"""CREATE EXTERNAL TABLE {unique_name} (host STRING, config_id BIGINT, start_time BIGINT, `interval` INT)
            ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
            STORED AS TEXTFILE LOCATION '{stack.config.hdfs_uri}{folder}'"""
    )
    result = hive.get_records(f"SELECT config_id, count(*) FROM {unique_name} GROUP BY config_id ORDER BY config_id")
    assert [tuple(row) for row in result] == [(1000, 100), (1001, 100), (1002, 100)]


@pytest.mark.parametrize("user, password", [("logstream", "wrong"), ("root", None), ("intruder", "x")])
def test_login_needs_the_generated_password(stack, user, password):
    from pyhive import hive
    from thrift.transport.TTransport import TTransportException

    with pytest.raises(TTransportException, match="Error validating the login"):
        hive.connect(host=stack.config.host, port=stack.config.ports["hive"], username=user,
                     password=password or "", auth="CUSTOM")
