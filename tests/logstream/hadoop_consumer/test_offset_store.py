"""offset.dat in real HDFS: what is read back, and what survives kills while it is replaced."""

from __future__ import annotations

import threading

import pytest

from logstream.hadoop_consumer.offset_store import FROM_BEGINNING, OffsetFileError, OffsetStore, PartitionOffset


@pytest.fixture
def store(hdfs_client, root):
    return OffsetStore(hdfs_client, root)


def test_initialize_once_then_write_and_read_back(store, unique_name):
    fresh = store.initialize(unique_name, 0, "broker:1")
    assert (fresh.offset, fresh.watermark, fresh.leader) == (FROM_BEGINNING, -1, "broker:1")
    store.write(PartitionOffset(unique_name, 0, "broker:2", 42, 1795910400))
    assert store.initialize(unique_name, 0, "broker:3").offset == 42
    found = store.read(unique_name, 0)
    assert (found.offset, found.watermark, found.leader) == (42, 1795910400, "broker:2")
    assert store.read(unique_name, 1) is None
    assert store.list_partitions(unique_name) == [0]


def test_only_the_new_file_left_is_read_and_finished_before_the_next_write(store, hdfs_client, unique_name):
    store.write(PartitionOffset(unique_name, 0, "b", 10))
    path = store.path(unique_name, 0)
    hdfs_client.rename(path, f"{path}.new")  # a kill between delete and rename
    assert store.read(unique_name, 0).offset == 10

    # the next write is killed while writing offset.dat.new: it must not have been the only copy
    original_write = hdfs_client.write
    def write_half(target, data=None, **kwargs):
        original_write(target, data=data[: len(data) // 2], **kwargs)
        raise KeyboardInterrupt("killed")
    hdfs_client.write = write_half
    with pytest.raises(KeyboardInterrupt):
        store.write(PartitionOffset(unique_name, 0, "b", 20))
    hdfs_client.write = original_write
    assert store.read(unique_name, 0).offset == 10
    store.write(PartitionOffset(unique_name, 0, "b", 20))
    assert store.read(unique_name, 0).offset == 20
    assert hdfs_client.status(f"{path}.new", strict=False) is None


def test_a_foreign_or_broken_file_is_a_clear_error(store, hdfs_client, unique_name):
    store.write(PartitionOffset(unique_name, 0, "b", 10))
    hdfs_client.write(store.path(unique_name, 1), data=PartitionOffset("other", 1, "b").to_text().encode())
    with pytest.raises(OffsetFileError, match="belongs to other/1"):
        store.read(unique_name, 1)
    hdfs_client.write(store.path(unique_name, 0), data=b"offset=ten\n", overwrite=True)
    with pytest.raises(OffsetFileError, match="is not a valid offset file"):
        store.read(unique_name, 0)


class Looks:
    """How many reads a reader has finished; a writer waits for the next ones."""

    def __init__(self) -> None:
        self.count, self.changed = 0, threading.Condition()

    def one_more(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def wait_for(self, more: int) -> None:
        with self.changed:
            target = self.count + more
            self.changed.wait_for(lambda: self.count >= target, timeout=30)


class SlowWrites:
    """The stack's HDFS client whose writes stall after their first bytes until a reader has read
    from start to end meanwhile (a loaded machine, where the paused-consumers test saw the race);
    everything else as the client."""

    def __init__(self, client, looks: Looks) -> None:
        self.client, self.looks = client, looks

    def __getattr__(self, name):
        return getattr(self.client, name)

    def write(self, path, data, **options):
        def stalled():
            yield data[:5]
            self.looks.wait_for(2)  # the second read starts while the file is being written
            yield data[5:]
        return self.client.write(path, data=stalled(), **options)


def test_a_reader_beside_a_slow_initializer_never_sees_a_half_made_offset_file(hdfs_client, root, unique_name):
    """Consumers starting together each initialize and read offset.dat. Created in place, the file
    was there with none or part of its bytes while they were written, and a consumer died reading an
    offset file without a topic (seen in the paused-consumers test)."""
    looks = Looks()
    initializer, reader = OffsetStore(SlowWrites(hdfs_client, looks), root), OffsetStore(hdfs_client, root)
    done = threading.Event()
    seen: list[object] = []

    def read_until_done() -> None:
        while not done.is_set():
            try:
                seen.append(reader.read(unique_name, 0))
            except OffsetFileError as err:
                seen.append(err)
            looks.one_more()

    watching = threading.Thread(target=read_until_done)
    watching.start()
    try:
        created = initializer.initialize(unique_name, 0, "broker:1")
    finally:
        done.set()
        watching.join()
    assert [item for item in seen if not (item is None or item == created)] == []
    assert reader.read(unique_name, 0) == created


def test_many_initializing_at_once_agree_on_one_file(store, unique_name):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=6) as pool:
        created = list(pool.map(lambda i: store.initialize(unique_name, 0, f"broker:{i}"), range(6)))
    stored = store.read(unique_name, 0)
    assert stored.offset == FROM_BEGINNING
    assert {(offset.leader, offset.updated) for offset in created} == {(stored.leader, stored.updated)}
