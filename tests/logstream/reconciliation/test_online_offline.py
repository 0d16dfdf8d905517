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
from confluent_kafka import Producer
from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook
from log_times import hour_start_ago
from online_stats import ResultReader, wait_for
from produced_and_landed import create_topic, drain

from logstream.hadoop_consumer.consumer import HadoopConsumer
from logstream.hive.reporting import ReportParams, report_hours
from logstream.log_hours.hours import hour_key
from logstream.reconciliation.online_offline import (
    DIFFERENT,
    EQUAL,
    EXPLAINED,
    HourCounts,
    reconcile_hour,
)
from logstream.storm.deployment import deploy
from operators.reconcile import ReconcileHoursOperator, ReconciliationMismatch

HOUR_START = hour_start_ago(5)  # H and H+1 ended before the Kafka timestamps: plausible
PARTITIONS = 2
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


@pytest.fixture
def counted_both_ways(stack, hdfs_client, unique_name, zookeeper_hosts):
    """The lines counted by a real topology and landed plus reported by the real offline path."""
    topic = unique_name
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    create_topic(kafka, topic, PARTITIONS)
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
        ResultReader(dsn, name, topic).wait_for_offsets(Counter({p: len(lines[p]) for p in lines}), timeout=600)
        drain(HadoopConsumer(kafka, hdfs_client, root, zookeeper_hosts=zookeeper_hosts), topic, PARTITIONS)
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
