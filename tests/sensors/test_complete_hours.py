from __future__ import annotations

import json
import mailbox
import os
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from mail_messages import body_of, new_messages
from model_variables import ModelVariables
from ports import unused_port

from hooks.webhdfs import BoundedWebHDFSHook
from logstream.hadoop_consumer.offset_store import OffsetStore, PartitionOffset
from logstream.incidents import incident_variable
from logstream.log_hours.hours import hour_key
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


@pytest.fixture
def two_partitions(stack, unique_name):
    """A topic of two partitions in Kafka and its offset store in HDFS, both removed afterwards. Its
    records keep their producer's timestamps (CreateTime; the pipeline's topics use the broker's
    clock), so that the tests can place records before and after an hour's end."""
    client = BoundedWebHDFSHook().get_conn()
    admin = AdminClient({"bootstrap.servers": stack.config.kafka_bootstrap})
    admin.create_topics([NewTopic(unique_name, 2, 1)])[unique_name].result()
    yield OffsetStore(client, f"/tests/{unique_name}/logs")
    client.delete(f"/tests/{unique_name}", recursive=True)
    admin.delete_topics([unique_name])


def produce_at(bootstrap: str, topic: str, partition: int, timestamps_ms: list[int]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for number, timestamp_ms in enumerate(timestamps_ms):
        producer.produce(topic, value=f"10.0.0.{number},1,{timestamp_ms // 1000},300".encode(), partition=partition,
                         timestamp=timestamp_ms)
    assert producer.flush(30) == 0


def hours_ago(hours: int) -> tuple[datetime, int]:
    """The hour that started ``hours`` hours before the current one, and its end in epoch milliseconds."""
    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)
    return hour, int((hour + timedelta(hours=1)).timestamp() * 1000)


def test_pokes_until_every_partition_passed_the_hour(stack, unique_name, two_partitions):
    # an hour that ended an hour or more ago (its collection delay long over); each partition holds a
    # record of it not landed yet, so Kafka's offsets cannot complete it: only the watermarks can
    store = two_partitions
    hour, end_ms = hours_ago(2)
    for partition in (0, 1):
        produce_at(stack.config.kafka_bootstrap, unique_name, partition, [end_ms - 60_000])
    sensor = CompleteHoursSensor(task_id="wait", topic=unique_name, hdfs_root=store.root, partitions=2,
                                 lateness=timedelta(hours=5), incident_records=ModelVariables())
    context = {"data_interval_start": hour, "data_interval_end": hour + timedelta(hours=1),
               "ti": SimpleNamespace(dag_id="hive_reports", run_id="scheduled__probe")}
    store.write(PartitionOffset(unique_name, 0, "b:9092", 0, end_ms // 1000 + 5))
    store.write(PartitionOffset(unique_name, 1, "b:9092", 0, end_ms // 1000 - 5))
    assert not sensor.poke(context).is_done

    store.write(PartitionOffset(unique_name, 1, "b:9092", 0, end_ms // 1000))
    done = sensor.poke(context)
    assert done.is_done and done.xcom_value == {hour_key(hour): "watermarks"}


def test_a_quiet_partition_completes_the_hour_by_its_offsets(stack, unique_name, two_partitions):
    # Partition 0 landed an entry of a later hour; partition 1 is quiet: its watermark stays in the
    # hour, but it has landed every record Kafka received before the hour ended.
    store = two_partitions
    hour, end_ms = hours_ago(2)  # ended an hour or more ago: its collection delay is over
    produce_at(stack.config.kafka_bootstrap, unique_name, 1, [end_ms - 600_000, end_ms - 300_000, end_ms - 1, end_ms + 1])
    sensor = CompleteHoursSensor(task_id="wait", topic=unique_name, hdfs_root=store.root, partitions=2,
                                 lateness=timedelta(hours=5), incident_records=ModelVariables())
    context = {"data_interval_start": hour, "data_interval_end": hour + timedelta(hours=1),
               "ti": SimpleNamespace(dag_id="hive_reports", run_id="scheduled__probe")}
    store.write(PartitionOffset(unique_name, 0, "b:9092", 0, end_ms // 1000 + 5))
    store.write(PartitionOffset(unique_name, 1, "b:9092", 2, end_ms // 1000 - 300))
    assert not sensor.poke(context).is_done  # the record stamped a millisecond before the end is not landed

    store.write(PartitionOffset(unique_name, 1, "b:9092", 3, end_ms // 1000 - 1))
    done = sensor.poke(context)
    assert done.is_done and done.xcom_value == {hour_key(hour): "offsets"}


def test_hours_reported_incomplete_open_one_incident_and_a_later_complete_hour_closes_it(
        stack, unique_name, two_partitions, monkeypatch):
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "oncall@example.org")
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    records, incident = ModelVariables(), incident_variable(f"hive_reports.{unique_name}.incomplete_hours")
    store = two_partitions
    first, first_end_ms = hours_ago(3)
    second, second_end_ms = hours_ago(2)  # both ended over an hour ago: past the lateness bound
    produce_at(stack.config.kafka_bootstrap, unique_name, 1, [first_end_ms - 60_000, second_end_ms - 60_000])
    sensor = CompleteHoursSensor(task_id="wait", topic=unique_name, hdfs_root=store.root, partitions=2,
                                 lateness=timedelta(minutes=30), incident_records=records)

    def run(hour: datetime, run_id: str) -> tuple[dict, list]:
        before = set(maildir.keys())
        context = {"data_interval_start": hour, "data_interval_end": hour + timedelta(hours=1),
                   "ti": SimpleNamespace(dag_id="hive_reports", run_id=run_id)}
        done = sensor.poke(context)
        assert done.is_done
        # the mail is sent before the poke returns (the SMTP server keeps it before it answers)
        return done.xcom_value, new_messages(maildir, before, timeout=0, where=lambda m: unique_name in m["Subject"])

    try:
        # the consumer went down before landing partition 1's records of both hours
        store.write(PartitionOffset(unique_name, 0, "b:9092", 0, second_end_ms // 1000 + 5))
        store.write(PartitionOffset(unique_name, 1, "b:9092", 0, first_end_ms // 1000 - 3000))
        # the mail server is unreachable: the hour is reported all the same, the incident not opened
        with monkeypatch.context() as unreachable:
            smtp = json.loads(os.environ["AIRFLOW_CONN_SMTP_DEFAULT"])
            unreachable.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({**smtp, "port": unused_port()}))
            assert run(first, "scheduled__first") == ({hour_key(first): "lateness_elapsed"}, [])
        assert records.get(incident) is None
        # its next run opens it
        how, mails = run(first, "scheduled__first")
        assert how == {hour_key(first): "lateness_elapsed"}
        assert [m["Subject"] for m in mails] == [
            f"[logstream] incident: {unique_name}: hours {hour_key(first)}..{hour_key(first)} reported incomplete "
            f"(hive_reports, scheduled__first)"]
        assert "1: offset 0, watermark" in body_of(mails[0])
        assert json.loads(records.get(incident))["last_hour"] == hour_key(first)

        # the next hour is incomplete too: the incident is open, no second mail
        assert run(second, "scheduled__second") == ({hour_key(second): "lateness_elapsed"}, [])
        # a backfill of an hour before the incident, complete by the watermarks, does not close it
        earlier = first - timedelta(hours=1)
        assert run(earlier, "backfill__earlier") == ({hour_key(earlier): "watermarks"}, [])
        assert records.get(incident) is not None

        # the consumer lands the rest: the second hour, run again, is complete and closes it once
        store.write(PartitionOffset(unique_name, 1, "b:9092", 2, second_end_ms // 1000 + 5))
        how, mails = run(second, "manual__again")
        assert how == {hour_key(second): "watermarks"}
        assert [m["Subject"] for m in mails] == [
            f"[logstream] recovered: {unique_name}: hours complete again from {hour_key(second)} "
            f"(hive_reports, manual__again)"]
        assert f"for hours {hour_key(first)}..{hour_key(first)} (run scheduled__first)" in body_of(mails[0])
        assert records.get(incident) is None
        assert run(second, "manual__once_more") == ({hour_key(second): "watermarks"}, [])
    finally:
        records.delete(incident)
