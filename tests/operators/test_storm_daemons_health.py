"""Storm's daemons checked, and the local stack's dead ones started again, by the storm_daemons task."""

from __future__ import annotations

import json
import os
import signal

import pytest
from airflow.exceptions import AirflowException

from operators.storm_topology import StormDaemonsHealthOperator


def test_killed_nimbus_and_supervisor_are_named_down_by_hosts_and_started_again_by_airflow_once(stack, monkeypatch):
    """kill -9 of Nimbus and the Supervisor: where the hosts supervise, the task names Nimbus down and
    starts nothing; where Airflow does (the stack's connection), it starts both, names each with the
    seconds until Nimbus led with the new Supervisor registered, and the next run finds nothing."""
    storm = stack.service("storm")
    killed = {process.name: process.pid() for process in storm.processes}
    assert all(killed.values()), f"the stack's Storm daemons run before the test: {killed}"
    stack_connection = json.loads(os.environ["AIRFLOW_CONN_STORM_DEFAULT"])
    try:
        for pid in killed.values():
            os.kill(pid, signal.SIGKILL)
        for process in storm.processes:
            process.wait_until(lambda p=process: not p.is_running(), timeout=30, what="gone")

        with monkeypatch.context() as hosts:
            hosts.setenv("AIRFLOW_CONN_STORM_DEFAULT",
                         json.dumps({**stack_connection, "extra": {"supervisor": "hosts"}}))
            with pytest.raises(AirflowException, match="Nimbus not answering") as by_hosts:
                StormDaemonsHealthOperator(task_id="storm_daemons").execute({})
        assert "was down" not in str(by_hosts.value)
        assert [process.pid() for process in storm.processes] == [None, None], "nothing started where hosts supervise"

        with pytest.raises(AirflowException) as by_airflow:
            StormDaemonsHealthOperator(task_id="storm_daemons").execute({})
        for name in killed:
            assert f"storm daemon {name!r} was down: started again, Nimbus leading with it after" in str(by_airflow.value)
        assert "Nimbus not answering" not in str(by_airflow.value)
        started = {process.name: process.pid() for process in storm.processes}
        assert all(started.values()) and not set(started.values()) & set(killed.values())
        summary = storm.nimbus().cluster_summary()
        assert [n.isLeader for n in summary.nimbuses] == [True]
        assert len(summary.supervisors) == 1  # the new Supervisor, under the old one's id

        # the next run has nothing to start and finds Storm whole: the incident closes
        assert StormDaemonsHealthOperator(task_id="storm_daemons").execute({})["supervisors"] == 1
    finally:
        storm.start_dead_daemons()  # the session's Storm, whatever failed above
