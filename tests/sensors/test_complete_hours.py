from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook

from logstream.hadoop_consumer.offset_store import OffsetStore, PartitionOffset
from logstream.hive.hours import hour_key
from logstream_assets import logs_asset
from sensors.complete_hours import CompleteHoursSensor, run_hours

START = datetime(2025, 12, 31, 23, tzinfo=timezone.utc)


def test_a_run_with_a_data_interval_reports_its_hour():
    context = {"data_interval_start": START, "data_interval_end": START + timedelta(hours=1)}
    assert run_hours(context, "security_logs") == ["2025-12-31T23"]


def test_an_asset_triggered_run_reports_the_hours_its_events_name():
    events = {
        logs_asset("security_logs"): [
            SimpleNamespace(extra={"topic": "security_logs", "hours": ["2026-01-01T00"]}),
            SimpleNamespace(extra={"topic": "security_logs", "hours": ["2025-12-31T23", "2026-01-01T00"]}),
        ],
        logs_asset("other"): [SimpleNamespace(extra={"topic": "other", "hours": ["2026-01-01T05"]})],
    }
    context = {"data_interval_start": None, "data_interval_end": None, "triggering_asset_events": events}
    assert run_hours(context, "security_logs") == ["2025-12-31T23", "2026-01-01T00"]
    assert run_hours({**context, "triggering_asset_events": {}}, "security_logs") == []


def test_pokes_until_every_partition_passed_the_hour(stack, unique_name):
    client = WebHDFSHook().get_conn()
    root = f"/tests/{unique_name}/logs"
    store = OffsetStore(client, root)
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    current_end = int((now + timedelta(hours=1)).timestamp())
    sensor = CompleteHoursSensor(task_id="wait", topic="t", hdfs_root=root, partitions=2, lateness=timedelta(minutes=30))
    context = {"data_interval_start": now, "data_interval_end": now + timedelta(hours=1)}
    try:
        store.write(PartitionOffset("t", 0, "b:9092", 10, current_end + 5))
        store.write(PartitionOffset("t", 1, "b:9092", 10, current_end - 5))
        assert not sensor.poke(context).is_done

        store.write(PartitionOffset("t", 1, "b:9092", 12, current_end))
        done = sensor.poke(context)
        assert done.is_done and done.xcom_value == [hour_key(now)]
    finally:
        client.delete(f"/tests/{unique_name}", recursive=True)
