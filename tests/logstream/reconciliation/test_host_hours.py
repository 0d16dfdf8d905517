"""Hop-by-hop accounting per host and hour on real components: lines through the test's own Flume
tiers into Kafka, landed by the HadoopConsumer; the same at every hop, then a lost HDFS file and a
re-sent record each show up where they happened, with the counts computed here from the lines."""

from __future__ import annotations

import random
from collections import Counter

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from flume_hosts import own_tiers
from log_times import hour_name, hour_start_ago
from produced_and_landed import drain

from logstream.flume.host_logs import feed_through_flume
from logstream.hadoop_consumer.consumer import HadoopConsumer
from logstream.reconciliation.host_hours import HOPS, account, count_lines, hdfs_lines, kafka_lines

HOUR_START = hour_start_ago(5)  # two hours that ended before the Kafka timestamps: plausible
HOURS = tuple(hour_name(HOUR_START + 3600 * i) for i in (0, 1))


def independent_counts(lines: list[bytes]) -> Counter:
    """(host, hour) of the well-formed lines, by splitting them here (not with the parser under test)."""
    counts: Counter = Counter()
    for line in lines:
        fields = line.split(b",")
        if len(fields) == 4 and fields[2].isdigit():
            counts[(fields[0].decode(), HOURS[(int(fields[2]) - HOUR_START) // 3600])] += 1
    return counts


def test_every_hop_counts_each_host_and_hour_and_a_change_is_placed(stack, hdfs_client, unique_name, zookeeper_hosts):
    rng = random.Random(4)
    lines = [b"10.9.0.%d,%d,%d,300" % (rng.randrange(1, 7), 1019491 + 17 * rng.randrange(4), HOUR_START + rng.randrange(7200))
             for _ in range(3000)]
    lines += [b"not an entry", b"10.9.0.1,1019491,later,300"] * 10
    rng.shuffle(lines)
    expected = independent_counts(lines)
    bootstrap = stack.config.kafka_bootstrap
    tiers = own_tiers(stack, unique_name, slot=4, batch_size=500)
    tiers.prepare_hosts()
    tiers.ensure_topics()
    try:
        tiers.deploy()
        tiers.wait_answering()
        assert feed_through_flume(tiers.pipeline, tiers.home, lines, admin=AdminClient({"bootstrap.servers": bootstrap}),
                                  timeout=600) == {unique_name: len(lines)}
        host_file_lines = [line for agent in tiers.agents if agent.tier == "l1"
                           for path in sorted(agent.log_dir.glob("*.log")) for line in path.read_bytes().split(b"\n")[:-1]]
    finally:
        tiers.stop()
    root = f"/tests/{unique_name}/logs"
    drain(HadoopConsumer({"bootstrap.servers": bootstrap}, hdfs_client, root, zookeeper_hosts=zookeeper_hosts), unique_name, 2)
    end_offsets = _end_offsets(bootstrap, unique_name)

    def counts() -> dict[str, Counter | None]:
        return {
            "host files": count_lines(host_file_lines, set(HOURS)),
            "Kafka": count_lines(kafka_lines(bootstrap, unique_name, {}, end_offsets()), set(HOURS)),
            "HDFS": count_lines(hdfs_lines(hdfs_client, root, unique_name, HOURS)),
            "Hive": None,
            "Storm": None,
        }

    rows = account(counts())
    assert {(row.host, row.hour): row.counts[:3] for row in rows} == {key: (n, n, n) for key, n in expected.items()}
    assert {row.verdict for row in rows} == {"same at every hop"}
    assert rows[0].line(HOPS).endswith("Hive - -> Storm -: same at every hop")

    # one landed file of the first hour is lost, one record is sent twice (as a Flume failover would)
    folder = f"{root}/{unique_name}/dt={HOURS[0][:10]}/hour={HOURS[0][11:]}"
    lost_name = sorted(hdfs_client.list(folder))[0]
    with hdfs_client.read(f"{folder}/{lost_name}") as reader:
        lost = independent_counts(reader.read().split(b"\n")[:-1])
    hdfs_client.delete(f"{folder}/{lost_name}")
    resent = next(line for line in lines if line.startswith(b"10.9.0.3,") and (int(line.split(b",")[2]) - HOUR_START) < 3600)
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(unique_name, resent, partition=0)
    assert producer.flush(30) == 0

    by_key = {(row.host, row.hour): row for row in account(counts())}
    resent_key = ("10.9.0.3", HOURS[0])
    for key, n in expected.items():
        duplicated = 1 if key == resent_key else 0
        row = by_key[key]
        assert row.counts[:3] == (n, n + duplicated, n - lost[key]), key
        notes = ([f"{duplicated} duplicated by Flume (at-least-once: a failover re-sent them)"] if duplicated else []) + (
            [f"{lost[key] + duplicated} dropped between Kafka and HDFS"] if lost[key] + duplicated else [])
        assert row.verdict == ("; ".join(notes) or "same at every hop"), key


def _end_offsets(bootstrap: str, topic: str):
    def read() -> dict[int, int]:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-end-offsets"})
        try:
            return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1] for p in (0, 1)}
        finally:
            consumer.close()

    return read
