"""Fixtures for the HadoopConsumer's tests: the stack's Kafka, a fresh HDFS root per test."""

from __future__ import annotations

import pytest

from logstream.hadoop_consumer.consumer import HadoopConsumer


@pytest.fixture
def kafka_config(stack):
    return {"bootstrap.servers": stack.config.kafka_bootstrap}


@pytest.fixture
def root(unique_name):
    return f"/tests/{unique_name}/logs"


@pytest.fixture
def consumer(kafka_config, hdfs_client, root, zookeeper_hosts):
    return HadoopConsumer(kafka_config, hdfs_client, root, zookeeper_hosts=zookeeper_hosts)
