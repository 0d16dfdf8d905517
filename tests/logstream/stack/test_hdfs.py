"""HDFS of the local stack (MiniDFSCluster), through the HDFS provider's WebHDFSHook."""

from __future__ import annotations

from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook


def test_write_read_rename_through_webhdfs_hook(stack, unique_name):
    hook = WebHDFSHook()
    client = hook.get_conn()
    folder = f"/tests/{unique_name}"
    payload = "".join(f"10.0.0.{i},42,1795000000,300\n" for i in range(1000)).encode()

    client.write(f"{folder}/_tmp.log", data=payload)
    assert client.rename(f"{folder}/_tmp.log", f"{folder}/part-0.log") is None
    assert not hook.check_for_path(f"{folder}/_tmp.log")
    assert hook.check_for_path(f"{folder}/part-0.log")
    assert hook.read_file(f"{folder}/part-0.log") == payload
    assert client.status(f"{folder}/part-0.log")["length"] == len(payload)
