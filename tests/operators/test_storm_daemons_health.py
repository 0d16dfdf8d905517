"""Storm's daemons checked, and the local stack's crashed ones started again, by the storm_daemons task."""

from __future__ import annotations

import json
import os
import re

import pytest
from airflow.exceptions import AirflowException
from online_stats import wait_for
from stack_processes import kill_9

from operators.storm_topology import StormDaemonsHealthOperator

WHOLE_AFTER = r"started again, Storm whole after \d+s"


def run_check() -> dict:
    return StormDaemonsHealthOperator(task_id="storm_daemons").execute({})


def test_killed_nimbus_and_supervisor_are_named_down_by_hosts_and_started_again_by_airflow_once(stack, monkeypatch):
    """kill -9 of Nimbus and the Supervisor: where the hosts supervise, the task names Nimbus down and
    starts nothing; where Airflow does (the stack's connection), it starts both and names them, and
    the next run finds Storm whole."""
    storm = stack.service("storm")
    killed = {process.name: process.pid() for process in storm.processes}
    assert all(killed.values()), f"the stack's Storm daemons run before the test: {killed}"
    stack_connection = json.loads(os.environ["AIRFLOW_CONN_STORM_DEFAULT"])
    try:
        for process in storm.processes:
            kill_9(process)

        with monkeypatch.context() as hosts:
            hosts.setenv("AIRFLOW_CONN_STORM_DEFAULT",
                         json.dumps({**stack_connection, "extra": {"supervisor": "hosts"}}))
            with pytest.raises(AirflowException, match="^Nimbus not answering: Nimbus at ") as by_hosts:
                run_check()
        assert "down" not in str(by_hosts.value).split(":")[0]
        assert [process.pid() for process in storm.processes] == [None, None], "nothing started where hosts supervise"

        with pytest.raises(AirflowException) as by_airflow:
            run_check()
        assert re.fullmatch(rf"storm daemon\(s\) 'storm-nimbus', 'storm-supervisor' down: {WHOLE_AFTER}",
                            str(by_airflow.value)), str(by_airflow.value)
        started = {process.name: process.pid() for process in storm.processes}
        assert all(started.values()) and not set(started.values()) & set(killed.values())

        # the next run has nothing to start and finds Storm whole: the incident closes
        assert run_check()["supervisors"] == 1
    finally:
        storm.start_crashed()  # the session's Storm, whatever failed above


def test_a_killed_supervisor_is_whole_again_only_once_registered_anew_and_a_stopped_one_stays_stopped(stack):
    """The killed Supervisor's ZooKeeper node outlives it (Nimbus still lists it): the task waits until
    the new one holds that registration with a session of its own. A Supervisor stopped on purpose is
    not started: the task names it missing."""
    storm = stack.service("storm")
    supervisor = storm.supervisor_process
    before = storm.supervisor_sessions()
    assert len(before) == 1
    try:
        kill_9(supervisor)
        with pytest.raises(AirflowException) as repaired:
            run_check()
        assert re.fullmatch(rf"storm daemon\(s\) 'storm-supervisor' down: {WHOLE_AFTER}", str(repaired.value))
        after = storm.supervisor_sessions()
        assert after.keys() == before.keys() and set(after.values()).isdisjoint(before.values())
        assert run_check()["supervisors"] == 1

        supervisor.stop()
        wait_for(lambda: not storm.supervisor_sessions(), 60, "the stopped Supervisor's registration gone")
        with pytest.raises(AirflowException, match=r"^0 Storm supervisor\(s\) registered, 1 expected$"):
            run_check()
        assert not supervisor.is_running()
    finally:
        storm.launch_missing()
        wait_for(lambda: storm.supervisor_sessions() and storm.health().ok, 120, "the session's Supervisor back")
