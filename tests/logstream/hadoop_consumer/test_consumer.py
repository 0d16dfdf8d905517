"""The HadoopConsumer against real Kafka and HDFS: exact multisets, offsets, partitions, retention."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions

from logstream.hadoop_consumer.consumer import BatchLimits, HadoopConsumer, LeaseLost, OffsetOutOfRange, split_point
from logstream.hdfs_layout import parse_batch_file_name
from logstream.hive.hql import render
from logstream.log_entry import InvalidEntry, entry_start_time
from logstream.hadoop_consumer.offset_store import OffsetFileError
from logstream.storm.window_counter import WindowCounter

from log_times import hour_folder
from produced_and_landed import (DAY_BOUNDARY, HOUR, create_topic, drain, end_offsets, landed, landed_line_ids,
                                  misfiled_line_ids, once_each, produce, quarantine_reasons,
                                  valid_line_runs)
from logstream.line_ids import LineRanges


def test_batches_land_every_record_exactly_once(consumer, kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 3)
    sent = produce(kafka_config, unique_name, 6000, partitions=3)

    assert drain(consumer, unique_name, 3, BatchLimits(max_records=700)) >= 9
    assert landed(hdfs_client, root, unique_name) == sent
    # nothing new: another round lands nothing and moves nothing
    again = [consumer.run_batch(unique_name, p) for p in range(3)]
    assert [r.records for r in again] == [0, 0, 0]
    assert landed(hdfs_client, root, unique_name) == sent

    offsets = [consumer.store.read(unique_name, p) for p in range(3)]
    assert [o.offset for o in offsets] == [2000, 2000, 2000]
    assert all(o.leader == kafka_config["bootstrap.servers"] for o in offsets)
    assert all(o.watermark >= DAY_BOUNDARY for o in offsets)
    assert hdfs_client.status(f"{root}/_inflight/{unique_name}/0", strict=False) is None


def test_copies_of_lines_land_once_by_their_line_ids(consumer, kafka_config, hdfs_client, root, unique_name):
    """Lines re-sent as a failover does (older after newer, some in a later batch than their first
    copy) land once, bad ones quarantined once, each copy quarantined as "copy"; offset.dat holds each
    host file's bytes as taken, and the landed files' side indexes the bytes of each valid line once."""
    create_topic(kafka_config, unique_name, 2)
    written: dict = {}
    sent = produce(kafka_config, unique_name, 20_000, partitions=2, resent_ratio=0.2, line_ids=written)
    ends = end_offsets(kafka_config, unique_name, 2)
    assert sum(ends) > 20_000 + 3000  # the copies are in Kafka

    results = []
    consumer.progress = lambda line: None
    consumer.initialize(unique_name)
    while not results or any(r.lag for r in results[-2:]):
        results += [consumer.run_batch(unique_name, p, BatchLimits(max_records=700)) for p in (0, 1)]
    assert landed(hdfs_client, root, unique_name) == sent
    assert sum(r.records for r in results) == sum(ends) and sum(r.copies for r in results) == sum(ends) - 20_000
    assert Counter(quarantine_reasons(hdfs_client, root, unique_name).values())["copy"] == sum(ends) - 20_000
    offsets = [consumer.store.read(unique_name, p) for p in (0, 1)]
    assert [o.offset for o in offsets] == ends
    # each partition's host file, whole: one range from its first byte, the lines' bytes all told
    files = [LineRanges.from_json(o.lines) for o in offsets]
    assert [sorted(f.files) for f in files] == [["host0 4242-9a0c31f2"], ["host1 4243-9a0c31f2"]]
    spans = [f.ranges(file) for f in files for file in f.files]
    assert all(len(span) == 1 and span[0][0] == 0 for span in spans)
    assert sum(span[0][1] for span in spans) == sum(len(value) + 1 for value in sent.elements())
    # the side indexes: every valid line's bytes once, in runs between the bad lines, each run's lines
    # told, each run beside its lines' hour file
    folders: dict = {}
    indexed, again = once_each(landed_line_ids(hdfs_client, root, unique_name, folders=folders))
    assert again == 0
    assert indexed == valid_line_runs(written)
    assert len(set(folders.values())) == 3 and misfiled_line_ids(written, folders) == []
    assert sum(lines for runs in indexed.values() for *_, lines in runs) == sum(
        valid for lines in written.values() for _start, _end, valid, _value in lines) > 18_000


def test_side_indexes_of_lines_taken_at_once_lie_beside_their_hours_files(consumer, kafka_config, hdfs_client, root,
                                                                          unique_name):
    """Valid lines, no copies: chunks taken whole (the fast paths), some of them across an hour's end.
    Each hour's side index holds exactly the lines of its hour. Attributing a chunk's lines to its
    first hour fails ``misfiled_line_ids``."""
    create_topic(kafka_config, unique_name, 1)
    written: dict = {}
    sent = produce(kafka_config, unique_name, 6000, partitions=1, bad_ratio=0.0, resent_ratio=0.0, line_ids=written)
    assert drain(consumer, unique_name, 1, BatchLimits(max_records=1100)) == 6
    assert landed(hdfs_client, root, unique_name) == sent
    folders: dict = {}
    indexed, again = once_each(landed_line_ids(hdfs_client, root, unique_name, folders=folders))
    assert (indexed, again) == (valid_line_runs(written), 0)
    assert len(set(folders.values())) == 3 and misfiled_line_ids(written, folders) == []


def test_an_hours_side_index_written_early_is_written_again_when_its_hour_gets_later_lines(
        consumer, kafka_config, hdfs_client, root, unique_name):
    """One host file: 25,001 lines of an hour, then 45,000 of the next. Sent: the first hour's lines
    but its 12,501st (never sent) and its last, the next hour's (the fetch moves past the first hour,
    whose side index, two runs, is handed over then), then the first hour's last line, fetched later:
    it extends the second run (as many rows as before, other bytes). One batch: each hour's side
    index holds exactly its lines that were sent, 25,000 and 45,000."""
    create_topic(kafka_config, unique_name, 1)
    first_hour = DAY_BOUNDARY - 3 * HOUR
    lines, end = [], 0
    for count, hour in ((25_001, first_hour), (45_000, first_hour + HOUR)):
        for i in range(count):
            value = b"10.0.0.%d,%d,%d,300" % (i % 250, 1000 + i % 7, hour + i % 3600)
            lines.append((end, end + len(value) + 1, True, value))
            end += len(value) + 1
    never, late = lines[12_500], lines[25_000]
    order = [line for line in lines if line is not never and line is not late] + [late]
    producer = Producer({**kafka_config, "linger.ms": 20})
    for begin, line_end, _, value in order:
        producer.produce(unique_name, value, b"ls1 web1 77-ab %d %d" % (begin, line_end), partition=0)
    assert producer.flush(30) == 0
    written = {"web1 77-ab": [line for line in lines if line is not never]}
    assert drain(consumer, unique_name, 1, BatchLimits(max_records=100_000)) == 1
    folders: dict = {}
    rows = landed_line_ids(hdfs_client, root, unique_name, folders=folders)
    assert once_each(rows) == (valid_line_runs(written), 0)
    assert misfiled_line_ids(written, folders) == []
    lines_by_folder = Counter()
    for start, row_end, count in rows["web1 77-ab"]:
        lines_by_folder[folders[("web1 77-ab", start, row_end)]] += count
    assert lines_by_folder == {hour_folder(first_hour): 25_000, hour_folder(first_hour + HOUR): 45_000}


def test_a_split_batch_whose_parts_took_the_same_line_ends_at_the_split(consumer, kafka_config, hdfs_client, root,
                                                                        unique_name):
    create_topic(kafka_config, unique_name, 1)
    # the first 2,000 lines again after all others: copies in the helper's part of lines in the batch's
    written: dict = {}
    sent = produce(kafka_config, unique_name, 60_000, partitions=1, bad_ratio=0.01, resent_ratio=0.0,
                   first_lines_again=2000, line_ids=written)
    [end] = end_offsets(kafka_config, unique_name, 1)
    assert end == 62_000
    progress: list[str] = []
    consumer.progress = progress.append
    limits = BatchLimits(max_records=end, split_from=10_000)

    first = consumer.run_batch(unique_name, 0, limits)
    # both processes took the first lines: the helper's part is left to the next batch, which knows
    # the lower part's lines and drops the copies
    assert any("both processes took a copy of the same line" in line for line in progress), progress
    assert first.next_offset == split_point(0, end)
    assert first.copies == 0
    assert drain(consumer, unique_name, 1, limits) >= 1
    assert landed(hdfs_client, root, unique_name) == sent
    assert consumer.store.read(unique_name, 0).offset == end
    assert Counter(quarantine_reasons(hdfs_client, root, unique_name).values())["copy"] == 2000
    # both processes wrote side indexes: together every valid line once, each beside its hour's file
    folders: dict = {}
    indexed, again = once_each(landed_line_ids(hdfs_client, root, unique_name, folders=folders))
    assert (indexed, again) == (valid_line_runs(written), 0)
    assert len(set(folders.values())) == 3 and misfiled_line_ids(written, folders) == []


def test_hour_folders_follow_start_time_and_quarantine_keeps_reasons(consumer, kafka_config, hdfs_client, root,
                                                                     unique_name):
    create_topic(kafka_config, unique_name, 1)
    good = [f"10.1.1.{i},77,{DAY_BOUNDARY - 60 + i},300".encode() for i in range(120)]
    # among entries in time order (checked a chunk at a time), records that must go one by one
    bad = [b"\xff\xfegarbage", b"10.1.1.1,77,notatime,300", b"x" * 5000,
           f"10.1.1.1,77,{DAY_BOUNDARY},300\x1e".encode(), f"10.1.1.1,77,{DAY_BOUNDARY},300\n1,2,3,4".encode()]
    producer = Producer(kafka_config)
    for value in good[:90] + bad + good[90:]:
        producer.produce(unique_name, value)
    producer.flush(10)

    result = consumer.run_batch(unique_name, 0)
    assert (result.records, result.valid, result.quarantined) == (125, 120, 5)
    assert result.quarantine_reasons == {"not_text": 1, "bad_start_time": 1, "oversized": 1, "control_characters": 2}
    before = hdfs_client.list(f"{root}/{unique_name}/{hour_folder(DAY_BOUNDARY - 1)}")
    after = hdfs_client.list(f"{root}/{unique_name}/{hour_folder(DAY_BOUNDARY)}")
    assert before == after == [f"{unique_name}+0+{0:020d}+{124:020d}.log"]
    with hdfs_client.read(f"{root}/{unique_name}/{hour_folder(DAY_BOUNDARY - 1)}/{before[0]}") as reader:
        assert reader.read() == b"\n".join(good[:60]) + b"\n"
    quarantine = landed(hdfs_client, root, unique_name) - landed(hdfs_client, f"{root}/none", unique_name)
    assert sorted(v for v in quarantine if v not in good) == sorted(bad)


def test_partition_added_midway_is_picked_up(consumer, kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 1)
    sent = produce(kafka_config, unique_name, 1000, partitions=1, seed=2)
    drain(consumer, unique_name, 1)

    admin = AdminClient(kafka_config)
    admin.create_partitions([NewPartitions(unique_name, 3)])[unique_name].result()
    sent += produce(kafka_config, unique_name, 1500, partitions=3, seed=3)
    initialized = consumer.initialize(unique_name)
    assert [(o.partition, o.offset) for o in initialized] == [(0, 1000), (1, -1), (2, -1)]
    drain(consumer, unique_name, 3)
    assert landed(hdfs_client, root, unique_name) == sent


def test_offset_deleted_by_retention_fails_loudly_and_skips_nothing(consumer, kafka_config, unique_name):
    create_topic(kafka_config, unique_name, 1)
    produce(kafka_config, unique_name, 100, partitions=1)
    consumer.run_batch(unique_name, 0, BatchLimits(max_records=10))
    admin = AdminClient(kafka_config)
    for future in admin.delete_records([TopicPartition(unique_name, 0, 50)]).values():
        future.result()

    with pytest.raises(OffsetOutOfRange, match=r"committed offset 10 is outside Kafka's range \[50, 100\]"):
        consumer.run_batch(unique_name, 0)
    assert consumer.store.read(unique_name, 0).offset == 10


def test_a_batch_ending_on_a_transaction_marker_stops_there(consumer, kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 1)
    producer = Producer({**kafka_config, "transactional.id": unique_name})
    producer.init_transactions(30)
    sent = Counter()
    for transaction in range(3):  # 100 records, then a commit marker: offsets 0-99, 100, 101-200, 201, ...
        producer.begin_transaction()
        for i in range(100):
            value = f"10.3.{transaction}.{i},5,{DAY_BOUNDARY + i},60".encode()
            producer.produce(unique_name, value)
            sent[value] += 1
        producer.commit_transaction(30)

    # each batch's last offset is a marker, with records after it: the batch ends at its bound
    first = consumer.run_batch(unique_name, 0, BatchLimits(max_records=101))
    assert (first.records, first.next_offset) == (100, 101)
    assert drain(consumer, unique_name, 1, BatchLimits(max_records=101)) == 2
    assert consumer.store.read(unique_name, 0).offset == 303
    assert landed(hdfs_client, root, unique_name) == sent


def test_kafka_settings_with_callbacks_fetch_in_one_process(kafka_config, hdfs_client, root, zookeeper_hosts,
                                                            unique_name):
    create_topic(kafka_config, unique_name, 1)
    sent = produce(kafka_config, unique_name, 3000, partitions=1)
    progress: list[str] = []
    # what Airflow's Kafka hook builds for OAuth and error callbacks: functions, which JSON can't carry
    consumer = HadoopConsumer({**kafka_config, "error_cb": lambda error: progress.append(str(error))},
                              hdfs_client, root, zookeeper_hosts=zookeeper_hosts, progress=progress.append)

    result = consumer.run_batch(unique_name, 0, BatchLimits(split_from=1000))
    assert result.records == 3000
    assert any("fetching all 3,000 records in this one" in line for line in progress)
    assert len({parse_batch_file_name(path.rsplit("/", 1)[1])[2:] for path in result.files}) == 1
    assert landed(hdfs_client, root, unique_name) == sent


def test_corrupt_offset_file_is_a_clear_error(consumer, kafka_config, hdfs_client, unique_name):
    create_topic(kafka_config, unique_name, 1)
    consumer.initialize(unique_name)
    hdfs_client.write(consumer.store.path(unique_name, 0), data=b"offset=twelve\n", overwrite=True)
    with pytest.raises(OffsetFileError, match="is not a valid offset file"):
        consumer.run_batch(unique_name, 0)


def test_out_of_order_ipv6_and_multiline_records_land_exactly(consumer, kafka_config, hdfs_client, root, unique_name):
    create_topic(kafka_config, unique_name, 1)
    records = [f"10.2.{i % 250}.{i % 7},9,{DAY_BOUNDARY + (i * 7919) % (3 * HOUR) - HOUR},60".encode()
               for i in range(30_000)]
    before_boundary = DAY_BOUNDARY - 1400
    records[100:100] = [b"2001:db8::7,9,%d,60" % before_boundary, b" 10.0.0.1 ,9,%d,60" % before_boundary,
                        b"10.0.0.1,9,1,60\n10.0.0.2,9,1,60"]
    producer = Producer({**kafka_config, "linger.ms": 20})
    for value in records:
        producer.produce(unique_name, value)
    assert producer.flush(30) == 0

    result = consumer.run_batch(unique_name, 0)
    assert (result.records, result.quarantined) == (30_003, 2)
    assert result.watermark == max(int(value.split(b",")[2]) for value in records[:100] + records[103:])
    assert landed(hdfs_client, root, unique_name) == Counter(records)
    assert len(hdfs_client.list(f"{root}/{unique_name}/{hour_folder(DAY_BOUNDARY).split('/')[0]}")) == 2


def test_a_large_batch_split_between_two_processes_lands_each_record_once(consumer, kafka_config, hdfs_client,
                                                                         root, unique_name):
    create_topic(kafka_config, unique_name, 1)
    # time-ordered over three hours, so hours run across the point where the range is split
    sent = produce(kafka_config, unique_name, 200_000, partitions=1, bad_ratio=0.01)
    progress: list[str] = []
    consumer.progress = progress.append

    result = consumer.run_batch(unique_name, 0, BatchLimits(max_records=200_000, split_from=100_000))
    assert (result.records, result.next_offset, result.lag) == (200_000, 200_000, 0)
    assert result.quarantined == sum(count for value, count in sent.items() if not _is_entry(value)) > 1000
    assert sum(result.quarantine_reasons.values()) == result.quarantined
    split = split_point(0, 200_000)
    assert 100_000 < split < 150_000
    assert any(f"the helper process fetched offsets {split:,}->200,000" in line for line in progress)
    assert landed(hdfs_client, root, unique_name) == sent
    assert consumer.store.read(unique_name, 0).offset == 200_000

    # each process's files are named by its own offset range, so the hour the range was split in
    # holds two files that together cover the batch without overlap
    ranges = sorted({parse_batch_file_name(path.rsplit("/", 1)[1])[2:] for path in result.files})
    assert ranges == [(0, split - 1), (split, 199_999)]
    assert max(Counter(path.rsplit("/", 1)[0] for path in result.files).values()) == 2


def test_a_split_batch_that_reaches_max_bytes_first_ends_there(consumer, kafka_config, hdfs_client, root,
                                                               unique_name):
    create_topic(kafka_config, unique_name, 1)
    sent = produce(kafka_config, unique_name, 100_000, partitions=1, bad_ratio=0.01)
    limits = BatchLimits(max_records=100_000, split_from=10_000, max_bytes=2_000_000)

    first = consumer.run_batch(unique_name, 0, limits)
    # the batch's own part stopped at max_bytes / 2, before the split: the helper's records are left
    # for later batches, and nothing of them lands twice
    assert 0 < first.next_offset < split_point(0, 100_000)
    assert first.bytes >= 1_000_000 and first.records == first.next_offset
    assert drain(consumer, unique_name, 1, limits) >= 1
    assert landed(hdfs_client, root, unique_name) == sent


def _is_entry(value: bytes) -> bool:
    try:
        entry_start_time(value)
    except InvalidEntry:
        return False
    return True


_NUMBER = st.one_of(st.integers(0, 2**70), st.sampled_from([0, 1, 2**31, 2**63 - 1, 999999999999]),
                    # the last second a date can name (9999-12-31T23:59:59Z) and the next
                    st.sampled_from([253402300799, 253402300800]), st.integers(-5, 5)).map(str)
_HOST = st.one_of(st.ip_addresses().map(str), st.sampled_from(["1.2.3.4", " 10.0.0.3 ", "2001:0db8:0000::0001"]),
                  st.text(max_size=12))
# entries and near-entries (any field, any number, StartTimes near now or anywhere), and arbitrary bytes
_RECORD = st.one_of(
    st.tuples(_HOST, _NUMBER, st.one_of(_NUMBER, st.integers(-10**8, 10**8).map(lambda d: str(int(time.time()) + d))),
              _NUMBER).map(lambda fields: ",".join(fields).encode("utf-8", "surrogatepass")),
    st.binary(max_size=80),
    st.binary(min_size=4090, max_size=4100),
)


def kafka_timestamps(kafka_config: dict, topic: str, first: int, count: int) -> list[int]:
    """The Kafka timestamps (ms) of partition 0's records ``first`` .. ``first + count - 1``, as a spout reads them."""
    reader = Consumer({**kafka_config, "group.id": topic, "enable.auto.commit": False})
    reader.assign([TopicPartition(topic, 0, first)])
    stamps: list[int] = []
    try:
        while len(stamps) < count:
            stamps += [message.timestamp()[1] for message in reader.consume(count - len(stamps), timeout=10)
                       if message.error() is None]
    finally:
        reader.close()
    return stamps


def online_decisions(values: list[bytes], stamps: list[int], first: int) -> dict[int, str]:
    """offset -> reason of every record the topology's counter calls bad, fed one record at a time (as
    the bolt does a batch holding a newline), then the same batch whole (its lines path) for the totals."""
    lateness = 2**62  # no record expires: validity alone decides
    decisions = {}
    for offset, (value, stamp) in enumerate(zip(values, stamps), start=first):
        counter = WindowCounter(pane_seconds=60, allowed_lateness_seconds=lateness, watermark=None)
        counter.add_values(first_offset=offset, values=[value], kafka_timestamps_ms=[stamp])
        bad = counter.take().bad_records
        if bad:
            [(_minute, reason)] = bad
            decisions[offset] = reason
    whole = WindowCounter(pane_seconds=60, allowed_lateness_seconds=lateness, watermark=None)
    whole.add_values(first_offset=first, values=values, kafka_timestamps_ms=stamps)
    deltas = whole.take()
    assert Counter(reason for (_minute, reason), n in deltas.bad_records.items() for _ in range(n)) == \
        Counter(decisions.values())
    assert sum(deltas.pane_records.values()) == len(values) - len(decisions)
    return decisions


# each example is a real batch: no shrinking (minutes on a busy machine); the failing example is printed as found
@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_RECORD, min_size=1, max_size=40))
def test_any_bytes_go_through_the_batch_and_land_once(consumer, kafka_config, hdfs_client, root, unique_name, values):
    if hdfs_client.status(f"{root}/_offsets/{unique_name}", strict=False) is None:
        create_topic(kafka_config, unique_name, 1)
        consumer.initialize(unique_name)
    before = landed(hdfs_client, root, unique_name)
    produced = consumer.store.read(unique_name, 0).offset
    producer = Producer(kafka_config)
    for value in values:
        producer.produce(unique_name, value)
    assert producer.flush(10) == 0

    result = consumer.run_batch(unique_name, 0)
    assert result.records == len(values)
    assert consumer.store.read(unique_name, 0).offset == max(produced, 0) + len(values)
    assert landed(hdfs_client, root, unique_name) - before == Counter(values)
    # the topology's code decides each record as the consumer did (the one validity rule)
    first = max(produced, 0)
    offline = {offset: reason for (_partition, offset), reason in quarantine_reasons(hdfs_client, root, unique_name).items()
               if offset >= first}
    assert online_decisions(values, kafka_timestamps(kafka_config, unique_name, first, len(values)), first) == offline
    # every landed entry is in the folder of its own StartTime's hour
    entries = f"{root}/{unique_name}"
    for folder, _, files in hdfs_client.walk(entries) if hdfs_client.status(entries, strict=False) else ():
        for name in files:
            with hdfs_client.read(f"{folder}/{name}") as reader:
                for line in reader.read().splitlines():
                    start = datetime.fromtimestamp(int(line.split(b",")[2]), tz=timezone.utc)
                    assert folder.endswith(start.strftime("/dt=%Y-%m-%d/hour=%H"))


def test_hive_reads_every_landed_entry_as_the_consumer_does(consumer, kafka_config, hdfs_client, root, unique_name):
    from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook

    create_topic(kafka_config, unique_name, 1)
    start = int(time.time()) // 3600 * 3600 - 3600
    edge_cases = {
        # landed: Hive must read each exactly as written
        b"2001:db8::1,1,%d,60": ("2001:db8::1", 1, 60),
        b"10.0.0.3,9223372036854775807,%d,2147483647": ("10.0.0.3", 2**63 - 1, 2**31 - 1),
        b"10.0.0.4,0,%d,0000300": ("10.0.0.4", 0, 300),
        b"fe80::abcd,7,%d,1": ("fe80::abcd", 7, 1),
        b"255.255.255.255,007,%d,5": ("255.255.255.255", 7, 5),
        # quarantined: Hive would read these differently (NULL ids, a padded host, an INT overflow,
        # a second spelling of a host)
        b" 10.0.0.3 ,1,%d,60": "padded_field",
        b"10.0.0.3, 1,%d,60": "padded_field",
        b"10.0.0.3,1,%d,2147483648": "bad_interval",
        b"2001:0db8:0000::0001,1,%d,60": "non_canonical_host",
        b"2001:DB8::1,1,%d,60": "non_canonical_host",
    }
    values = [template % (start + i * 60) for i, template in enumerate(edge_cases)]
    producer = Producer(kafka_config)
    for value in values:
        producer.produce(unique_name, value)
    assert producer.flush(10) == 0

    result = consumer.run_batch(unique_name, 0)
    expected_reasons = Counter(v for v in edge_cases.values() if isinstance(v, str))
    assert result.quarantine_reasons == dict(expected_reasons)
    expected_rows = sorted((host, config_id, start + i * 60, interval)
                           for i, value in enumerate(edge_cases.values()) if not isinstance(value, str)
                           for host, config_id, interval in [value])

    hive = HiveServer2Hook()
    database = unique_name
    hive.run(render("create_tables.hql", params={"database": database, "hdfs_root": root}), split_statements=True)
    try:
        for folder, _, files in hdfs_client.walk(f"{root}/{unique_name}"):
            if files:
                dt, hour = (part.split("=")[1] for part in folder.rsplit("/", 2)[1:])
                hive.run(f"ALTER TABLE {database}.logs ADD IF NOT EXISTS PARTITION (topic = '{unique_name}', "
                         f"dt = '{dt}', hour = '{hour}') LOCATION '{folder}'")
        rows = hive.get_records(f"SELECT host, config_id, start_time, `interval` FROM {database}.logs")
        assert sorted(tuple(row) for row in rows) == expected_rows
    finally:
        hive.run(f"DROP DATABASE IF EXISTS {database} CASCADE")


def test_a_cancelled_batch_stands_down_and_the_next_lands_everything_once(consumer, kafka_config, hdfs_client, root,
                                                                         unique_name):
    create_topic(kafka_config, unique_name, 1)
    sent = produce(kafka_config, unique_name, 150_000, partitions=1, bad_ratio=0.01)
    consumer.initialize(unique_name)
    outcome: list[BaseException] = []

    def batch() -> None:
        try:
            consumer.run_batch(unique_name, 0, BatchLimits(split_from=10**9))
        except LeaseLost as lost:
            outcome.append(lost)

    running = threading.Thread(target=batch)
    running.start()
    # what Airflow's on_kill does, once the batch has begun staging
    deadline = time.monotonic() + 120
    while hdfs_client.status(f"{root}/_inflight/{unique_name}/0", strict=False) is None:
        assert time.monotonic() < deadline and running.is_alive()
        time.sleep(0.05)
    consumer.cancel()
    running.join(120)
    assert len(outcome) == 1 and "standing down before" in str(outcome[0])
    assert consumer.store.read(unique_name, 0).offset == -1

    drain(consumer, unique_name, 1)
    assert landed(hdfs_client, root, unique_name) == sent
