"""The local stack's connection: whether this machine's Airflow starts a crashed service, and which."""

from __future__ import annotations

import json

import pytest

from hooks.local_stack import LocalStackHook


def use_connection(monkeypatch, **extra) -> LocalStackHook:
    monkeypatch.setenv("AIRFLOW_CONN_STACK_CHECKED", json.dumps({"conn_type": "generic", "extra": extra}))
    return LocalStackHook(stack_conn_id="stack_checked")


def test_services_kept_by_their_hosts_or_with_no_connection_are_never_the_tasks_to_start(monkeypatch):
    assert use_connection(monkeypatch).supervised_service("kafka") is None
    assert use_connection(monkeypatch, supervisor="hosts").supervised_service("kafka") is None
    monkeypatch.delenv("AIRFLOW_CONN_STACK_CHECKED")
    assert LocalStackHook(stack_conn_id="stack_checked").supervised_service("kafka") is None


def test_services_kept_by_airflow_are_the_local_stacks_under_its_home(monkeypatch, tmp_path):
    kafka = use_connection(monkeypatch, supervisor="airflow", home=str(tmp_path)).supervised_service("kafka")
    assert kafka.name == "kafka" and kafka.config.home == tmp_path
    assert kafka.process.pid_file == tmp_path / "run" / "kafka.pid"


@pytest.mark.parametrize(("extra", "message"), [
    ({"supervisor": "systemd"}, "supervisor must be one of \\['airflow', 'hosts'\\], not 'systemd'"),
    ({"supervisor": "airflow"}, "supervisor airflow needs extra 'home'"),
])
def test_a_wrong_keeper_is_a_clear_error(monkeypatch, extra, message):
    with pytest.raises(ValueError, match=message):
        use_connection(monkeypatch, **extra).supervised_service("kafka")
