"""The consumer-lag threshold on the consume tasks' results."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from operators.consumer_lag import CheckConsumerLagOperator


def batch(partition: int, lag: int) -> dict:
    return {"partition": partition, "start_offset": 0, "next_offset": 10, "records": 10, "quarantined": 0, "lag": lag, "files": []}


def test_partitions_within_the_threshold_pass_and_their_lags_are_returned():
    check = CheckConsumerLagOperator(task_id="lag", topic="t", batches=[batch(0, 0), batch(1, 1000), None], max_lag_records=1000)
    assert check.execute({}) == {0: 0, 1: 1000}  # a skipped partition (None: another run held its lease) is left out


def test_a_partition_beyond_the_threshold_fails_the_task_naming_it():
    check = CheckConsumerLagOperator(task_id="lag", topic="t", batches=[batch(0, 5), batch(1, 1001)], max_lag_records=1000)
    with pytest.raises(AirflowFailException, match=r"t: partitions \[1\] are 1,001 records behind Kafka after this run \(threshold 1,000\)"):
        check.execute({})
