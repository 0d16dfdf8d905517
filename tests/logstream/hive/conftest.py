"""Fixtures for the offline reports' tests: HDFS and Hive of the stack, a fresh root and database per test."""

from __future__ import annotations

import pytest
from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook

from landed_logs import LandedLogs


@pytest.fixture
def hive(stack):
    return HiveServer2Hook()


@pytest.fixture
def landed(hdfs_client, unique_name):
    yield LandedLogs(hdfs_client, f"/tests/{unique_name}/logs")
    hdfs_client.delete(f"/tests/{unique_name}", recursive=True)


@pytest.fixture
def database(hive, unique_name):
    yield unique_name
    hive.run(f"DROP DATABASE IF EXISTS {unique_name} CASCADE")
