"""The one-hour fast path: a fetched chunk of plain entries checked and filed whole, at C speed.

Everything here maps C functions over the chunk (no Python frame per message): this is what lets
the consumer keep up with Kafka's own. Whatever this path is unsure of goes back to the caller,
which files it record by record (``range_fetch.py``); both agree on what is valid.
"""

from __future__ import annotations

import bisect
import operator
from dataclasses import dataclass
from itertools import compress, repeat

from confluent_kafka import Message

from logstream.log_entry import RECORD_SEPARATOR, StartTimeBounds, plain_entry_start_times


@dataclass(frozen=True)
class PlainChunk:
    """Entries of one hour from one fetched chunk, joined as the lines of a file."""

    hour_number: int
    first_offset: int
    last_offset: int
    lines: bytes
    records: int
    bytes: int
    newest_start_time: int
    newest_timestamp_ms: int  # the chunk's latest Kafka timestamp (a watermark stays below it plus a lead)
    # the offsets of its first and last entries: the entries are the plain ones between them
    first_entry_offset: int = -1
    last_entry_offset: int = -1


def _separated(values: list[bytes]) -> bytes:
    """``values`` each ended by RECORD_SEPARATOR, as plain_entry_start_times reads them."""
    values.append(b"")  # one join, no copy of the result: the empty last value ends the last record
    try:
        return RECORD_SEPARATOR.join(values)
    finally:
        values.pop()


def _plausible_for_all(stamps: list[int], oldest: int, newest: int, *, max_age: int, max_lead: int) -> bool:
    """Whether every StartTime in [oldest, newest] is plausible (:func:`valid_start_time`'s rule) for
    every message's Kafka timestamp: stricter than record by record, and cheap."""
    window = StartTimeBounds(max_age, max_lead).window_for_all(stamps)
    # None: a record without a usable timestamp, which the record-by-record path decides
    return window is not None and window[0] <= oldest and newest <= window[1]


def split_chunk(messages: list, end: int, *, max_age: int, max_lead: int) -> tuple[list[PlainChunk], list]:
    """When a chunk's plain entries are in time order and plausible (the common case), they come
    back joined, one chunk per hour, and the other messages (anything that is not a plain IPv4
    entry) come back to be handled one by one; otherwise every message comes back."""
    if messages[-1].offset() >= end or any(map(Message.error, messages)):
        return [], messages
    values = list(map(Message.value, messages))
    try:
        records = _separated(values)
    except TypeError:  # a record without a value
        return [], messages
    kept, others = messages, []
    if records.count(RECORD_SEPARATOR) != len(values):  # records holding the separator: one by one
        plain = list(map(operator.not_, map(bytes.count, values, repeat(RECORD_SEPARATOR))))
        others = list(compress(messages, map(operator.not_, plain)))
        kept = list(compress(messages, plain))
        values = list(compress(values, plain))
        records = _separated(values)
    start_times = plain_entry_start_times(records)
    if not values or len(start_times) != len(values):
        return [], messages
    if b"" in start_times:
        others += compress(kept, map(operator.not_, start_times))
        values = list(compress(values, start_times))
        kept = list(compress(kept, start_times))
        start_times = list(filter(None, start_times))
        if not values:
            return [], messages
    first_offset, last_offset = messages[0].offset(), messages[-1].offset()
    # StartTimes of one length compare as numbers: a chunk within one hour needs no int per entry
    numbers = None if len(set(map(len, start_times))) == 1 else list(map(int, start_times))
    oldest, newest = (int(min(start_times)), int(max(start_times))) if numbers is None else (min(numbers), max(numbers))
    stamps = list(map(operator.itemgetter(1), map(Message.timestamp, messages)))
    if not _plausible_for_all(stamps, oldest, newest, max_age=max_age, max_lead=max_lead):
        return [], messages
    newest_stamp = max(stamps)
    if numbers is None:
        if oldest // 3600 == newest // 3600:
            lines = b"\n".join(values)
            return [PlainChunk(oldest // 3600, first_offset, last_offset, lines, len(values),
                               len(lines) - len(values) + 1, newest, newest_stamp, kept[0].offset(),
                               kept[-1].offset())], others
        numbers = list(map(int, start_times))
    hours = list(map(operator.floordiv, numbers, repeat(3600)))
    if hours != sorted(hours):  # entries out of time order: file them one by one
        return [], messages
    chunks = []
    for hour in sorted(set(hours)):
        low, high = bisect.bisect_left(hours, hour), bisect.bisect_right(hours, hour)
        lines = b"\n".join(values[low:high])
        chunks.append(PlainChunk(hour, first_offset, last_offset, lines, high - low, len(lines) - (high - low) + 1,
                                 max(numbers[low:high]), newest_stamp, kept[low].offset(), kept[high - 1].offset()))
    return chunks, others
