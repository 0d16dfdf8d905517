"""Waiting until a Storm topology runs, deferred to the triggerer (no worker slot is held)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.exceptions import AirflowException
from airflow.sdk import BaseSensorOperator

from hooks.storm_nimbus import StormNimbusHook
from triggers.storm_topology import StormTopologyRunningTrigger


class StormTopologyRunningSensor(BaseSensorOperator):
    """Succeeds once topology ``name`` is ACTIVE on Nimbus with ``workers`` workers up; returns its id.

    :param name: the topology's name (templated).
    :param workers: how many workers it must have up.
    :param wait_timeout: seconds to wait at most.
    :param storm_conn_id: the Nimbus connection.
    """

    template_fields: Sequence[str] = ("name",)

    def __init__(self, *, name: str, workers: int = 1, wait_timeout: float = 300.0,
                 storm_conn_id: str = StormNimbusHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.workers = workers
        self.wait_timeout = wait_timeout
        self.storm_conn_id = storm_conn_id

    def execute(self, context: Any) -> None:
        nimbus = StormNimbusHook(storm_conn_id=self.storm_conn_id).get_conn()
        self.defer(
            trigger=StormTopologyRunningTrigger(name=self.name, host=nimbus.host, port=nimbus.port,
                                                workers=self.workers, timeout=self.wait_timeout),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> str:
        if event["status"] != "running":
            raise AirflowException(f"topology {event['name']} is not running after {self.wait_timeout:.0f}s: "
                                   f"{event['detail']}")
        self.log.info("topology %s (%s) runs: %s", event["name"], event["id"], event["detail"])
        return event["id"]
