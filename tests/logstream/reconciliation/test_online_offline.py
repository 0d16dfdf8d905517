"""Online against offline, for real: the security_stats topology on the stack's Storm and the
HadoopConsumer plus the Hive reports count the same produced lines; the reconciliation finds them
equal (explained by the records that reached the topology after its allowed lateness), writes its
rows and files, and names the keys once one side is changed."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest
from confluent_kafka import Consumer, Producer
from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook
from log_times import hour_start_ago
from online_stats import ResultReader, wait_for
from produced_and_landed import create_topic, drain, produce_records

from logstream.hadoop_consumer.consumer import HadoopConsumer
from logstream.hive.reporting import ReportParams, report_hours
from logstream.kafka_partitions import end_offsets
from logstream.log_hours.hours import hour_key
from logstream.reconciliation.online_offline import (
    DIFFERENT,
    EQUAL,
    EXPLAINED,
    HourCounts,
    online_final_through,
    reconcile_hour,
)
from logstream.results.store import PostgresResultStore
from logstream.storm.deployment import deploy
from operators.reconcile import ReconcileHoursOperator, ReconciliationMismatch
from sensors.reconcilable_hours import ReconcilableHoursSensor

HOUR_START = hour_start_ago(5)  # H and H+1 ended before the Kafka timestamps: plausible
PARTITIONS = 2
EMPTY_PARTITION = PARTITIONS  # the topic has one more partition, which no line reaches (more partitions than hosts)
ALLOWED_LATENESS = 300


def entry(rng: random.Random, start_time: int) -> bytes:
    return b"10.7.%d.%d,%d,%d,300" % (rng.randrange(3), rng.randrange(1, 30), 1019491 + 17 * rng.randrange(6), start_time)


def produced_lines() -> tuple[dict[int, list[bytes]], Counter, Counter, int]:
    """Each partition's lines: hour H in time order, then hour H+1 (its watermark passes H's end
    plus the allowed lateness), then more of H (expired online), and malformed lines. Returns the
    lines and, computed here, H's records per config and per host (offline's view) and the expired count."""
    rng = random.Random(11)
    lines: dict[int, list[bytes]] = {}
    per_config, per_host, expired = Counter(), Counter(), 0
    for partition in range(PARTITIONS):
        on_time = [entry(rng, t) for t in sorted(HOUR_START + rng.randrange(3600) for _ in range(600))]
        next_hour = [entry(rng, t) for t in sorted(HOUR_START + 3600 + rng.randrange(900, 1800) for _ in range(100))]
        late = [entry(rng, HOUR_START + rng.randrange(3600)) for _ in range(15)]
        lines[partition] = on_time + next_hour + late + [b"not,an,entry", b"", b"10.7.0.1,1019491,abc,300"]
        for line in on_time + late:
            host, config, _start, _interval = line.decode().split(",")
            per_config[int(config)] += 1
            per_host[host] += 1
        expired += len(late)
    return lines, per_config, per_host, expired


def test_reconcile_hour_tells_equal_explained_and_different():
    online = HourCounts(10, {1: 6, 2: 4}, {"a": 10})
    assert reconcile_hour("t", "2026-01-01T00", online, HourCounts(10, {1: 6, 2: 4}, {"a": 10}, version=1)).status == EQUAL
    expired = HourCounts(10, {1: 6, 2: 4}, {"a": 10}, expired=2)
    assert reconcile_hour("t", "2026-01-01T00", expired, HourCounts(12, {1: 7, 2: 5}, {"a": 12}, version=1)).status == EXPLAINED
    # the same total, but one key lower offline: not what expired records do
    different = reconcile_hour("t", "2026-01-01T00", expired, HourCounts(12, {1: 9, 2: 3}, {"a": 12}, version=1))
    assert different.status == DIFFERENT
    assert [(d.kind, d.key, d.online, d.offline) for d in different.differences] == [("config", "1", 6, 9), ("config", "2", 4, 3), ("host", "a", 10, 12)]


def test_a_partition_without_a_watermark_holds_hours_back_until_read_to_kafkas_end(stack, unique_name):
    """online_final_through against the stack's Kafka and result database: positions written as the
    topology writes them, Kafka's ends from records really produced."""
    topic, topology = unique_name, f"security_stats_{unique_name}"
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    create_topic(kafka, topic, 3)
    produce_records(kafka, topic, 5, partition=0)
    produce_records(kafka, topic, 7, partition=1)
    ends = {0: 5, 1: 7, 2: 0}
    watermarks = {0: HOUR_START + 4000, 1: HOUR_START + 3700}
    dsn = stack.service("postgres").dsn("logstream")
    store = PostgresResultStore.from_dsn(dsn)
    store.create_schema()
    store.close()

    def final_through(positions: dict[int, tuple[int, int | None]], kafka_ends: dict[int, int]) -> datetime | None:
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM online_offsets WHERE topology = %s", (topology,))
            for partition, (next_offset, watermark) in positions.items():
                cur.execute("INSERT INTO online_offsets (topology, topic, partition, next_offset, watermark) "
                            "VALUES (%s, %s, %s, %s, %s)", (topology, topic, partition, next_offset, watermark))

            def query(sql: str, parameters) -> list[tuple]:
                cur.execute(sql, parameters)
                return cur.fetchall()

            return online_final_through(query, topology, topic, kafka_ends)

    consumer = Consumer({**kafka, "group.id": unique_name})
    try:
        assert end_offsets(consumer, topic) == ends
    finally:
        consumer.close()
    smallest = datetime.fromtimestamp(min(watermarks.values()), timezone.utc)
    counted = {p: (ends[p], watermarks[p]) for p in watermarks}
    try:
        # partition 2 has no record: its position at Kafka's end (0) without a watermark holds nothing back
        assert final_through({**counted, 2: (0, None)}, ends) == smallest
        # nor does a topology that has not written partition 2's position yet, while it has no record
        assert final_through(counted, ends) == smallest
        # records reach partition 2: until the topology has read them, no hour is final
        produce_records(kafka, topic, 3, partition=2)
        ends[2] = 3
        assert final_through({**counted, 2: (0, None)}, ends) is None
        assert final_through(counted, ends) is None
        # read to its end, and every one of them bad (no watermark): it holds nothing back again
        assert final_through({**counted, 2: (3, None)}, ends) == smallest
        # a watermark behind the others' is the smallest, read to the end or not
        assert final_through({**counted, 2: (1, HOUR_START + 10)}, ends) == datetime.fromtimestamp(HOUR_START + 10, timezone.utc)
        # a partition with records whose position has no watermark, the others none either: nothing final
        assert final_through({0: (2, None), 1: (7, None), 2: (3, None)}, ends) is None
    finally:
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM online_offsets WHERE topology = %s", (topology,))


@pytest.fixture
def counted_both_ways(stack, hdfs_client, unique_name, zookeeper_hosts):
    """The lines counted by a real topology and landed plus reported by the real offline path."""
    topic = unique_name
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    create_topic(kafka, topic, PARTITIONS + 1)
    lines, per_config, per_host, expired = produced_lines()
    producer = Producer({**kafka, "linger.ms": 20})
    for partition, partition_lines in lines.items():
        for line in partition_lines:
            producer.produce(topic, line, partition=partition)
    assert producer.flush(30) == 0

    dsn = stack.service("postgres").dsn("logstream")
    nimbus = stack.service("storm").nimbus()
    name = f"security_stats_{topic}"
    deploy(nimbus=nimbus, name=name, topic=topic, kafka_bootstrap=stack.config.kafka_bootstrap, results_dsn=dsn,
           jar_dir=stack.config.data_dir / "storm" / "jars", overrides={"flush_records": 1000})
    root, database = f"/tests/{unique_name}/logs", unique_name
    hive = HiveServer2Hook()
    try:
        ResultReader(dsn, name, topic).wait_for_offsets(
            Counter({**{p: len(lines[p]) for p in lines}, EMPTY_PARTITION: 0}), timeout=600)
        drain(HadoopConsumer(kafka, hdfs_client, root, zookeeper_hosts=zookeeper_hosts), topic, PARTITIONS + 1)
        key = hour_key(datetime.fromtimestamp(HOUR_START, timezone.utc))
        report_hours(lambda sql: hive.run(sql, split_statements=True), hive.get_records, hdfs_client, topic=topic,
                     keys=[key], params=ReportParams(database=database, hdfs_root=root), run_id="test")
        yield topic, key, database, dsn, per_config, per_host, expired
    finally:
        nimbus.kill(name, wait_secs=0)
        wait_for(lambda: nimbus.topology_id(name) is None, 120, f"topology {name} gone")
        hive.run(f"DROP DATABASE IF EXISTS {database} CASCADE")
        hdfs_client.delete(f"/tests/{unique_name}", recursive=True)


def test_both_paths_reconcile_and_a_changed_key_is_named(counted_both_ways, tmp_path):
    topic, key, database, dsn, per_config, per_host, expired = counted_both_ways

    # the reconcile DAG's wait ends: reported offline, and final online though one partition has no
    # watermark (the topology read it to its end: nothing there)
    sensor = ReconcilableHoursSensor(task_id="wait_until_reconcilable", topic=topic, topology=f"security_stats_{topic}",
                                     database=database, allowed_lateness=timedelta(seconds=ALLOWED_LATENESS))
    hour_start = datetime.fromtimestamp(HOUR_START, timezone.utc)
    assert sensor.poke({"data_interval_start": hour_start, "data_interval_end": hour_start + timedelta(hours=1)})

    def reconcile() -> list[str]:
        operator = ReconcileHoursOperator(task_id="reconcile", topic=topic, database=database,
                                          reports_dir=str(tmp_path), hours=[key])
        return operator.execute({})

    [summary] = reconcile()
    total = sum(per_config.values())
    assert summary == (f"{topic} {key}: explained; online {total - expired} records (+{expired} expired), "
                       f"offline {total} (version 1)")
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT status, online_records, online_expired, offline_records, offline_version, differing_keys "
                    "FROM reconciliation_hours WHERE topic = %s", (topic,))
        [row] = cur.fetchall()
        # every key in which an expired record fell differs, by exactly its expired records
        assert row[:5] == ("explained", total - expired, expired, total, 1)
    csv_rows = (tmp_path / topic / key[:10] / key[11:] / "reconciliation.csv").read_text().splitlines()
    offline_configs = {int(line.split(",")[1]): int(line.split(",")[3]) for line in csv_rows if line.startswith("config,")}
    offline_hosts = {line.split(",")[1]: int(line.split(",")[3]) for line in csv_rows if line.startswith("host,")}
    assert offline_configs == dict(per_config) and offline_hosts == dict(per_host)
    assert (tmp_path / topic / key[:10] / key[11:] / "reconciliation.png").stat().st_size > 1000

    # one host's online count goes: the reconciliation fails naming it, and records it
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT host FROM online_pane_host_counts WHERE topic = %s ORDER BY host LIMIT 1", (topic,))
        [(host,)] = cur.fetchall()
        cur.execute("DELETE FROM online_pane_host_counts WHERE topic = %s AND host = %s", (topic, host))
    with pytest.raises(ReconciliationMismatch, match=rf"host {host.replace('.', '[.]')}: online 0 offline {per_host[host]}"):
        reconcile()
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM reconciliation_hours WHERE topic = %s", (topic,))
        assert cur.fetchall() == [(DIFFERENT,)]
        cur.execute("SELECT kind, key, online_records, offline_records FROM reconciliation_keys "
                    "WHERE topic = %s AND key = %s", (topic, host))
        assert cur.fetchall() == [("host", host, 0, per_host[host])]


def test_an_hour_past_the_result_stores_retention_is_skipped_and_said_so(stack, tmp_path, unique_name):
    """Its online counts are gone by design (results_retention.panes_days): no comparison, no mismatch."""
    from airflow.sdk.exceptions import AirflowSkipException

    from logstream.pipeline_config import load_pipeline_config

    days = load_pipeline_config().results_retention.panes_days
    old = hour_key(datetime.now(timezone.utc) - timedelta(days=days, hours=2))
    operator = ReconcileHoursOperator(task_id="reconcile", topic=unique_name, database=unique_name,
                                      reports_dir=str(tmp_path), hours=[old])
    with pytest.raises(AirflowSkipException, match=rf"{unique_name}: every hour of the run \({old}\) is older than "
                                                    rf"the result store's retention of online counts \({days:g} days\)"):
        operator.execute({})
