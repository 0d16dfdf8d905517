"""HadoopConsumer throughput against Kafka's own consumer, on the same topic, in the same run.

    PYTHONPATH=plugins .venv/bin/python bench/hadoop_consumer_bench.py [--records 1000000] [--rounds 3]
                                                                       [--split-from 200000] [--line-ids] [--cluster]

Produces N generated log entries (realistic ~40-byte lines) into a fresh one-partition topic, runs
Kafka's ``kafka-consumer-perf-test`` (org.apache.kafka.tools.ConsumerPerformance) on it as the
baseline, then the HadoopConsumer (Kafka -> parse -> HDFS, exactly-once commit) on it, checks that
every record landed, and prints both rates and their ratio; baseline and consumer alternate for a
few rounds and the median ratio is the result. Machines here are noisy: compare the ratio, not the
absolute rates. The batch is one of the DAG's default shape: at 1,000,000 records it is split with
a helper process (``--split-from`` above the record count measures one process alone).

``--line-ids`` also produces the same records with line ids (the Kafka key the Flume tiers give
each line; one host file) into a second topic, and each round lands that one too (after the plain
one in odd rounds, before it in even ones): its rate beside the plain one's, and their ratio, show
what reading the ids costs.

``--cluster`` runs it all on the multi-host cluster (``python -m logstream cluster up``, as root): the
topic at replication 3 on its 3 brokers, the leases in its ZooKeeper ensemble, HDFS with 3 DataNodes
(replication 3); the baseline reads the same topic from the same brokers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid

import hdfs
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from logstream.hadoop_consumer.consumer import BatchLimits, HadoopConsumer
from kafka_perf import consumer_perf_test
from logstream.line_ids import make_line_id
from logstream.log_generator import LogGenerator
from logstream.stack.config import StackConfig
from logstream.stack.local_stack import LocalStack

DAY = 86400


def produce(bootstrap: str, topic: str, count: int, *, line_ids: bool = False) -> int:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1_000_000,
                         "compression.type": "lz4", "queue.buffering.max.messages": 2_000_000})
    start = int(time.time()) - DAY
    total = 0
    for record in LogGenerator(seed=3, bad_ratio=0.001).records(count, start=start, end=start + DAY):
        # as the L1 of host web1 sends a line of its app.log (logstream/line_ids.py)
        key = make_line_id("web1", "1835021-9a0c31f2", total, total + len(record.value) + 1) if line_ids else None
        while True:
            try:
                producer.produce(topic, record.value, key)
                break
            except BufferError:
                producer.poll(0.05)
        total += len(record.value) + 1
    producer.flush(120)
    return total


def land_everything(kafka: dict, client, zookeeper_hosts: str, root: str, topic: str, records: int,
                    split_from: int = BatchLimits.split_from) -> tuple[int, float, float]:
    """Run the HadoopConsumer on partition 0 from the beginning until it has landed ``records``."""
    consumer = HadoopConsumer(kafka, client, root, zookeeper_hosts=zookeeper_hosts,
                              progress=lambda line: print("  " + line))
    consumer.initialize(topic)
    began = time.monotonic()
    landed = landed_bytes = 0
    limits = BatchLimits(max_records=records, max_bytes=2**40, split_from=split_from)
    while landed < records:
        result = consumer.run_batch(topic, 0, limits)
        landed += result.records
        landed_bytes += result.bytes
        if not result.records:
            break
    return landed, time.monotonic() - began, landed_bytes / 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="baseline and consumer runs, alternating")
    parser.add_argument("--split-from", type=int, default=BatchLimits.split_from,
                        help="batches of at least this many records use a helper process (the DAG's default)")
    parser.add_argument("--line-ids", action="store_true",
                        help="also land the same records with line ids (a second topic) in each round")
    parser.add_argument("--cluster", action="store_true", help="on the multi-host cluster (3 brokers, replication 3)")
    args = parser.parse_args()

    config = StackConfig()
    if args.cluster:
        from logstream.cluster.cluster import Cluster

        cluster = Cluster()
        cluster.up()
        bootstrap, zookeeper, webhdfs, replication = (cluster.kafka_bootstrap, cluster.zookeeper_hosts,
                                                      cluster.webhdfs_url, 3)
    else:
        LocalStack(config, only=["zookeeper", "kafka", "hdfs"]).up()
        bootstrap, zookeeper, webhdfs, replication = (config.kafka_bootstrap, f"{config.host}:{config.ports['zookeeper']}",
                                                      f"http://{config.host}:{config.ports['hdfs_http']}", 1)
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    kafka = {"bootstrap.servers": bootstrap}
    admin = AdminClient(kafka)
    admin.create_topics([NewTopic(topic, 1, replication)])[topic].result()
    with_ids = f"{topic}_ids" if args.line_ids else None
    if with_ids:
        admin.create_topics([NewTopic(with_ids, 1, replication)])[with_ids].result()

    began = time.monotonic()
    produced_bytes = produce(bootstrap, topic, args.records)
    print(f"produced {args.records:,} records ({produced_bytes / 1e6:.1f} MB) in {time.monotonic() - began:.1f}s")
    if with_ids:
        produce(bootstrap, with_ids, args.records, line_ids=True)
        print(f"produced the same records with line ids into {with_ids}")
    id_ratios = []

    client = hdfs.InsecureClient(webhdfs, user="root")
    ratios = []
    for round_number in range(1, args.rounds + 1):
        baseline = consumer_perf_test(config, topic, args.records, timeout_ms=60_000, bootstrap=bootstrap)
        print(f"round {round_number}: kafka-consumer-perf-test {baseline['data.consumed.in.nMsg']:,.0f} records, "
              f"{baseline['nMsg.sec']:,.0f} rec/s, {baseline['MB.sec']:.1f} MB/s "
              f"(fetch only: {baseline['fetch.nMsg.sec']:,.0f} rec/s)")
        root = f"/bench/{topic}/round-{round_number}"
        # with ids: plain first in odd rounds, the topic with ids first in even ones (a machine that
        # drifts over a round favours neither)
        order = [topic, with_ids] if with_ids else [topic]
        if round_number % 2 == 0:
            order.reverse()
        rates = {}
        for name in order:
            landed, seconds, megabytes = land_everything(kafka, client, zookeeper, root if name == topic else f"{root}-ids",
                                                         name, args.records, args.split_from)
            if landed != args.records:
                print(f"ERROR: {args.records - landed} records{' with line ids' if name == with_ids else ''} did not land",
                      file=sys.stderr)
                return 1
            rates[name] = landed / seconds
            if name == topic:
                print(f"round {round_number}: HadoopConsumer {landed:,} records landed in HDFS in {seconds:.1f}s, "
                      f"{rates[name]:,.0f} rec/s, {megabytes / seconds:.1f} MB/s")
            else:
                print(f"round {round_number}: HadoopConsumer with line ids {rates[name]:,.0f} rec/s")
        ratios.append(rates[topic] / baseline["nMsg.sec"])
        print(f"round {round_number}: ratio {ratios[-1]:.2f} "
              f"(against the fetch-only rate: {rates[topic] / baseline['fetch.nMsg.sec']:.2f})")
        if with_ids:
            id_ratios.append(rates[with_ids] / rates[topic])
            print(f"round {round_number}: with line ids {id_ratios[-1]:.2f} of the plain records' rate")
    print(f"median ratio HadoopConsumer / kafka-consumer-perf-test over {len(ratios)} rounds: "
          f"{statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
    if id_ratios:
        print(f"median rate with line ids / without over {len(id_ratios)} rounds: {statistics.median(id_ratios):.2f} "
              f"(rounds: {', '.join(f'{r:.2f}' for r in id_ratios)})")
    client.delete(f"/bench/{topic}", recursive=True)
    for name in filter(None, (topic, with_ids)):
        admin.delete_topics([name])[name].result()
    return 0


if __name__ == "__main__":
    sys.exit(main())
