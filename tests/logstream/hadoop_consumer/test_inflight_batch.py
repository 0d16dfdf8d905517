"""Recovery of earlier attempts' inflight folders, in real HDFS under a real lease."""

from __future__ import annotations

import json

from kazoo.client import KazooClient

from logstream.hadoop_consumer.inflight_batch import InflightBatch, Manifest
from logstream.hadoop_consumer.offset_store import OffsetStore, PartitionOffset
from logstream.hadoop_consumer.partition_lease import PartitionLease
from logstream.hdfs_layout import inflight_dir


def test_recovery_finishes_sealed_attempts_and_drops_the_rest(zookeeper_hosts, hdfs_client, root, unique_name):
    store = OffsetStore(hdfs_client, root)
    store.write(PartitionOffset(unique_name, 0, "b", 10))
    folder = inflight_dir(root, unique_name, 0)
    final = f"{root}/{unique_name}/dt=2026-11-28/hour=22/{unique_name}+0+10+19.log"
    # attempt 3 sealed its batch and died before publishing; attempt 4 died while staging
    hdfs_client.write(f"{folder}/{3:020d}/2026-11-28-22.log", data=b"a\nb\n")
    manifest = Manifest(unique_name, 0, 10, 19, 20, 1795906800, "b", {"2026-11-28-22.log": final})
    hdfs_client.write(f"{folder}/{3:020d}/MANIFEST", data=json.dumps(manifest.__dict__).encode())
    hdfs_client.write(f"{folder}/{4:020d}/2026-11-28-23.log", data=b"c\n")

    zookeeper = KazooClient(hosts=zookeeper_hosts, timeout=10)
    zookeeper.start(timeout=30)
    try:
        with PartitionLease(zookeeper=zookeeper, hdfs_client=hdfs_client, root=root, topic=unique_name, partition=0,
                            wait=30) as lease:
            outcome = InflightBatch(hdfs_client, store, lease).recover(store.read(unique_name, 0))
    finally:
        zookeeper.stop()
        zookeeper.close()

    assert outcome == "finished batch 10-19; discarded the partly written batch of attempt 4"
    with hdfs_client.read(final) as reader:
        assert reader.read() == b"a\nb\n"
    assert (store.read(unique_name, 0).offset, store.read(unique_name, 0).watermark) == (20, 1795906800)
    assert hdfs_client.status(folder, strict=False) is None
