"""The incident list the live page shows, from the notifier's Variables (written here by hand)."""

from __future__ import annotations

import json

from logstream.incidents import RECENT_VARIABLE, incident_variable, incidents_view


def test_open_incidents_oldest_first_and_the_last_closed_newest_first_each_with_its_dag():
    variables = {
        incident_variable("hadoop_consumer.consume_security_logs.partition_2"): json.dumps(
            {"incident": "hadoop_consumer.consume_security_logs.partition_2", "opened": "2026-12-05T10:00:00+00:00",
             "run_id": "scheduled__1", "error": "HDFS is in safe mode\nTraceback ..."}),
        # written before the record carried its name: the name comes from the Variable's key
        incident_variable("flume_tiers_health.health_check"): json.dumps(
            {"opened": "2026-12-05T09:00:00+00:00", "run_id": "scheduled__0", "error": "agent collector1: down"}),
        incident_variable("exactly_once_check.check_security_logs"): "not json",
        RECENT_VARIABLE: json.dumps([{"incident": f"reconcile.topic_{i}.reconcile", "opened": f"2026-12-0{i}T01:00:00",
                                      "closed": f"2026-12-0{i}T02:00:00", "error": "drift"} for i in range(1, 13)]),
        "logstream_probe_outcome": "fail",  # not an incident
    }

    view = incidents_view(variables, recent_shown=3)

    assert [(i["incident"], i["dag_id"], i["error"]) for i in view["open"]] == [
        ("exactly_once_check.check_security_logs", "exactly_once_check",
         "unreadable incident record (Expecting value: line 1 column 1 (char 0))"),
        ("flume_tiers_health.health_check", "flume_tiers_health", "agent collector1: down"),
        ("hadoop_consumer.consume_security_logs.partition_2", "hadoop_consumer", "HDFS is in safe mode"),
    ]
    assert [(i["incident"], i["dag_id"]) for i in view["recent"]] == [
        ("reconcile.topic_1.reconcile", "reconcile"), ("reconcile.topic_2.reconcile", "reconcile"),
        ("reconcile.topic_3.reconcile", "reconcile")]
    assert incidents_view({}) == {"open": [], "recent": []}
