"""The flume_tiers DAGs on the stack's agents: the scheduled health check starts a killed agent again
and fails naming it (in the task and its incident e-mail); the deploy DAG then has nothing to start,
its check passes, and the scheduled check's next run sends the incident's recovery e-mail."""

from __future__ import annotations

import mailbox

from confluent_kafka import Consumer, TopicPartition

from airflow.models.variable import Variable
from dag_runs import DAGS, run_dag
from mail_messages import body_of, new_messages

from logstream.incidents import incident_variable


def _end_offsets(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "hops_check"})
    try:
        partitions = consumer.list_topics(topic, timeout=15).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1] for p in partitions)
    finally:
        consumer.close()


INCIDENT = "flume_tiers_health.health_check"


def test_health_check_brings_a_killed_agent_back_and_names_it_once(stack, monkeypatch):
    monkeypatch.setenv("AIRFLOW__LOGSTREAM__ALERT_EMAILS", "oncall@example.org")
    tiers = stack.service("flume").tiers
    victim = tiers.pipeline.flume.l2_agents[-1]
    maildir = mailbox.Maildir(stack.service("mail").maildir, create=True)
    Variable.delete(incident_variable(INCIDENT))  # no incident open from an earlier session
    before = set(maildir.keys())
    tiers.kill(victim)
    try:
        failed = run_dag(DAGS / "flume_tiers.py", "flume_tiers_health")
        assert failed.state == "failed"
        assert failed.get_task_instance("health_check").state == "failed"
        opened = new_messages(maildir, before, timeout=60, where=lambda m: INCIDENT in m["Subject"])
        bodies = [body_of(m) for m in opened]
        assert any(f"agent '{victim}' was down: started again, serving metrics after" in body for body in bodies), bodies
        assert not any(f"agent '{agent.name}' was down" in body for body in bodies for agent in tiers.agents
                       if agent.name != victim)
        assert tiers.answers(victim)

        deployed = run_dag(DAGS / "flume_tiers.py", "flume_tiers")
        assert deployed.state == "success"
        outcome = deployed.get_task_instance("deploy_agents").xcom_pull(task_ids="deploy_agents")
        assert outcome["started"] == []  # the health check brought it back
        hops = deployed.get_task_instance("health_check").xcom_pull(task_ids="health_check")
        assert [line.split(":")[0] for line in hops] == (
            [f"L1 {a.name} ({a.topic})" for a in tiers.agents if a.tier == "l1"]
            + [f"L2 {a.name}" for a in tiers.agents if a.tier == "l2"]
            + [f"topic {topic}" for topic in sorted({a.topic for a in tiers.agents if a.tier == "l1"})])
        topic = tiers.pipeline.flume.hosts[0].topic
        in_files = sum(path.read_bytes().count(b"\n") for a in tiers.agents if a.tier == "l1"
                       for path in a.log_dir.glob("*.log"))
        assert f"topic {topic}: lines in host files {in_files} -> " in next(l for l in hops if l.startswith("topic"))
        assert hops[-1].endswith(f"Kafka end offsets {_end_offsets(stack.config.kafka_bootstrap, topic)}")

        # the 5-minute check passes again: the incident's one recovery e-mail (it failed once: one alert)
        before_recovery = set(maildir.keys())
        assert run_dag(DAGS / "flume_tiers.py", "flume_tiers_health").state == "success"
        subjects = [m["Subject"] for m in new_messages(maildir, before_recovery,
                                                       where=lambda m: INCIDENT in m["Subject"])]
        assert len(subjects) == 1 and subjects[0].startswith(f"[logstream] recovered: {INCIDENT} ("), subjects
        assert [m["Subject"].split(":")[0] for m in opened] == ["[logstream] incident"]
    finally:
        if not tiers.process(victim).is_running():
            tiers.start(victim)
            tiers.wait_answering([victim])
