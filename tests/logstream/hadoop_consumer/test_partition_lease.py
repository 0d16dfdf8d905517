"""The partition lease against the stack's ZooKeeper and HDFS: one holder, a fence, standing down."""

from __future__ import annotations

import pytest

from logstream.hadoop_consumer.partition_lease import LeaseLost, PartitionLease


def lease(sessions, hdfs_client, root, topic, *, wait=0.5) -> PartitionLease:
    return PartitionLease(zookeeper=sessions(), hdfs_client=hdfs_client, root=root, topic=topic, partition=0,
                          wait=wait)


def test_one_holder_at_a_time_and_the_old_one_is_fenced_off(sessions, hdfs_client, root, unique_name):
    first = lease(sessions, hdfs_client, root, unique_name)
    token = first.acquire()
    first.check("seal")
    with pytest.raises(LeaseLost, match=r"standing down after 0.5s, the partition is being moved by"):
        lease(sessions, hdfs_client, root, unique_name).acquire()

    # the first holder's session ends (as on_kill does, or an expiry): its next step stands down
    first.zookeeper.stop()
    with pytest.raises(LeaseLost, match="standing down before publish"):
        first.check("publish")
    second = lease(sessions, hdfs_client, root, unique_name, wait=30)
    assert second.acquire() > token
    with hdfs_client.read(second.fence) as reader:
        assert int(reader.read()) == second.token
    second.check("commit")
    second.release()


def test_a_fence_newer_than_the_lease_stands_it_down(sessions, hdfs_client, root, unique_name):
    holder = lease(sessions, hdfs_client, root, unique_name)
    holder.acquire()
    # a newer holder's token in HDFS (it took over while this one was cut off)
    newer = holder.token + 100
    hdfs_client.write(holder.fence, data=str(newer).encode(), overwrite=True)
    with pytest.raises(LeaseLost, match=rf"fence holds token {newer}, not this lease's {holder.token}"):
        holder.check("commit")
    holder.release()
    with pytest.raises(LeaseLost, match="newer than this lease's"):
        lease(sessions, hdfs_client, root, unique_name).acquire()
