"""The multi-host cluster (network namespaces on one box) for the cluster's tests: started once for
this folder if it is not running, and stopped after it (the hosts removed, the data kept)."""

from __future__ import annotations

import json
import os

import pytest
from single_box import yield_to_cluster

from logstream.cluster.cluster import Cluster


@pytest.fixture(scope="package")
def cluster(request) -> Cluster:
    yield_to_cluster(request.config)
    hosts = Cluster()
    started = not all(service.is_running() for service in hosts.services)
    keep = bool(os.environ.get("LOGSTREAM_KEEP_STACK"))
    try:
        hosts.up()
    except BaseException:
        if started and not keep:
            hosts.down()
        raise
    yield hosts
    if started and not keep:
        hosts.down()


@pytest.fixture
def cluster_kafka(cluster) -> dict:
    return {"bootstrap.servers": cluster.kafka_bootstrap}


@pytest.fixture
def cluster_hdfs(cluster):
    """The cluster's HDFS over WebHDFS, as the HadoopConsumer's hook gives it (an ``hdfs`` client)."""
    import hdfs

    return hdfs.InsecureClient(cluster.webhdfs_url, user="root")


@pytest.fixture
def cluster_hive(cluster, monkeypatch):
    """Airflow's Hive hook on the cluster's Thrift server, through an ``AIRFLOW_CONN_*`` connection made
    of the cluster's address alone, as a deployment defines it."""
    from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook

    monkeypatch.setenv("AIRFLOW_CONN_CLUSTER_HIVE", json.dumps(cluster.hive.connection()))
    return HiveServer2Hook(hiveserver2_conn_id="cluster_hive")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing cluster test's report names the cluster's services whose process was not running."""
    report = yield
    hosts = item.funcargs.get("cluster") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(hosts, Cluster):
        down = [service.name for service in hosts.services if not service.is_running()]
        report.sections.append(("cluster services not running", ", ".join(down) or "none"))
    return report



def pytest_collection_modifyitems(items):
    """The demo first among the cluster's tests: it runs the pipeline's own topic as a new user would,
    and the others write lines into that topic's hosts and partitions (a partition's older records,
    or one left idle with old ones, would keep its hours from being final for the demo's
    reconciliation)."""
    cluster = [index for index, item in enumerate(items) if "/logstream/cluster/" in str(item.path)]
    demo = [items[index] for index in cluster if item_is_demo(items[index])]
    rest = [items[index] for index in cluster if not item_is_demo(items[index])]
    for index, item in zip(cluster, demo + rest):
        items[index] = item


def item_is_demo(item) -> bool:
    return item.path.name == "test_demo_on_the_cluster.py"
