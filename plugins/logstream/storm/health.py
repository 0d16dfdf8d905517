"""What is wrong with a running topology, in words: the health check's judgement without Airflow."""

from __future__ import annotations

from dataclasses import dataclass

from logstream.storm.nimbus import TopologyHealth


@dataclass(frozen=True)
class HealthReport:
    problems: list[str]
    lag: dict[int, int]  # partition -> records in Kafka not yet counted

    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())


def partition_lag(end_offsets: dict[int, int], stored_offsets: dict[int, int],
                  start_offsets: dict[int, int]) -> dict[int, int]:
    """Records each partition has in Kafka past the stored offset (from the log's start if none stored)."""
    return {partition: max(end - stored_offsets.get(partition, start_offsets.get(partition, 0)), 0)
            for partition, end in sorted(end_offsets.items())}


@dataclass(frozen=True)
class Progress:
    """A partition's flushes committed in the health check's window, and how long its oldest record
    not counted yet has waited in Kafka (by its Kafka timestamp; None: none waits)."""

    records: int = 0
    expired: int = 0
    oldest_waiting_seconds: float | None = None


def judge(*, name: str, health: TopologyHealth | None, expected_workers: int, lag: dict[int, int],
          max_lag_records: int, retention_losses: list[tuple[int, int, int]] = (),
          progress: dict[int, Progress] | None = None, window_minutes: float = 10,
          max_expired_share: float = 0.5, stalled_minutes: float = 10) -> HealthReport:
    """The problems of topology ``name``: not running, not active, workers missing, lagging, records
    lost to Kafka's retention (``retention_losses``: recent (partition, from, to) skips), and, from
    ``progress``: statistics frozen (more than ``max_expired_share`` of the window's records expired)
    or stalled (its oldest uncounted record waiting for more than ``stalled_minutes``)."""
    problems = []
    if health is None:
        problems.append(f"topology {name} is not running on Nimbus")
    else:
        if health.status != "ACTIVE":
            problems.append(f"topology {name} is {health.status}, not ACTIVE")
        if health.workers < expected_workers:
            problems.append(f"topology {name} has {health.workers} of its {expected_workers} workers up")
    lagging = {partition: records for partition, records in lag.items() if records > max_lag_records}
    if lagging:
        detail = ", ".join(f"partition {p}: {records:,}" for p, records in lagging.items())
        problems.append(f"topology {name} lags more than {max_lag_records:,} records behind Kafka ({detail})")
    progress = progress or {}
    records = sum(p.records for p in progress.values())
    expired = sum(p.expired for p in progress.values())
    if records and expired / records > max_expired_share:
        detail = ", ".join(f"partition {partition}: {p.expired:,} of {p.records:,}"
                           for partition, p in sorted(progress.items()) if p.records)
        problems.append(f"topology {name}: the statistics look frozen: {expired / records:.0%} of the {records:,} "
                        f"records counted in the last {window_minutes:g} minutes arrived expired (after their "
                        f"pane's allowed lateness; more than {max_expired_share:.0%}): {detail}")
    for partition, waiting in sorted(lag.items()):
        waited = progress.get(partition, Progress()).oldest_waiting_seconds
        if waiting and waited is not None and waited > stalled_minutes * 60:
            problems.append(f"topology {name}: partition {partition} is stalled: its oldest record not counted has "
                            f"waited {waited / 60:.0f} minutes in Kafka ({waiting:,} records wait)")
    for partition, first, end in retention_losses:
        problems.append(f"topology {name} lost {end - first:,} records of partition {partition} (offsets "
                        f"[{first}, {end})) to Kafka's retention before counting them")
    return HealthReport(problems, lag)
