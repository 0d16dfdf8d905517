"""The Nimbus connection's extras: who keeps the daemons, how many Supervisors must be registered."""

from __future__ import annotations

import json

import pytest

from hooks.storm_nimbus import StormNimbusHook


def use_connection(monkeypatch, **extra) -> StormNimbusHook:
    monkeypatch.setenv("AIRFLOW_CONN_STORM_CHECKED", json.dumps(
        {"conn_type": "storm", "host": "10.0.0.7", "port": 6627, "extra": extra}))
    return StormNimbusHook(storm_conn_id="storm_checked")


def test_daemons_kept_by_their_hosts_are_never_the_tasks_to_start(monkeypatch):
    assert use_connection(monkeypatch).local_daemons() is None
    assert use_connection(monkeypatch, supervisor="hosts").local_daemons() is None


def test_daemons_kept_by_airflow_are_the_local_stacks_under_its_home(monkeypatch, tmp_path):
    storm = use_connection(monkeypatch, supervisor="airflow", home=str(tmp_path)).local_daemons()
    assert storm.config.home == tmp_path and storm.config.host == "10.0.0.7"
    assert [process.pid_file.parent for process in storm.processes] == [tmp_path / "run"] * 2


@pytest.mark.parametrize(("extra", "message"), [
    ({"supervisor": "systemd"}, "supervisor must be one of \\['airflow', 'hosts'\\], not 'systemd'"),
    ({"supervisor": "airflow"}, "supervisor airflow needs extra 'home'"),
])
def test_a_wrong_keeper_is_a_clear_error(monkeypatch, extra, message):
    with pytest.raises(ValueError, match=message):
        use_connection(monkeypatch, **extra).local_daemons()


def test_the_supervisors_expected_come_from_the_connection(monkeypatch):
    assert use_connection(monkeypatch).expected_supervisors() == 1
    assert use_connection(monkeypatch, supervisors=2).expected_supervisors() == 2
