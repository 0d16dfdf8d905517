"""Where logstream keeps things in HDFS. The HadoopConsumer writes this layout; Hive reads it.

    <root>/<topic>/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<first>+<last>.log
        valid entries, the raw record bytes one per line, filed by the entry's StartTime (UTC);
    <root>/_quarantine/<topic>/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<first>+<last>.tsv
        records that are not entries, filed by their Kafka timestamp (UTC), one per line
        (:func:`quarantine_row`): partition TAB offset TAB kafka_timestamp_ms TAB reason TAB base64(raw value);
    <root>/_line_ids/<topic>/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<first>+<last>.ids
        the side index of the entries file of the same name (``.log``): the line ids of its entries that
        came with one (``line_ids.LandedLines``: host TAB file id TAB start TAB end TAB lines per run of
        adjacent lines), published with it; Hive's ``line_ids`` table;
    <root>/_offsets/<topic>/<partition>/offset.dat
        the partition's committed offset (see offset_store.py);
    <root>/_inflight/<topic>/<partition>/<token>/
        the batch being committed by the lease holder with that token (see hadoop_consumer/DESIGN.md).

``first`` and ``last`` are the batch's Kafka offsets (inclusive), zero-padded to 20 digits so that
names sort by offset and a replayed batch lands on the same names.
"""

from __future__ import annotations

import base64
import functools
from datetime import datetime, timezone

from logstream.log_entry import LAST_START_TIME

DEFAULT_ROOT = "/logs"
QUARANTINE = "_quarantine"
LINE_IDS = "_line_ids"
# the last moment with a (dt, hour) folder: 9999-12-31T23:59:59Z
LAST_FILEABLE_SECOND = LAST_START_TIME


@functools.lru_cache(maxsize=4096)
def _hour_partition_of_hour(hours_since_epoch: int) -> tuple[str, str]:
    moment = datetime.fromtimestamp(hours_since_epoch * 3600, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d"), moment.strftime("%H")


def hour_partition(epoch_seconds: float) -> tuple[str, str]:
    """The (dt, hour) folder values of a moment, in UTC."""
    return _hour_partition_of_hour(int(epoch_seconds // 3600))


def quarantine_row(partition: int, offset: int, timestamp_ms: int, reason: str, raw: bytes) -> bytes:
    """One line of a quarantine file (Hive's ``quarantine`` table reads it), without its newline."""
    return b"%d\t%d\t%d\t%s\t%s" % (partition, offset, timestamp_ms, reason.encode(), base64.b64encode(raw))


def batch_file_name(topic: str, partition: int, first: int, last: int, suffix: str) -> str:
    return f"{topic}+{partition}+{first:020d}+{last:020d}.{suffix}"


def parse_batch_file_name(name: str) -> tuple[str, int, int, int]:
    """The inverse of :func:`batch_file_name`: (topic, partition, first, last)."""
    stem = name.rsplit(".", 1)[0]
    topic, partition, first, last = stem.rsplit("+", 3)
    return topic, int(partition), int(first), int(last)


def topic_dir(root: str, topic: str) -> str:
    return f"{root}/{topic}"


def quarantine_dir(root: str, topic: str) -> str:
    return f"{root}/{QUARANTINE}/{topic}"


def line_ids_dir(root: str, topic: str) -> str:
    return f"{root}/{LINE_IDS}/{topic}"


def hour_dir(base: str, dt: str, hour: str) -> str:
    return f"{base}/dt={dt}/hour={hour}"


def offsets_dir(root: str, topic: str, partition: int) -> str:
    return f"{root}/_offsets/{topic}/{partition}"


def offset_file(root: str, topic: str, partition: int) -> str:
    return f"{offsets_dir(root, topic, partition)}/offset.dat"


def inflight_dir(root: str, topic: str, partition: int) -> str:
    return f"{root}/_inflight/{topic}/{partition}"
