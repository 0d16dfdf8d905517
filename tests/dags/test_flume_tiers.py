"""The flume_tiers DAGs on the stack's agents: the scheduled health check fails naming a killed agent
(in the task and its alert e-mail); the deploy DAG starts it again and its check passes."""

from __future__ import annotations

import mailbox
import time

from dag_runs import DAGS, run_dag


def _alert_bodies(maildir, keys) -> list[str]:
    bodies = []
    for key in keys:
        alert = maildir[key]
        bodies.append(alert.get_payload(0).get_payload(decode=True).decode() if alert.is_multipart()
                      else alert.get_payload())
    return bodies


def test_health_check_names_a_killed_agent_and_deploy_brings_it_back(stack, monkeypatch):
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "oncall@example.org")
    tiers = stack.service("flume").tiers
    victim = tiers.pipeline.flume.l2_agents[-1]
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    before = set(maildir.keys())
    tiers.kill(victim)
    try:
        failed = run_dag(DAGS / "flume_tiers.py", "flume_tiers_health")
        assert failed.state == "failed"
        assert failed.get_task_instance("health_check").state == "failed"
        deadline = time.monotonic() + 60
        while not (new := set(maildir.keys()) - before) and time.monotonic() < deadline:
            time.sleep(0.5)
        bodies = _alert_bodies(maildir, new)
        assert any(f"{victim}: down: agent {victim}: no metrics from" in body for body in bodies), bodies
        assert not any(f"{agent.name}: down" in body for body in bodies for agent in tiers.agents
                       if agent.name != victim)

        deployed = run_dag(DAGS / "flume_tiers.py", "flume_tiers")
        assert deployed.state == "success"
        outcome = deployed.get_task_instance("deploy_agents").xcom_pull(task_ids="deploy_agents")
        assert outcome["started"] == [victim]
        assert tiers.answers(victim)
    finally:
        if not tiers.process(victim).is_running():
            tiers.start(victim)
            tiers.wait_answering([victim])
