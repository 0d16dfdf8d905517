"""The Airflow connections that point at the local stack, as ``AIRFLOW_CONN_*`` environment variables.

Nothing here is a secret: every local service listens on 127.0.0.1 with trust/no-auth. A deployment
sets the same variables (or Airflow connections) to its own hosts and credentials.
"""

from __future__ import annotations

import json

from logstream.stack.config import StackConfig


def connections(config: StackConfig) -> dict[str, dict]:
    host, ports = config.host, config.ports
    postgres = {"conn_type": "postgres", "host": host, "port": ports["postgres"], "login": "postgres", "schema": "logstream"}
    return {
        "kafka_default": {
            "conn_type": "kafka",
            "extra": {"bootstrap.servers": config.kafka_bootstrap, "group.id": "logstream", "auto.offset.reset": "earliest"},
        },
        "webhdfs_default": {"conn_type": "webhdfs", "host": host, "port": ports["hdfs_http"], "login": "root"},
        "hiveserver2_default": {
            "conn_type": "hiveserver2",
            "host": host,
            "port": ports["hive"],
            "login": "root",
            "schema": "default",
            "extra": {"auth_mechanism": "NONE"},
        },
        "postgres_default": postgres,
        "logstream_results": postgres,
        "flume_default": {
            "conn_type": "generic",
            "host": host,
            "port": ports["flume_metrics"],
            "extra": {"avro_base_port": ports["flume_avro"], "home": str(config.data_dir / "flume")},
        },
        "smtp_default": {
            "conn_type": "smtp",
            "host": host,
            "port": ports["smtp"],
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "logstream@localhost"},
        },
    }


def connection_env(config: StackConfig) -> dict[str, str]:
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn) for conn_id, conn in connections(config).items()}
