"""The exactly-once proof from HDFS, on what the real HadoopConsumer landed from the stack's Kafka:
exact after a drain; a duplicated file, a lost batch and a lost quarantine file each named; exact
again once replay restored what was lost."""

from __future__ import annotations

import re

from produced_and_landed import create_topic, drain, produce

from logstream.hadoop_consumer.batch_result import BatchLimits
from logstream.hadoop_consumer.consumer import HadoopConsumer
from logstream.hadoop_consumer.replay import replay
from logstream.hdfs_layout import parse_batch_file_name
from logstream.reconciliation.landed_offsets import audit_topic, batch_files

PARTITIONS = 2
RECORDS = 3000


def test_landed_offsets_are_proven_exact_and_every_tampering_is_named(stack, hdfs_client, unique_name, zookeeper_hosts):
    kafka = {"bootstrap.servers": stack.config.kafka_bootstrap}
    root = f"/tests/{unique_name}/logs"
    create_topic(kafka, unique_name, PARTITIONS)
    sent = produce(kafka, unique_name, RECORDS, partitions=PARTITIONS, seed=7, bad_ratio=0.05)
    consumer = HadoopConsumer(kafka, hdfs_client, root, zookeeper_hosts=zookeeper_hosts)
    drain(consumer, unique_name, PARTITIONS, BatchLimits(max_records=400))
    said: list[str] = []

    def audit() -> list:
        return audit_topic(hdfs_client, root, unique_name, PARTITIONS, kafka_starts={0: 0, 1: 0}, progress=said.append)

    audits = audit()
    assert [a.problems for a in audits] == [[], []]
    # produced round-robin: each partition got half the records, at offsets 0..1499
    assert [(a.committed, a.records) for a in audits] == [(RECORDS // PARTITIONS, RECORDS // PARTITIONS)] * PARTITIONS
    assert sum(a.records for a in audits) == sum(sent.values())
    assert all(a.batches == -(-RECORDS // PARTITIONS // 400) for a in audits)  # 4 batches of at most 400
    assert any(line.endswith("exactly once") and line.startswith(f"{unique_name}[1]:") for line in said)

    files = batch_files(hdfs_client, root, unique_name)
    first_of_p0 = min((f for f in files if f.partition == 0 and f.path.endswith(".log")), key=lambda f: f.first)
    # 1. a data file copied into another hour's folder: its records twice
    copy = re.sub(r"hour=\d\d", "hour=99", first_of_p0.path)
    with hdfs_client.read(first_of_p0.path) as reader:
        copied = reader.read()
    hdfs_client.write(copy, copied, overwrite=True)
    # 2. every file of partition 1's second batch deleted: a gap
    second = sorted({(f.first, f.last) for f in files if f.partition == 1})[1]
    for f in files:
        if f.partition == 1 and (f.first, f.last) == second:
            hdfs_client.delete(f.path)

    audits = audit()
    lines = copied.count(b"\n")
    first, last = first_of_p0.first, first_of_p0.last
    assert audits[0].problems == [f"offsets {first}..{last}: {last - first + 1 + lines} records in "
                                  f"{sum(1 for f in files if (f.partition, f.first) == (0, first)) + 1} file(s) "
                                  f"for {last - first + 1} offsets ({lines} duplicated)"]
    assert audits[1].problems == [f"gap: offsets {second[0]}..{second[1]} are in no batch"]

    # replay restores the lost batch (into files named by the offsets it restored); the copy goes
    hdfs_client.delete(copy)
    restored = replay(consumer, unique_name, 1, 0, 2**62)
    assert restored.restored == second[1] - second[0] + 1
    audits = audit()
    assert [a.problems for a in audits] == [[], []]
    assert sum(a.records for a in audits) == RECORDS
    assert {parse_batch_file_name(name)[2:] for name in restored_names(restored.files)} <= {
        (a, b) for a in range(second[0], second[1] + 1) for b in range(a, second[1] + 1)}


def restored_names(paths: list[str]) -> list[str]:
    return [path.rsplit("/", 1)[1] for path in paths]
