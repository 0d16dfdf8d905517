"""Produce generated records into real Kafka and read back everything the HadoopConsumer landed."""

from __future__ import annotations

import base64
import bisect
import random
import time
from collections import Counter

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from logstream.hadoop_consumer.consumer import BatchLimits, HadoopConsumer
from logstream.log_generator import LogGenerator
from log_times import HOUR, hour_folder, previous_utc_midnight

# the default entries run from two hours before a recent UTC midnight to an hour after it: every
# hour of them is in the past, within the consumer's StartTime bounds whatever the date
DAY_BOUNDARY = previous_utc_midnight()


def create_topic(kafka_config: dict, topic: str, partitions: int) -> None:
    admin = AdminClient(kafka_config)  # keep a reference: the futures fail if the client is collected
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result()


def produce_records(kafka_config: dict, topic: str, count: int, *, partition: int = 0) -> None:
    """``count`` records of no particular shape into one partition (where only offsets matter)."""
    producer = Producer(kafka_config)
    for i in range(count):
        producer.produce(topic, value=f"record {i}".encode(), partition=partition)
    assert producer.flush(30) == 0


def produce(kafka_config: dict, topic: str, count: int, *, partitions: int, seed: int = 1, bad_ratio: float = 0.05,
            start: int = DAY_BOUNDARY - 2 * HOUR, end: int = DAY_BOUNDARY + HOUR, resent_ratio: float | None = None,
            first_lines_again: int = 0, line_ids: dict[str, list[tuple[int, int, bool, bytes]]] | None = None) -> Counter:
    """Produce ``count`` generated records round-robin over partitions; the multiset of values that
    must land.

    With ``resent_ratio``, the records are the lines of one host file per partition and carry line
    ids as the Flume tiers send them (the key "ls1 <host> <file id> <start> <end>", written here by
    hand; the file's bytes tiled by its lines), and that share of 50-line batches is sent again 1-5 batches later, as a failover re-sends:
    older lines after newer ones; and each partition's first ``first_lines_again`` lines are sent again
    at the end. A copy must not land: the multiset holds each line once. ``line_ids`` then gets each
    host file's lines as (start, end, valid, value).
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
            if line_ids is not None:
                line_ids.setdefault(f"host{partition} {4242 + partition}-9a0c31f2", []).append(
                    (begin, file_end[partition], record.valid, record.value))
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


def kafka_values(kafka_config: dict, topic: str, ends: list[int]) -> Counter:
    """The multiset of values each partition holds below its end offset in ``ends``, read from Kafka."""
    reader = Consumer({**kafka_config, "group.id": f"values_{topic}", "enable.auto.commit": False})
    found = Counter()
    try:
        reader.assign([TopicPartition(topic, p, 0) for p, end in enumerate(ends) if end > 0])
        left = {p: end for p, end in enumerate(ends) if end > 0}
        deadline = time.monotonic() + 120
        while left:
            assert time.monotonic() < deadline, f"{topic}: still to read below {left}"
            message = reader.poll(1.0)
            if message is None or message.error() or message.partition() not in left:
                continue
            if message.offset() < left[message.partition()]:
                found[message.value()] += 1
            if message.offset() + 1 >= left[message.partition()]:
                del left[message.partition()]
    finally:
        reader.close()
    return found


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


def landed_line_ids(client, root: str, topic: str, *, folders: dict | None = None) -> dict[str, list[tuple[int, int, int]]]:
    """Every row of the side indexes of ``topic``'s landed entries (``_line_ids``), read as Hive would:
    "<host> <file id>" -> sorted (start, end, lines). ``folders`` gets each row's hour folder
    (``dt=…/hour=…``) by (file, start, end)."""
    rows: dict[str, list[tuple[int, int, int]]] = {}
    base = f"{root}/_line_ids/{topic}"
    for folder, _, files in client.walk(base) if client.status(base, strict=False) else ():
        for name in files:
            with client.read(f"{folder}/{name}") as reader:
                for row in reader.read().decode().split("\n")[:-1]:
                    host, file_id, start, end, lines = row.split("\t")
                    rows.setdefault(f"{host} {file_id}", []).append((int(start), int(end), int(lines)))
                    if folders is not None:
                        folders[(f"{host} {file_id}", int(start), int(end))] = "/".join(folder.rsplit("/", 2)[1:])
    return {file: sorted(found) for file, found in rows.items()}


def once_each(rows: dict[str, list[tuple[int, int, int]]]) -> tuple[dict[str, list[tuple[int, int, int]]], int]:
    """The rows merged where they touch, per host file, and the bytes held more than once (rows
    that overlap)."""
    merged: dict[str, list[list[int]]] = {}
    again = 0
    for file, found in rows.items():
        runs = merged[file] = []
        for start, end, lines in sorted(found):
            if runs and start < runs[-1][1]:
                again += min(end, runs[-1][1]) - start
            if runs and start <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], end)
                runs[-1][2] += lines
            else:
                runs.append([start, end, lines])
    return {file: [tuple(run) for run in runs] for file, runs in merged.items()}, again


def valid_line_runs(line_ids: dict[str, list[tuple[int, int, bool, bytes]]]) -> dict[str, list[tuple[int, int, int]]]:
    """What the side indexes must hold for lines the test wrote: per host file, the runs of adjacent
    valid lines with their number of lines."""
    return once_each({file: [(start, end, 1) for start, end, valid, _ in lines if valid]
                      for file, lines in line_ids.items()})[0]


def misfiled_line_ids(line_ids: dict[str, list[tuple[int, int, bool, bytes]]], folders: dict) -> list:
    """The side index rows (of :func:`landed_line_ids`'s ``folders``) that hold a line whose StartTime
    (read here from the line the test wrote) is not in the row's hour folder."""
    hour_of = {(file, start): hour_folder(int(value.split(b",")[2]))
               for file, lines in line_ids.items() for start, _end, valid, value in lines if valid}
    starts = {file: sorted(start for start, _end, valid, _ in lines if valid) for file, lines in line_ids.items()}
    wrong = []
    for (file, start, end), folder in folders.items():
        low, high = bisect.bisect_left(starts[file], start), bisect.bisect_left(starts[file], end)
        if {hour_of[(file, line)] for line in starts[file][low:high]} != {folder}:
            wrong.append((file, start, end, folder))
    return wrong


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
