"""The Airflow connections that point at the local stack, as ``AIRFLOW_CONN_*`` environment variables.

The passwords are the stack's generated ones (``stack/credentials.py``, git-ignored); nothing in the
repository is a secret. A deployment sets the same variables (or Airflow connections) to its own
hosts and credentials.
"""

from __future__ import annotations

import json

from logstream.stack.config import StackConfig
from logstream.stack.credentials import HIVE_USER, local_secret
from logstream.stack.hive import USER as HIVE_LOGIN
from logstream.results.store import CONNECT_TIMEOUT_SECONDS, SESSION_OPTIONS
from logstream.stack.postgres import reader_and_password, role_and_password


def connections(config: StackConfig) -> dict[str, dict]:
    host, ports = config.host, config.ports
    role, password = role_and_password(config, "logstream")
    postgres = {"conn_type": "postgres", "host": host, "port": ports["postgres"], "login": role, "password": password,
                "schema": "logstream", "extra": {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "options": SESSION_OPTIONS}}
    reader, reader_password = reader_and_password(config, "logstream")
    return {
        "kafka_default": {
            "conn_type": "kafka",
            # socket.timeout.ms bounds every request to a broker (librdkafka's default is 60 s)
            "extra": {"bootstrap.servers": config.kafka_bootstrap, "group.id": "logstream", "auto.offset.reset": "earliest",
                      "socket.timeout.ms": 30000},
        },
        "webhdfs_default": {"conn_type": "webhdfs", "host": host, "port": ports["hdfs_http"], "login": "root",
                            "extra": {"timeout": 60}},
        # the HadoopConsumer's partition leases
        "zookeeper_default": {"conn_type": "generic", "host": host, "port": ports["zookeeper"]},
        "hiveserver2_default": {
            "conn_type": "hiveserver2",
            "host": host,
            "port": ports["hive"],
            "login": HIVE_LOGIN,
            "password": local_secret(config, HIVE_USER),
            "schema": "default",
            "extra": {"auth_mechanism": "CUSTOM"},
        },
        "postgres_default": postgres,
        "logstream_results": postgres,
        # the live dashboard's: the result store's read-only role
        "logstream_results_reader": {**postgres, "login": reader, "password": reader_password},
        # the stack's services: the services_health tasks start one whose process is gone
        "local_stack": {"conn_type": "generic", "extra": {"supervisor": "airflow", "home": str(config.home)}},
        # the stack's daemons: the storm_daemons task starts one whose process is gone
        "storm_default": {"conn_type": "storm", "host": host, "port": ports["storm_nimbus"],
                          "extra": {"supervisor": "airflow", "home": str(config.home)}},
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
