"""What a batch may do (:class:`BatchLimits`) and what it did (:class:`BatchResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from logstream.line_ids import COPY
from logstream.log_entry import StartTimeBounds


class OffsetOutOfRange(RuntimeError):
    """The committed offset is no longer (or not yet) in Kafka: records would be skipped silently."""


@dataclass(frozen=True)
class BatchLimits:
    max_records: int = 500_000
    max_bytes: int = 256 * 1024 * 1024
    # how long a batch may wait for Kafka without receiving anything before it gives up
    stall_timeout: float = 60.0
    # a batch of at least this many records is fetched by two processes, half each (split_fetch.py)
    split_from: int = 200_000
    # a StartTime further than this before or after the record's Kafka timestamp is implausible:
    # the record is quarantined (reason "implausible_start_time") and does not move the watermark
    start_time_max_age: int = StartTimeBounds.max_age
    start_time_max_lead: int = StartTimeBounds.max_lead
    # a record moves the watermark at most to its Kafka timestamp plus this (seconds): a front-end
    # host whose clock runs ahead cannot announce an hour that is still being written
    watermark_max_lead: int = 300

    @property
    def start_time_bounds(self) -> StartTimeBounds:
        return StartTimeBounds(self.start_time_max_age, self.start_time_max_lead)


@dataclass
class BatchResult:
    topic: str
    partition: int
    start_offset: int
    next_offset: int
    records: int = 0
    bytes: int = 0
    seconds: float = 0.0
    high_watermark: int = 0
    leader: str = ""
    watermark: int = -1
    recovery: str = "clean"
    # replay only: records that were missing from HDFS and were written again, and records missing
    # whose lines files still present hold (copies: not written)
    restored: int = 0
    copies_not_restored: int = 0
    files: list[str] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def add_counts(self, records: int, size: int, quarantine_reasons: dict[str, int], watermark: int,
                   next_offset: int) -> None:
        """Count in a fetched part of the batch: this one's, or the helper's right after it."""
        self.records += records
        self.bytes += size
        for reason, count in quarantine_reasons.items():
            self.quarantine_reasons[reason] = self.quarantine_reasons.get(reason, 0) + count
        self.watermark = max(self.watermark, watermark)
        self.next_offset = next_offset

    @property
    def quarantined(self) -> int:
        return sum(self.quarantine_reasons.values())

    @property
    def copies(self) -> int:
        """Records quarantined because their line id says a copy of the line was taken before."""
        return self.quarantine_reasons.get(COPY, 0)

    @property
    def valid(self) -> int:
        return self.records - self.quarantined

    @property
    def lag(self) -> int:
        return max(self.high_watermark - self.next_offset, 0)

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        megabytes = self.bytes / 1e6
        return (
            f"{self.topic}[{self.partition}] offsets {self.start_offset}->{self.next_offset}: "
            f"{self.records:,} records ({self.valid:,} valid, {self.quarantined:,} quarantined "
            f"{self.quarantine_reasons or ''}), "
            f"{megabytes:.1f} MB in {self.seconds:.1f}s = "
            f"{self.records_per_second:,.0f} rec/s, {megabytes / self.seconds if self.seconds else 0:.1f} MB/s, "
            f"remaining lag {self.lag:,}, leader {self.leader}"
        )
