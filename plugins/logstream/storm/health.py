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


def judge(*, name: str, health: TopologyHealth | None, expected_workers: int, lag: dict[int, int],
          max_lag_records: int, retention_losses: list[tuple[int, int, int]] = ()) -> HealthReport:
    """The problems of topology ``name``: not running, not active, workers missing, lagging, records
    lost to Kafka's retention (``retention_losses``: recent (partition, from, to) skips)."""
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
    for partition, first, end in retention_losses:
        problems.append(f"topology {name} lost {end - first:,} records of partition {partition} (offsets "
                        f"[{first}, {end})) to Kafka's retention before counting them")
    return HealthReport(problems, lag)
