"""Produce generated records into real Kafka and read back everything the HadoopConsumer landed."""

from __future__ import annotations

import base64
from collections import Counter

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from logstream.hadoop_consumer.consumer import BatchLimits, HadoopConsumer
from logstream.log_generator import LogGenerator
from log_times import HOUR, previous_utc_midnight

# the default entries run from two hours before a recent UTC midnight to an hour after it: every
# hour of them is in the past, within the consumer's StartTime bounds whatever the date
DAY_BOUNDARY = previous_utc_midnight()


def create_topic(kafka_config: dict, topic: str, partitions: int) -> None:
    admin = AdminClient(kafka_config)  # keep a reference: the futures fail if the client is collected
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result()


def produce(kafka_config: dict, topic: str, count: int, *, partitions: int, seed: int = 1, bad_ratio: float = 0.05,
            start: int = DAY_BOUNDARY - 2 * HOUR, end: int = DAY_BOUNDARY + HOUR) -> Counter:
    """Produce ``count`` generated records round-robin over partitions; the multiset of values sent."""
    producer = Producer({**kafka_config, "linger.ms": 20, "enable.idempotence": True})
    sent = Counter()
    generator = LogGenerator(seed=seed, bad_ratio=bad_ratio)
    for i, record in enumerate(generator.records(count, start=start, end=end)):
        while True:
            try:
                producer.produce(topic, record.value, partition=i % partitions)
                break
            except BufferError:  # the local queue is full: let deliveries make room
                producer.poll(0.1)
        sent[record.value] += 1
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    return sent


def landed(client, root: str, topic: str) -> Counter:
    """Every record in HDFS for ``topic``: entry lines as they are, quarantined ones decoded."""
    found = Counter()
    for base, decode in ((f"{root}/{topic}", False), (f"{root}/_quarantine/{topic}", True)):
        if client.status(base, strict=False) is None:
            continue
        for folder, _, files in client.walk(base):
            for name in files:
                with client.read(f"{folder}/{name}") as reader:
                    for line in reader.read().split(b"\n")[:-1]:
                        found[base64.b64decode(line.split(b"\t")[4]) if decode else line] += 1
    return found


def quarantine_reasons(client, root: str, topic: str) -> dict[tuple[int, int], str]:
    """(partition, offset) -> reason of every quarantined record of ``topic``, read from the files as Hive would."""
    reasons = {}
    base = f"{root}/_quarantine/{topic}"
    for folder, _, files in client.walk(base) if client.status(base, strict=False) else ():
        for name in files:
            with client.read(f"{folder}/{name}") as reader:
                for row in reader.read().split(b"\n")[:-1]:
                    partition, offset, _stamp, reason, _raw = row.split(b"\t")
                    reasons[(int(partition), int(offset))] = reason.decode()
    return reasons


def drain(consumer: HadoopConsumer, topic: str, partitions: int, limits: BatchLimits = BatchLimits()) -> int:
    """Run batches on every partition until none has lag; the number of batches that landed records."""
    consumer.initialize(topic)
    batches = 0
    for _ in range(1000):
        results = [consumer.run_batch(topic, p, limits) for p in range(partitions)]
        batches += sum(1 for r in results if r.records)
        if all(r.lag == 0 for r in results):
            return batches
    raise AssertionError("the consumer never caught up")
