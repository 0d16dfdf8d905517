"""Runs HadoopConsumer batches in a child process that a test kills with SIGKILL.

    python crashing_consumer.py BOOTSTRAP WEBHDFS_URL ZOOKEEPER ROOT TOPIC PARTITIONS MAX_RECORDS [CRASH_POINT]

SPLIT_FROM in the environment sets the batches' ``split_from`` (to make them use a helper process),
LEASE_WAIT how long a batch waits for another consumer's lease before it stands down,
ZK_SESSION_SECONDS its ZooKeeper session's timeout; with KEEP_GOING a batch that fails (a woken
process meeting its expired session, say) is printed and the loop goes on, as the next scheduled run
would.

Without CRASH_POINT it loops over the partitions' batches until killed from outside, printing why
it stood down whenever another consumer held a partition. With one, it
SIGKILLs itself at that step of the first batch that lands records (see DESIGN.md's crash table).
"""

from __future__ import annotations

import os
import signal
import sys
import traceback

import hdfs

from logstream.hadoop_consumer import inflight_batch
from logstream.hadoop_consumer.consumer import BatchLimits, HadoopConsumer, LeaseLost


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(crash_point: str, client) -> None:
    """Wrap the step named ``crash_point`` so that the process dies right there.

    The Commit step's points wrap the HDFS client itself, so they hold whatever function writes offset.dat.
    """
    if crash_point == "stage":
        write = inflight_batch.write_bytes
        inflight_batch.write_bytes = lambda client, path, data: (write(client, path, data), die())
    elif crash_point == "seal":
        seal = inflight_batch.InflightBatch.seal
        inflight_batch.InflightBatch.seal = lambda self, manifest: (seal(self, manifest), die())
    elif crash_point == "publish":
        move = inflight_batch.publish_file
        inflight_batch.publish_file = lambda client, source, target: (move(client, source, target), die())
    elif crash_point == "commit.new_written":
        delete = client.delete
        client.delete = lambda path, **kwargs: die() if path.endswith("/offset.dat") else delete(path, **kwargs)
    elif crash_point == "commit.old_deleted":
        rename = client.rename
        client.rename = lambda source, target: die() if target.endswith("/offset.dat") else rename(source, target)
    elif crash_point == "commit.new_partial":
        # HDFS's create truncates first: a kill during the write leaves a partial offset.dat.new
        write = client.write
        def write_half_then_die(path, data=None, **kwargs):
            if not path.endswith("/offset.dat.new"):
                return write(path, data=data, **kwargs)
            write(path, data=data[:len(data) // 2], **kwargs)
            die()
        client.write = write_half_then_die
    elif crash_point == "clean":
        inflight_batch.delete_tree = lambda client, path: die()
    else:
        raise SystemExit(f"unknown crash point {crash_point!r}")


def main(bootstrap: str, webhdfs: str, zookeeper: str, root: str, topic: str, partitions: str, max_records: str,
         crash_point: str | None = None) -> None:
    client = hdfs.InsecureClient(webhdfs, user="root")
    consumer = HadoopConsumer({"bootstrap.servers": bootstrap}, client, root, zookeeper_hosts=zookeeper,
                              lease_wait=float(os.environ.get("LEASE_WAIT", 30)),
                              session_timeout=float(os.environ.get("ZK_SESSION_SECONDS", 10)),
                              progress=lambda line: print(line, flush=True))
    consumer.initialize(topic)
    if crash_point:
        arm(crash_point, client)
    limits = BatchLimits(max_records=int(max_records),
                         split_from=int(os.environ.get("SPLIT_FROM", BatchLimits.split_from)))
    while True:
        for partition in range(int(partitions)):
            try:
                consumer.run_batch(topic, partition, limits)
            except LeaseLost as lost:
                print(f"stood down: {lost}", flush=True)
            except Exception as err:  # noqa: BLE001 - what a scheduler does: this run failed, the next one runs
                if os.environ.get("KEEP_GOING") is None:
                    raise
                where = traceback.extract_tb(err.__traceback__)[-3:]
                print(f"batch failed: {err!r} at {' < '.join(f'{frame.name}:{frame.lineno}' for frame in reversed(where))}",
                      flush=True)
        if crash_point:
            raise SystemExit(f"crash point {crash_point} was never reached")


if __name__ == "__main__":
    main(*sys.argv[1:])
