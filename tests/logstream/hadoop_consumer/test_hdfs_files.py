"""The HadoopConsumer's HDFS state files against the stack's HDFS: a reader beside a writer."""

from __future__ import annotations

import posixpath
import threading

from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook
from online_stats import wait_for

from logstream.hadoop_consumer.hdfs_files import read_replaced, replace_file


def test_a_reader_never_misses_a_state_file_being_replaced(hdfs_client, root):
    """A lag check reads offset.dat while the consumer commits, from its very first write on: every
    read after the first write finds the file, and the values never go back. Found on the cluster,
    where a reader that looked up ``path`` and then ``path.new`` missed both between the writer's
    delete and rename ("offset.dat not found"), and read the first ``path.new`` empty while it was
    being written."""
    path = f"{root}/_offsets/topic/0/offset.dat"
    writer_client = WebHDFSHook().get_conn()
    done = threading.Event()
    replaced = [0]

    def write() -> None:
        while not done.is_set() and replaced[0] < 3000:
            replace_file(writer_client, path, str(replaced[0]).encode())
            replaced[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    seen = []
    try:
        while len(seen) < 400 and writer.is_alive():
            found = read_replaced(hdfs_client, path)
            if found is None:
                assert not seen, f"read {len(seen) + 1}: no state file after {replaced[0]} replacements"
                continue
            seen.append(int(found[1]))
    finally:
        done.set()
        writer.join(60)
    assert len(seen) == 400
    assert seen == sorted(seen)
    assert seen[-1] - seen[0] >= 100, "the writer must have replaced the file often while it was read"


def test_a_first_write_still_open_reads_as_no_state(hdfs_client, root):
    """``path.new`` listed while its very first write is still open (no ``path`` beside it) is not a
    state yet: the reader says None, and once the write closes it reads the whole of it."""
    path = f"{root}/_offsets/topic/0/offset.dat"
    folder = posixpath.dirname(path)
    hdfs_client.makedirs(folder)
    with hdfs_client.write(f"{path}.new") as writer:
        writer.write(b"41")
        wait_for(lambda: "offset.dat.new" in hdfs_client.list(folder), 30, "the open file listed")
        assert read_replaced(hdfs_client, path) is None
    assert read_replaced(hdfs_client, path) == (f"{path}.new", b"41")


class _WriterBetweenListAndRead:
    """The stack's HDFS client, with the writer's next steps run right after the reader's first listing."""

    def __init__(self, client, writer_steps):
        self._client = client
        self._writer_steps = writer_steps

    def list(self, *args, **kwargs):
        listed = self._client.list(*args, **kwargs)
        steps, self._writer_steps = self._writer_steps, None
        if steps:
            steps()
        return listed

    def __getattr__(self, attribute):
        return getattr(self._client, attribute)


def test_a_path_new_renamed_and_followed_by_the_next_write_before_it_is_read_is_not_read_as_the_state(
    hdfs_client, root
):
    """The interleaving CI found: the reader lists ``path.new`` alone (the writer between its delete and
    its rename), then the writer renames it and writes the next ``path.new`` in full before the reader
    reads that name. Those bytes are not committed yet (``path`` holds the state): reading them made
    the values go back on the next read (45, then 44). The reader gives the committed state."""
    path = f"{root}/_offsets/topic/0/offset.dat"
    hdfs_client.makedirs(posixpath.dirname(path))
    hdfs_client.write(f"{path}.new", data=b"44")  # the writer deleted offset.dat, not renamed yet

    def writer_commits_44_and_writes_45():
        hdfs_client.rename(f"{path}.new", path)
        hdfs_client.write(f"{path}.new", data=b"45")

    reader = _WriterBetweenListAndRead(hdfs_client, writer_commits_44_and_writes_45)
    assert read_replaced(reader, path) == (path, b"44")
    assert hdfs_client.list(posixpath.dirname(path)) == ["offset.dat", "offset.dat.new"]
