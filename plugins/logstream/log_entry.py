"""The security platform's log entry: ``<IP address of the host>,<Configuration ID>,<StartTime>,<Interval>``.

Example from the paper: ``192.168.11.34,1019491,157892,300``.

Interpretation (one, documented, used everywhere in logstream):
- host: an IPv4 or IPv6 address, as written;
- config_id: a non-negative integer;
- start_time: when the measured period started, in **Unix epoch seconds, UTC** (the paper's sample
  157892 is 1970-01-02T19:51:32Z under this reading: valid, merely old);
- interval: the period's length in seconds, a positive integer.

A line that does not match this is not "fixed": it is refused with a reason, and the caller
quarantines it with the raw bytes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone

MAX_ENTRY_BYTES = 4096
MAX_INT64 = 2**63 - 1


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


def _integer(field: str, text: str, *, minimum: int) -> int:
    if not text.isascii() or not text.isdigit():
        raise InvalidEntry(f"bad_{field}", f"{field} {text[:40]!r} is not a non-negative integer")
    value = int(text)
    if value < minimum or value > MAX_INT64:
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
    if any(char in text for char in "\r\n\t\x00"):
        raise InvalidEntry("control_characters", "an entry is one line with no tabs or control characters")
    fields = text.split(",")
    if len(fields) != 4:
        raise InvalidEntry("field_count", f"{len(fields)} fields, an entry has 4")
    host, config_id, start_time, interval = (field.strip() for field in fields)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise InvalidEntry("bad_host", f"{host[:60]!r} is not an IP address") from None
    return LogEntry(
        host=host,
        config_id=_integer("config_id", config_id, minimum=0),
        start_time=_integer("start_time", start_time, minimum=0),
        interval=_integer("interval", interval, minimum=1),
    )
