"""Waiting until a Storm topology runs, deferred to the triggerer (no worker slot is held)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.exceptions import AirflowException
from airflow.sdk import BaseSensorOperator

from hooks.storm_nimbus import StormNimbusHook
from triggers.storm_topology import StormTopologyRunningTrigger, topology_runs


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

    def execute(self, context: Any) -> str | None:
        nimbus = StormNimbusHook(storm_conn_id=self.storm_conn_id).get_conn()
        # Asked here first: a topology already running (a deploy that found the same jar) needs no
        # trigger. A trigger that fires at once meets Airflow's race between the trigger's event and
        # the executor's late report of the deferring try (apache/airflow#67287, #72716, open in
        # 3.3.2), which fails the resumed try; the DAG gives this sensor a retry for the same reason.
        try:
            health = nimbus.health(self.name)
        except OSError:  # Nimbus not answering: the trigger waits it through
            health = None
        runs, detail = topology_runs(health, self.name, self.workers)
        if runs:
            return self.execute_complete(context, {"status": "running", "name": self.name, "id": health.id,
                                                   "detail": detail})
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
