"""Produce generated records into real Kafka and read back everything the HadoopConsumer landed."""

from __future__ import annotations

import base64
import random
from collections import Counter

from confluent_kafka import Consumer, Producer, TopicPartition
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
            start: int = DAY_BOUNDARY - 2 * HOUR, end: int = DAY_BOUNDARY + HOUR, resent_ratio: float | None = None,
            first_lines_again: int = 0) -> Counter:
    """Produce ``count`` generated records round-robin over partitions; the multiset of values that
    must land.

    With ``resent_ratio``, the records are the lines of one host file per partition and carry line
    ids as the Flume tiers send them (the key "ls1 <host> <file id> <start> <end>", written here by
    hand; the file's bytes tiled by its lines), and that share of 50-line batches is sent again 1-5 batches later, as a failover re-sends:
    older lines after newer ones; and each partition's first ``first_lines_again`` lines are sent again
    at the end. A copy must not land: the multiset holds each line once.
    """
    producer = Producer({**kafka_config, "linger.ms": 20, "enable.idempotence": True})
    sent = Counter()
    generator = LogGenerator(seed=seed, bad_ratio=bad_ratio)
    chance = random.Random(seed)
    file_end = [0] * partitions  # bytes of each partition's host file so far
    batches: list[list] = [[] for _ in range(partitions)]  # each partition's 50-line batch being made
    resends: list[list] = [[] for _ in range(partitions)]  # (batches to wait, records) per partition
    copies = 0
    first_lines: list[list] = [[] for _ in range(partitions)]

    def send(partition: int, value: bytes, key: bytes | None) -> None:
        while True:
            try:
                producer.produce(topic, value, key, partition=partition)
                return
            except BufferError:  # the local queue is full: let deliveries make room
                producer.poll(0.1)

    def send_batch(partition: int, batch: list) -> None:
        nonlocal copies
        for value, headers in batch:
            send(partition, value, headers)
        for resend in list(resends[partition]):
            resend[0] -= 1
            if resend[0] <= 0:
                resends[partition].remove(resend)
                for value, headers in resend[1]:
                    send(partition, value, headers)
                copies += len(resend[1])
        if chance.random() < resent_ratio:
            resends[partition].append([chance.randint(1, 5), batch])

    for i, record in enumerate(generator.records(count, start=start, end=end)):
        partition = i % partitions
        sent[record.value] += 1
        if resent_ratio is None:
            send(partition, record.value, None)
        else:
            begin = file_end[partition]
            file_end[partition] += len(record.value) + 1
            key = b"ls1 host%d %d-9a0c31f2 %d %d" % (partition, 4242 + partition, begin, file_end[partition])
            batches[partition].append((record.value, key))
            if i // partitions < first_lines_again:
                first_lines[partition].append((record.value, key))
            if len(batches[partition]) == 50:
                send_batch(partition, batches[partition])
                batches[partition] = []
        if i % 10_000 == 0:
            producer.poll(0)
    if resent_ratio is not None:
        for partition in range(partitions):
            send_batch(partition, batches[partition])
            for _wait, batch in resends[partition]:  # the re-sends still waiting go last
                for value, headers in batch:
                    send(partition, value, headers)
                copies += len(batch)
            for value, headers in first_lines[partition]:
                send(partition, value, headers)
            copies += len(first_lines[partition])
        assert resent_ratio == 0 or copies > 0
    assert producer.flush(30) == 0
    return sent


def end_offsets(kafka_config: dict, topic: str, partitions: int) -> list[int]:
    """Each partition's next offset in Kafka: where a consumer that took everything stands."""
    reader = Consumer({**kafka_config, "group.id": f"ends_{topic}"})
    try:
        return [reader.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1] for p in range(partitions)]
    finally:
        reader.close()


def landed(client, root: str, topic: str) -> Counter:
    """Every record in HDFS for ``topic``: entry lines as they are, quarantined ones decoded; not the
    copies of lines landed before (quarantined as "copy": :func:`quarantine_reasons` has them)."""
    found = Counter()
    for base, decode in ((f"{root}/{topic}", False), (f"{root}/_quarantine/{topic}", True)):
        if client.status(base, strict=False) is None:
            continue
        for folder, _, files in client.walk(base):
            for name in files:
                with client.read(f"{folder}/{name}") as reader:
                    for line in reader.read().split(b"\n")[:-1]:
                        if not decode:
                            found[line] += 1
                        elif line.split(b"\t")[3] != b"copy":
                            found[base64.b64decode(line.split(b"\t")[4])] += 1
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
