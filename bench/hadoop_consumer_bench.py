"""HadoopConsumer throughput against Kafka's own consumer, on the same topic, in the same run.

    PYTHONPATH=plugins .venv/bin/python bench/hadoop_consumer_bench.py [--records 1000000]

Produces N generated log entries (realistic ~40-byte lines) into a fresh one-partition topic, runs
Kafka's ``kafka-consumer-perf-test`` (org.apache.kafka.tools.ConsumerPerformance) on it as the
baseline, then the HadoopConsumer (Kafka -> parse -> HDFS, exactly-once commit) on it, checks that
every record landed, and prints both rates and their ratio. Machines here are noisy: compare the
ratio, not the absolute rates.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid

import hdfs
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from logstream.hadoop_consumer.consumer import BatchLimits, HadoopConsumer
from logstream.log_generator import LogGenerator
from logstream.stack.config import StackConfig
from logstream.stack.local_stack import LocalStack

DAY = 86400


def produce(bootstrap: str, topic: str, count: int) -> int:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1_000_000,
                         "compression.type": "lz4", "queue.buffering.max.messages": 2_000_000})
    start = int(time.time()) - DAY
    total = 0
    for record in LogGenerator(seed=3, bad_ratio=0.001).records(count, start=start, end=start + DAY):
        while True:
            try:
                producer.produce(topic, record.value)
                break
            except BufferError:
                producer.poll(0.05)
        total += len(record.value)
    producer.flush(120)
    return total


def kafka_perf_test(config: StackConfig, topic: str, count: int) -> dict[str, float]:
    argv = [config.java(), "-Xmx1g", "-cp", config.classpath("kafka"), "org.apache.kafka.tools.ConsumerPerformance",
            "--bootstrap-server", config.kafka_bootstrap, "--topic", topic, "--messages", str(count),
            "--group", f"perf-{uuid.uuid4().hex[:6]}", "--timeout", "60000"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    header = [name.strip() for name in lines[-2].split(",")]
    values = [value.strip() for value in lines[-1].split(",")]
    return {name: float(value) for name, value in zip(header, values) if name not in ("start.time", "end.time")}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()

    config = StackConfig()
    LocalStack(config, only=["kafka", "hdfs"]).up()
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    kafka = {"bootstrap.servers": config.kafka_bootstrap}
    admin = AdminClient(kafka)
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result()

    began = time.monotonic()
    produced_bytes = produce(config.kafka_bootstrap, topic, args.records)
    print(f"produced {args.records:,} records ({produced_bytes / 1e6:.1f} MB) in {time.monotonic() - began:.1f}s")

    baseline = kafka_perf_test(config, topic, args.records)
    print(f"kafka-consumer-perf-test: {baseline['data.consumed.in.nMsg']:,.0f} records, "
          f"{baseline['nMsg.sec']:,.0f} rec/s, {baseline['MB.sec']:.1f} MB/s "
          f"(fetch only: {baseline['fetch.nMsg.sec']:,.0f} rec/s)")

    client = hdfs.InsecureClient(f"http://{config.host}:{config.ports['hdfs_http']}", user="root")
    root = f"/bench/{topic}"
    consumer = HadoopConsumer(kafka, client, root, progress=lambda line: print("  " + line))
    consumer.initialize(topic)
    began = time.monotonic()
    landed = landed_bytes = 0
    limits = BatchLimits(max_records=args.records, max_bytes=2**40)
    while landed < args.records:
        result = consumer.run_batch(topic, 0, limits)
        landed += result.records
        landed_bytes += result.bytes
        if not result.records:
            break
    seconds = time.monotonic() - began
    rate = landed / seconds
    print(f"HadoopConsumer: {landed:,} records landed in HDFS in {seconds:.1f}s, {rate:,.0f} rec/s, "
          f"{landed_bytes / 1e6 / seconds:.1f} MB/s")
    if landed != args.records:
        print(f"ERROR: {args.records - landed} records did not land", file=sys.stderr)
        return 1
    print(f"ratio HadoopConsumer / kafka-consumer-perf-test: {rate / baseline['nMsg.sec']:.2f} "
          f"(against fetch-only rate: {rate / baseline['fetch.nMsg.sec']:.2f})")
    client.delete(root, recursive=True)
    admin.delete_topics([topic])[topic].result()
    return 0


if __name__ == "__main__":
    sys.exit(main())
