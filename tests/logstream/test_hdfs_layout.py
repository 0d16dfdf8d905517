"""The HDFS layout's names and rows, as Hive and the HadoopConsumer read them."""

from __future__ import annotations

import base64

from logstream.hdfs_layout import (
    LAST_FILEABLE_SECOND,
    batch_file_name,
    hour_dir,
    hour_partition,
    offset_file,
    parse_batch_file_name,
    quarantine_dir,
    quarantine_row,
    topic_dir,
)


def test_batch_file_names_sort_by_offset_and_parse_back():
    names = [batch_file_name("security_logs", 2, first, first + 9, "log") for first in (9, 10, 100)]
    assert names == sorted(names)
    assert names[0] == "security_logs+2+00000000000000000009+00000000000000000018.log"
    assert parse_batch_file_name(names[2]) == ("security_logs", 2, 100, 109)
    assert parse_batch_file_name("a+b+1+00000000000000000001+00000000000000000002.tsv") == ("a+b", 1, 1, 2)


def test_folders_and_hours():
    assert hour_partition(1795910399) == ("2026-11-28", "23")
    assert hour_partition(1795910400) == ("2026-11-29", "00")
    assert hour_partition(LAST_FILEABLE_SECOND) == ("9999-12-31", "23")
    assert hour_dir(topic_dir("/logs", "t"), "2026-11-29", "00") == "/logs/t/dt=2026-11-29/hour=00"
    assert quarantine_dir("/logs", "t") == "/logs/_quarantine/t"
    assert offset_file("/logs", "t", 3) == "/logs/_offsets/t/3/offset.dat"


def test_a_quarantine_row_keeps_the_raw_bytes():
    raw = b"\xff\t,\n1.2.3.4"
    row = quarantine_row(1, 42, 1795910400123, "not_text", raw)
    fields = row.split(b"\t")
    assert fields[:4] == [b"1", b"42", b"1795910400123", b"not_text"]
    assert base64.b64decode(fields[4]) == raw and b"\n" not in row
