"""The split-fetch helper process on its own: what it streams back, and how it fails."""

from __future__ import annotations

import os
import re

import pytest
from produced_and_landed import create_topic, produce

from logstream.hadoop_consumer.split_fetch import SplitFetchFailed, UpperRange, UpperRangeFetch


def test_the_helper_streams_hour_files_and_counts_of_its_range(kafka_config, root, unique_name):
    create_topic(kafka_config, unique_name, 1)
    sent = produce(kafka_config, unique_name, 30_000, partitions=1, bad_ratio=0.02)
    files: dict[str, bytes] = {}
    fetch = UpperRangeFetch(UpperRange(kafka_config, root, unique_name, 0, 10_000, 30_000, 2**30, 30.0, -1,
                                       os.getpid()),
                            on_file=files.__setitem__, progress=print)
    fetched = fetch.result()

    assert (fetched.first, fetched.last, fetched.next_offset, fetched.records) == (10_000, 29_999, 30_000, 20_000)
    assert sorted(files) == sorted(fetched.files)
    assert sum(fetched.quarantine_reasons.values()) == fetched.quarantined > 0
    entries = [line for name, data in files.items() if name.endswith(".log") for line in data.split(b"\n")[:-1]]
    assert len(entries) == fetched.records - fetched.quarantined
    assert set(entries) <= set(sent)
    assert {folder for folder, _, _ in fetched.files.values()} == {f"{root}/{unique_name}",
                                                                   f"{root}/_quarantine/{unique_name}"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", dt) and re.fullmatch(r"\d\d", hour)
               for _, dt, hour in fetched.files.values())


def test_a_helper_that_cannot_fetch_fails_with_its_reason(unique_name):
    unreachable = UpperRange({"bootstrap.servers": "127.0.0.1:1"}, "/nowhere", unique_name, 0, 100, 200, 2**20, 3.0,
                             -1, os.getpid())
    fetch = UpperRangeFetch(unreachable, on_file=lambda name, data: None, progress=print)
    with pytest.raises(SplitFetchFailed, match=r"offsets 100->200 failed \(exit 1\): KafkaUnavailable"):
        fetch.result()


def test_what_the_helper_prints_does_not_corrupt_its_frames(kafka_config, root, unique_name, monkeypatch, tmp_path):
    create_topic(kafka_config, unique_name, 1)
    produce(kafka_config, unique_name, 2000, partitions=1)
    # a library in the helper that prints to stdout: loaded through sitecustomize, as any import would be
    (tmp_path / "sitecustomize.py").write_text("import atexit\nprint('chatty library loaded')\n"
                                               "atexit.register(print, 'chatty library says bye')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    files: dict[str, bytes] = {}
    fetched = UpperRangeFetch(UpperRange(kafka_config, root, unique_name, 0, 500, 2000, 2**30, 30.0, -1, os.getpid()),
                              on_file=files.__setitem__, progress=print).result()
    assert fetched.records == 1500 and sorted(files) == sorted(fetched.files)
