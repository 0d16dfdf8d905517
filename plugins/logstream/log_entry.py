"""The security platform's log entry: ``<IP address of the host>,<Configuration ID>,<StartTime>,<Interval>``.

Example from the paper: ``192.168.11.34,1019491,157892,300``.

Interpretation (one, documented, used everywhere in logstream: the HadoopConsumer, Hive's ``logs``
table that reads the landed lines as they are, and the Storm topology):
- host: an IPv4 or IPv6 address **in its canonical form** (Python's ``ipaddress``: IPv4 without
  leading zeros, IPv6 compressed and lower-case), so one host is one string everywhere;
- config_id: a non-negative integer up to 2^63-1 (Hive's BIGINT);
- start_time: when the measured period started, in **Unix epoch seconds, UTC** (the paper's sample
  157892 is 1970-01-02T19:51:32Z under this reading: a valid entry, merely old). As a *record* it
  must also be plausible: within :class:`StartTimeBounds` of its Kafka timestamp, checked by
  :func:`valid_start_time`, the one rule both consumers (the HadoopConsumer and the Storm topology)
  apply, so they count and quarantine the same records;
- interval: the period's length in seconds, a positive integer up to 2^31-1 (Hive's INT);
- no spaces around fields: Hive does not trim, so a padded field would read differently there.

A line that does not match this is not "fixed" (no trimming, no rewriting of the host): it is
refused with a reason (``padded_field``, ``non_canonical_host``, ``bad_interval``, ...), and the
caller quarantines it with the raw bytes. Whatever lands is therefore read by Hive exactly as
:func:`parse_entry` reads it, row by row.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

MAX_ENTRY_BYTES = 4096
# the last second that a date can name (9999-12-31T23:59:59Z): HDFS's dt folders, Python's datetime
# and the result store's timestamps end there
LAST_START_TIME = 253402300799
IMPLAUSIBLE_START_TIME = "implausible_start_time"
DAY_SECONDS = 86400
# ends every record in the blob that plain_entry_start_times reads (ASCII's record separator)
RECORD_SEPARATOR = b"\x1e"
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")
MAX_INT64 = 2**63 - 1
MAX_INT32 = 2**31 - 1


class InvalidEntry(ValueError):
    """A raw record that is not a log entry; ``reason`` is a short machine-friendly code plus detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class LogEntry:
    host: str
    config_id: int
    start_time: int
    interval: int

    @property
    def event_time(self) -> datetime:
        return datetime.fromtimestamp(self.start_time, tz=timezone.utc)

    def to_line(self) -> str:
        return f"{self.host},{self.config_id},{self.start_time},{self.interval}"


def _integer(field: str, text: str, *, minimum: int, maximum: int = MAX_INT64) -> int:
    if not text.isascii() or not text.isdigit():
        raise InvalidEntry(f"bad_{field}", f"{field} {text[:40]!r} is not a non-negative integer")
    value = int(text)
    if value < minimum or value > maximum:
        raise InvalidEntry(f"bad_{field}", f"{field} {value} is out of range")
    return value


def parse_entry(raw: bytes) -> LogEntry:
    """Parse one raw Kafka record value; raise :class:`InvalidEntry` with the reason if it is not an entry."""
    if raw is None or len(raw) == 0:
        raise InvalidEntry("empty", "the record has no value")
    if len(raw) > MAX_ENTRY_BYTES:
        raise InvalidEntry("oversized", f"{len(raw)} bytes, more than the {MAX_ENTRY_BYTES} an entry may have")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as err:
        raise InvalidEntry("not_text", f"byte {err.start} is not ASCII") from None
    if _CONTROL_CHARACTER.search(text):
        raise InvalidEntry("control_characters", "an entry is one line with no tabs or control characters")
    fields = text.split(",")
    if len(fields) != 4:
        raise InvalidEntry("field_count", f"{len(fields)} fields, an entry has 4")
    if any(field != field.strip() for field in fields):
        raise InvalidEntry("padded_field", "a field has spaces around it, which Hive would keep")
    host, config_id, start_time, interval = fields
    try:
        canonical = str(ipaddress.ip_address(host))
    except ValueError:
        raise InvalidEntry("bad_host", f"{host[:60]!r} is not an IP address") from None
    if canonical != host:
        raise InvalidEntry("non_canonical_host", f"{host[:60]!r} is written {canonical!r} everywhere else")
    return LogEntry(
        host=host,
        config_id=_integer("config_id", config_id, minimum=0),
        start_time=_integer("start_time", start_time, minimum=0),
        interval=_integer("interval", interval, minimum=1, maximum=MAX_INT32),
    )


@dataclass(frozen=True)
class StartTimeBounds:
    """How far an entry's StartTime may lie from its record's Kafka timestamp (seconds): further is
    implausible (a wrong clock or unit on the host, a corrupted field). Such a record is quarantined
    or counted as bad, and never moves a watermark, offline or online.

    :param max_age: how long before the Kafka timestamp a StartTime may be.
    :param max_lead: how long after it.
    """

    max_age: int = 30 * DAY_SECONDS
    max_lead: int = 2 * DAY_SECONDS

    def window(self, kafka_timestamp_ms: int) -> tuple[int, int] | None:
        """The first and last plausible StartTime for a record stamped ``kafka_timestamp_ms``; None for
        a record with no timestamp to judge by (none, or past the last second a date can name)."""
        if not 0 < kafka_timestamp_ms <= LAST_START_TIME * 1000:
            return None
        seconds = kafka_timestamp_ms // 1000
        return seconds - self.max_age, min(seconds + self.max_lead, LAST_START_TIME)

    def window_for_all(self, kafka_timestamps_ms: Sequence[int]) -> tuple[int, int] | None:
        """The StartTimes plausible for every one of these stamps (a batch's span seconds, the bounds
        days); None if one has no usable timestamp. The windows move with the stamp, so the latest
        stamp's start and the earliest one's end bound them all."""
        if not kafka_timestamps_ms:
            return None
        earliest, latest = self.window(min(kafka_timestamps_ms)), self.window(max(kafka_timestamps_ms))
        if earliest is None or latest is None:
            return None
        return latest[0], earliest[1]


def check_start_time(start_time: int, kafka_timestamp_ms: int, bounds: StartTimeBounds) -> None:
    """Raise :class:`InvalidEntry` (``implausible_start_time``) unless ``start_time`` is plausible."""
    window = bounds.window(kafka_timestamp_ms)
    if window is None:
        raise InvalidEntry(IMPLAUSIBLE_START_TIME, f"the record has no usable Kafka timestamp ({kafka_timestamp_ms}) "
                                                   f"to judge its StartTime {start_time} by")
    if not window[0] <= start_time <= window[1]:
        raise InvalidEntry(IMPLAUSIBLE_START_TIME, f"StartTime {start_time} is too far from the record's Kafka "
                                                   f"timestamp {kafka_timestamp_ms // 1000}")


def valid_start_time(raw: bytes, kafka_timestamp_ms: int, bounds: StartTimeBounds) -> int:
    """The one validity rule for a Kafka record: its entry's StartTime if the value is an entry
    (:func:`parse_entry`) and plausible for its Kafka timestamp, else :class:`InvalidEntry` with the reason."""
    start_time = entry_start_time(raw)
    check_start_time(start_time, kafka_timestamp_ms, bounds)
    return start_time


# The common case, an IPv4 entry with no spaces and plain numbers, accepted by one regular expression
# (octets 0-255 without leading zeros, as ipaddress wants them; an Interval from 1 to 999,999,999,
# within Hive's INT; at most 4,063 bytes, within MAX_ENTRY_BYTES). Anything else goes through
# parse_entry, so both always agree on what is valid.
_OCTET = rb"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_PLAIN_IPV4_HOST = rb"%s\.%s\.%s\.%s" % (_OCTET, _OCTET, _OCTET, _OCTET)
_PLAIN_INTERVAL = rb"0{0,4000}[1-9]\d{0,8}"
_PLAIN_IPV4_ENTRY_PATTERN = rb"%s,\d{1,18},(\d{1,18}),%s" % (_PLAIN_IPV4_HOST, _PLAIN_INTERVAL)
_PLAIN_IPV4_ENTRY = re.compile(_PLAIN_IPV4_ENTRY_PATTERN)
# one match per record, each ended by RECORD_SEPARATOR: its StartTime for a plain entry, b"" for anything else
_RECORD_BY_RECORD = re.compile(rb"%s\x1e|[^\x1e]*\x1e" % _PLAIN_IPV4_ENTRY_PATTERN)
# one match per line: (host, Configuration ID, StartTime) of a plain entry, (b"", b"", b"") for anything else
_LINE_BY_LINE_FIELDS = re.compile(rb"(%s),(\d{1,18}),(\d{1,18}),%s\n|[^\n]*\n" % (_PLAIN_IPV4_HOST, _PLAIN_INTERVAL))


def entry_start_time(raw: bytes) -> int:
    """The StartTime of a valid entry, or :class:`InvalidEntry`; the HadoopConsumer's hot path."""
    match = _PLAIN_IPV4_ENTRY.fullmatch(raw)
    if match is not None:
        return int(match.group(1))
    return parse_entry(raw).start_time


def plain_entry_start_times(records: bytes) -> list[bytes]:
    """For each record of ``records``, the StartTime if it is a plain IPv4 entry, else ``b""``.

    ``records`` is records each followed by :data:`RECORD_SEPARATOR` (and holding none of their
    own): the HadoopConsumer checks a whole fetched chunk with one call. A record answered ``b""``
    may still be a valid entry of another form (IPv6, spaces): ask :func:`entry_start_time`.
    """
    return _RECORD_BY_RECORD.findall(records)


def as_lines(values: list[bytes]) -> bytes | None:
    """``values`` each followed by a newline, as :func:`plain_entry_fields` reads them; None if a value
    holds a newline itself (then the lines would not be the values)."""
    lines = b"\n".join(values) + b"\n"
    return lines if lines.count(b"\n") == len(values) else None


def plain_entry_fields(lines: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """For each line of ``lines`` (every one ended by a newline), ``(host, config_id, start_time)`` as
    written if it is a plain IPv4 entry, else ``(b"", b"", b"")``; the Storm topology's hot path.

    A line answered with empty fields may still be a valid entry of another form (IPv6, a
    Configuration ID of 19 digits): ask :func:`parse_entry`. A Configuration ID may have leading
    zeros (``int()`` of it is the one :func:`parse_entry` gives).
    """
    return _LINE_BY_LINE_FIELDS.findall(lines)
