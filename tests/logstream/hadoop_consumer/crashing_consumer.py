"""Runs HadoopConsumer batches in a child process that a test kills with SIGKILL.

    python crashing_consumer.py BOOTSTRAP WEBHDFS_URL ROOT TOPIC PARTITIONS MAX_RECORDS [CRASH_POINT]

SPLIT_FROM in the environment sets the batches' ``split_from`` (to make them use a helper process).

Without CRASH_POINT it loops over the partitions' batches until killed from outside. With one, it
SIGKILLs itself at that step of the first batch that lands records (see DESIGN.md's crash table).
"""

from __future__ import annotations

import os
import signal
import sys

import hdfs

from logstream.hadoop_consumer import inflight_batch, offset_store
from logstream.hadoop_consumer.consumer import BatchLimits, HadoopConsumer


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(crash_point: str) -> None:
    """Wrap the step named ``crash_point`` so that the process dies right there."""
    if crash_point == "after_first_staged_file":
        write = inflight_batch.write_bytes
        inflight_batch.write_bytes = lambda client, path, data: (write(client, path, data), die())
    elif crash_point == "after_manifest":
        seal = inflight_batch.InflightBatch.seal
        inflight_batch.InflightBatch.seal = lambda self, manifest: (seal(self, manifest), die())
    elif crash_point == "after_first_publish_rename":
        move = inflight_batch.publish_file
        inflight_batch.publish_file = lambda client, source, target: (move(client, source, target), die())
    elif crash_point == "after_new_offset_file":
        offset_store.move_into_place = lambda client, source, target: die()
    elif crash_point == "between_offset_delete_and_rename":
        def delete_then_die(client, source, target):
            client.delete(target)
            die()
        offset_store.move_into_place = delete_then_die
    elif crash_point == "before_inflight_cleanup":
        inflight_batch.delete_tree = lambda client, path: die()
    else:
        raise SystemExit(f"unknown crash point {crash_point!r}")


def main(bootstrap: str, webhdfs: str, root: str, topic: str, partitions: str, max_records: str,
         crash_point: str | None = None) -> None:
    consumer = HadoopConsumer({"bootstrap.servers": bootstrap}, hdfs.InsecureClient(webhdfs, user="root"), root,
                              progress=lambda line: print(line, flush=True))
    consumer.initialize(topic)
    if crash_point:
        arm(crash_point)
    limits = BatchLimits(max_records=int(max_records),
                         split_from=int(os.environ.get("SPLIT_FROM", BatchLimits.split_from)))
    while True:
        for partition in range(int(partitions)):
            consumer.run_batch(topic, partition, limits)
        if crash_point:
            raise SystemExit(f"crash point {crash_point} was never reached")


if __name__ == "__main__":
    main(*sys.argv[1:])
