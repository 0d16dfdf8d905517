"""The gap finder's task: host file bytes no consumer took, reported and refilled from the hosts."""

from __future__ import annotations

import time
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from hooks.flume_metrics import FlumeMetricsHook
from hooks.webhdfs import BoundedWebHDFSHook
from logstream.flume.gap_refill import find_and_refill
from logstream.pipeline_config import load_pipeline_config


class LineGapsError(AirflowException):
    """Lines of a host file were missing (and refilled), lost, or could not be refilled."""


class RefillLineGapsOperator(BaseOperator):
    """Compare ``topic``'s host files with the byte ranges the HadoopConsumer took
    (``logstream.flume.gap_refill``): a part still not taken ``gap_delay_minutes`` after it was first
    seen is a gap, re-read from its host file and sent through the host's L1 agent with its line ids.
    Fails naming each gap refilled, each range lost (its file rotated away or truncated: reported
    once) and each refill that failed, so an incident opens once and closes when no gap is left.

    :param topic: the business topic whose hosts are looked at
    :param flume_conn_id: the Flume agents' connection (the hosts' log dirs, the L1s' refill ports)
    :param webhdfs_conn_id: the WebHDFS connection (``offset.dat``, the gap finder's state)
    """

    ui_color = "#f3e9d2"

    def __init__(self, *, topic: str, flume_conn_id: str = FlumeMetricsHook.default_conn_name,
                 webhdfs_conn_id: str = BoundedWebHDFSHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.flume_conn_id = flume_conn_id
        self.webhdfs_conn_id = webhdfs_conn_id

    def execute(self, context: Any) -> str:
        pipeline = load_pipeline_config()
        tiers = FlumeMetricsHook(flume_conn_id=self.flume_conn_id).tiers(pipeline)
        client = BoundedWebHDFSHook(webhdfs_conn_id=self.webhdfs_conn_id).get_conn()
        outcome = find_and_refill(client, pipeline, tiers.placement, tiers.agents, topic=self.topic, now=time.time(),
                                  progress=self.log.info)
        self.log.info("%s: %s", self.topic, outcome.summary())
        problems = ([f"refilled (lines were missing): {gap}" for gap in outcome.refilled]
                    + [f"lost, cannot be refilled: {gap}" for gap in outcome.report.lost]
                    + [f"refill failed: {failure}" for failure in outcome.failures])
        if problems:
            raise LineGapsError(f"{self.topic}: {len(problems)} gap problem(s):\n" + "\n".join(problems))
        return outcome.summary()
