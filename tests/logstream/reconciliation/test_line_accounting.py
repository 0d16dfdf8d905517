"""Accounting by line ids: a loss beside a re-sent line shows as both, where counts would cancel out."""

from __future__ import annotations

from pathlib import Path

from logstream.flume.line_gaps import HostFile
from logstream.line_ids import LineRanges, make_line_id
from logstream.reconciliation.line_accounting import KafkaLineScan, account_files

FILE = HostFile("web1", Path("/var/log/app.log"), "77-abc", complete_end=100, size=100)
# ten lines of ten bytes: [0, 10), [10, 20), ... [90, 100)
LINES = [(start, start + 10) for start in range(0, 100, 10)]


def test_a_lost_line_beside_a_resent_one_shows_as_both_though_the_counts_agree():
    scan = KafkaLineScan()
    arrived = [span for span in LINES if span != (30, 40)] + [(70, 80)]  # line 3 lost, line 7 re-sent
    for start, end in arrived:
        scan.take(make_line_id("web1", "77-abc", start, end))
    scan.take(b"not a line id")
    scan.take(None)
    assert len(arrived) == len(LINES)  # a count per hop would call this hop complete

    scan = KafkaLineScan.from_json(scan.to_json())  # the state goes through its file
    hdfs = LineRanges()
    for start, end in LINES:
        hdfs.add(FILE.key, start, end)
    [account] = account_files([FILE], {"Kafka": scan.once, "HDFS": hdfs}, {"Kafka": scan.again})

    assert account.missing == {"Kafka": [(30, 40)], "HDFS": []}
    assert account.repeated == {"Kafka": [(70, 80)]}
    assert not account.exactly_once
    assert str(account) == ("web1 file 77-abc (/var/log/app.log) bytes [0, 100): Kafka misses 10 bytes in [30, 40) "
                            "and holds 10 bytes in [70, 80) more than once; HDFS exactly once")


def test_a_file_every_hop_holds_once_is_exactly_once_and_other_files_do_not_count():
    scan = KafkaLineScan()
    for start, end in LINES:
        scan.take(make_line_id("web1", "77-abc", start, end))
        scan.take(make_line_id("web2", "77-abc", start, end))  # another host's file with the same id
        scan.take(make_line_id("web1", "78-abc", start, end))  # another file of the host
    [account] = account_files([FILE], {"Kafka": scan.once}, {"Kafka": scan.again})
    assert account.exactly_once and str(account).endswith("Kafka exactly once")
