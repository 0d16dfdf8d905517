"""The consumer-lag threshold: a HadoopConsumer run that leaves a partition too far behind Kafka
fails, and (with incident callbacks) tells the operators once, and once more when it caught up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException


class CheckConsumerLagOperator(BaseOperator):
    """Fail when a partition's lag after its batch (Kafka's end offset minus the committed offset)
    is above ``max_lag_records``; ``batches`` is the consume tasks' XCom (one dict per partition).

    :param topic: the Kafka topic
    :param batches: the batch results (templated; usually the mapped consume task's output)
    :param max_lag_records: the most records a partition may be behind after a run
    """

    template_fields: Sequence[str] = ("batches",)

    def __init__(self, *, topic: str, batches: Any, max_lag_records: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.batches = batches
        self.max_lag_records = max_lag_records

    def execute(self, context) -> dict[int, int]:
        lags = {int(batch["partition"]): int(batch["lag"]) for batch in self.batches or [] if batch}
        self.log.info("%s: lag by partition after this run: %s (threshold %d)", self.topic, lags, self.max_lag_records)
        behind = {partition: lag for partition, lag in lags.items() if lag > self.max_lag_records}
        if behind:
            raise AirflowFailException(
                f"{self.topic}: partitions {sorted(behind)} are {', '.join(f'{lag:,}' for lag in behind.values())} "
                f"records behind Kafka after this run (threshold {self.max_lag_records:,}): HDFS and the hourly "
                "reports fall behind; more consumer runs, larger batches or more partitions are needed")
        return lags
