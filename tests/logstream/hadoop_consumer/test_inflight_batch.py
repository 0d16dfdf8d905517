"""Recovery of earlier attempts' inflight folders, in real HDFS under a real lease."""

from __future__ import annotations

import json
from contextlib import contextmanager

from kazoo.client import KazooClient

import pytest

from logstream.hadoop_consumer.inflight_batch import InflightBatch, Manifest, committed_offset
from logstream.hadoop_consumer.offset_store import OffsetStore, PartitionOffset
from logstream.hadoop_consumer.partition_lease import LeaseLost, PartitionLease
from logstream.hdfs_layout import inflight_dir


def test_recovery_finishes_sealed_attempts_and_drops_the_rest(zookeeper_hosts, hdfs_client, root, unique_name):
    store = OffsetStore(hdfs_client, root)
    store.write(PartitionOffset(unique_name, 0, "b", 10))
    folder = inflight_dir(root, unique_name, 0)
    final = f"{root}/{unique_name}/dt=2026-11-28/hour=22/{unique_name}+0+10+19.log"
    # attempt 0 sealed its batch and died before publishing; attempt 1 died while staging
    for _ in range(2):  # their leases (tokens 0 and 1): the recovering one's is newer
        with lease_of(zookeeper_hosts, hdfs_client, root, unique_name):
            pass
    hdfs_client.write(f"{folder}/{0:020d}/2026-11-28-22.log", data=b"a\nb\n")
    manifest = Manifest(unique_name, 0, 10, 19, 20, 1795906800, "b", {"2026-11-28-22.log": final})
    hdfs_client.write(f"{folder}/{0:020d}/MANIFEST", data=json.dumps(manifest.__dict__).encode())
    hdfs_client.write(f"{folder}/{1:020d}/2026-11-28-23.log", data=b"c\n")

    zookeeper = KazooClient(hosts=zookeeper_hosts, timeout=10)
    zookeeper.start(timeout=30)
    try:
        with PartitionLease(zookeeper=zookeeper, hdfs_client=hdfs_client, root=root, topic=unique_name, partition=0,
                            wait=30) as lease:
            outcome = InflightBatch(hdfs_client, store, lease).recover(store.read(unique_name, 0))
    finally:
        zookeeper.stop()
        zookeeper.close()

    assert outcome == "finished batch 10-19; discarded the partly written batch of attempt 1"
    with hdfs_client.read(final) as reader:
        assert reader.read() == b"a\nb\n"
    assert (store.read(unique_name, 0).offset, store.read(unique_name, 0).watermark) == (20, 1795906800)
    assert hdfs_client.status(folder, strict=False) is None


def test_a_manifest_whose_files_are_gone_is_discarded(zookeeper_hosts, hdfs_client, root, unique_name):
    """A MANIFEST whose staged files were deleted before any was published (a paused holder's
    cleanup once did that to a newer holder): recovery drops it instead of failing every run on the
    missing files (InflightBatch._nothing_left), and the offset stays where nothing landed."""
    store = OffsetStore(hdfs_client, root)
    store.write(PartitionOffset(unique_name, 0, "b", 10))
    folder = inflight_dir(root, unique_name, 0)
    final = f"{root}/{unique_name}/dt=2026-11-28/hour=22/{unique_name}+0+10+19.log"
    manifest = Manifest(unique_name, 0, 10, 19, 20, 1795906800, "b", {"2026-11-28-22.log": final})
    with lease_of(zookeeper_hosts, hdfs_client, root, unique_name):  # attempt 0's lease, older than the next
        pass
    hdfs_client.write(f"{folder}/{0:020d}/MANIFEST", data=json.dumps(manifest.__dict__).encode())

    with lease_of(zookeeper_hosts, hdfs_client, root, unique_name) as lease:
        outcome = InflightBatch(hdfs_client, store, lease).recover(store.read(unique_name, 0))

    assert outcome == "discarded batch 10-19: its staged files are gone and none was published"
    assert hdfs_client.status(final, strict=False) is None
    assert store.read(unique_name, 0).offset == 10
    assert hdfs_client.status(folder, strict=False) is None


def test_a_holder_paused_after_its_check_cleans_only_its_own_folder(zookeeper_hosts, hdfs_client, root,
                                                                    unique_name):
    """Holder A passed its lease check before Clean, then paused past its session; holder B took the
    lease and sealed its batch. A's Clean, when it wakes, once deleted the partition's whole inflight
    folder, B's MANIFEST and files included; now it deletes only A's (InflightBatch.clean)."""
    store = OffsetStore(hdfs_client, root)
    with paused_while_newer_sealed(zookeeper_hosts, hdfs_client, root, unique_name, store, staged=True) as (
            paused, newer, manifest, final):
        paused.clean()
        assert hdfs_client.status(paused.folder, strict=False) is None

        newer.complete(manifest)
    with hdfs_client.read(final) as reader:
        assert reader.read() == b"b\n"
    assert store.read(unique_name, 0).offset == 20
    assert hdfs_client.status(inflight_dir(root, unique_name, 0), strict=False) is None


@contextmanager
def lease_of(zookeeper_hosts: str, hdfs_client, root: str, topic: str):
    """Partition 0's lease on a ZooKeeper session of its own, ended on exit."""
    zookeeper = KazooClient(hosts=zookeeper_hosts, timeout=10)
    zookeeper.start(timeout=30)
    try:
        with PartitionLease(zookeeper=zookeeper, hdfs_client=hdfs_client, root=root, topic=topic, partition=0,
                            wait=30) as lease:
            yield lease
    finally:
        zookeeper.stop()
        zookeeper.close()


def test_a_holder_whose_session_ended_cannot_commit_however_late_it_wakes(zookeeper_hosts, hdfs_client, root,
                                                                         unique_name):
    """Holder A passed its lease check before Commit, then paused past its session; holder B took the
    lease and committed further. When A wakes (its client on a new session) its commit fails in
    ZooKeeper's transaction and writes nothing: the offset does not go back. Without the transaction
    (offset.dat written after the check alone) A's write set the offset back to 20."""
    store = OffsetStore(hdfs_client, root)
    store.write(PartitionOffset(unique_name, 0, "b", 10))
    first = KazooClient(hosts=zookeeper_hosts, timeout=10)
    first.start(timeout=30)
    lease_a = PartitionLease(zookeeper=first, hdfs_client=hdfs_client, root=root, topic=unique_name, partition=0,
                             wait=30)
    lease_a.acquire()
    paused = InflightBatch(hdfs_client, store, lease_a)
    first.stop()  # the session ends with the pause: ZooKeeper drops A's lease node
    first.close()
    with lease_of(zookeeper_hosts, hdfs_client, root, unique_name) as lease_b:
        newer = InflightBatch(hdfs_client, store, lease_b)
        newer.commit(Manifest(unique_name, 0, 10, 29, 30, 1795906800, "b"))
        assert committed_offset(store, lease_b).offset == 30

        woken = KazooClient(hosts=zookeeper_hosts, timeout=10)  # A's client, on a new session after the pause
        woken.start(timeout=30)
        try:
            lease_a.zookeeper = woken
            paused.lease.check = lambda step: None  # the check A passed before its pause
            with pytest.raises(LeaseLost, match="the lease node is gone"):
                paused.commit(Manifest(unique_name, 0, 10, 19, 20, 1795906000, "b"))
        finally:
            woken.stop()
            woken.close()
        assert committed_offset(store, lease_b).offset == 30
    assert store.read(unique_name, 0).offset == 30


def test_recovery_leaves_a_newer_holders_sealed_batch_alone(zookeeper_hosts, hdfs_client, root, unique_name):
    """Holder A, paused inside its recovery after its check, wakes while B (newer) is between Seal and
    Publish: it must neither finish nor delete B's batch (it once treated every other attempt as an
    older one)."""
    store = OffsetStore(hdfs_client, root)
    with paused_while_newer_sealed(zookeeper_hosts, hdfs_client, root, unique_name, store) as (
            paused, newer, manifest, final):
        paused.recover(store.read(unique_name, 0))

        assert hdfs_client.status(f"{newer.folder}/MANIFEST", strict=False) is not None
        assert hdfs_client.status(final, strict=False) is None and store.read(unique_name, 0).offset == 10
        newer.complete(manifest)
    with hdfs_client.read(final) as reader:
        assert reader.read() == b"b\n"


@contextmanager
def paused_while_newer_sealed(zookeeper_hosts: str, hdfs_client, root: str, topic: str, store: OffsetStore, *,
                              staged: bool = False):
    """Holder A (its session gone, as after a pause past its timeout, having ``staged`` a file) and
    holder B, holding the lease, between Seal and Publish of batch 10-19: ``(A, B, B's manifest, its
    final path)``; A's lease checks pass, as the ones it passed before its pause."""
    store.write(PartitionOffset(topic, 0, "b", 10))
    with lease_of(zookeeper_hosts, hdfs_client, root, topic) as lease_a:
        paused = InflightBatch(hdfs_client, store, lease_a)
        if staged:
            paused.stage("2026-11-28-22.log", b"a\n")
    with lease_of(zookeeper_hosts, hdfs_client, root, topic) as lease_b:
        newer = InflightBatch(hdfs_client, store, lease_b)
        final = f"{root}/{topic}/dt=2026-11-28/hour=22/{topic}+0+10+19.log"
        newer.stage("2026-11-28-22.log", b"b\n")
        manifest = Manifest(topic, 0, 10, 19, 20, 1795906800, "b", {"2026-11-28-22.log": final})
        newer.seal(manifest)
        paused.lease.check = lambda step: None
        yield paused, newer, manifest, final
