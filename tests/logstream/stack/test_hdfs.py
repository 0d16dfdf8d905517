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


def test_permissions_are_enforced(stack, hdfs_client, unique_name):
    """Another user may read what the pipeline lands but not change it (simple auth: the name is claimed)."""
    from hdfs import InsecureClient
    from hdfs.util import HdfsError

    folder = f"/tests/{unique_name}"
    hdfs_client.write(f"{folder}/part-0.log", data=b"10.0.0.1,42,1795000000,300\n")
    intruder = InsecureClient(f"http://{stack.config.host}:{stack.config.ports['hdfs_http']}", user="intruder")

    assert intruder.status(f"{folder}/part-0.log")["owner"] == "root"
    for change in (lambda: intruder.write(f"{folder}/part-1.log", data=b"x\n"),
                   lambda: intruder.delete(f"{folder}/part-0.log"),
                   lambda: intruder.rename(f"{folder}/part-0.log", f"{folder}/moved.log")):
        try:
            change()
        except HdfsError as err:
            assert "Permission denied" in str(err)
        else:
            raise AssertionError("HDFS let another user change the pipeline's files")
    assert hdfs_client.list(folder) == ["part-0.log"]
