"""The main job on the cluster (``python -m logstream demo --cluster``): generated entries written into
the front-end hosts' files travel the Flume tiers on their hosts into the cluster's Kafka; the cluster's
Airflow lands them in HDFS, deploys the topology onto the Supervisor hosts, reports the complete hours
in Hive and reconciles them. Each host-hour the demo reconciles holds as many lines in the host files,
in Kafka, in HDFS, in Hive and in the online counts, and the reconcile DAG finds each reconciled hour equal online and offline
(though the topic has a partition no front-end host fills)."""

from __future__ import annotations

import re

from online_stats import wait_for

from logstream.demo import run
from logstream.pipeline_config import load_pipeline_config
from logstream.cluster.airflow import airflow_users
from logstream.stack.airflow_api import SCHEDULED_DAGS, AirflowApi


def test_the_demo_runs_the_whole_pipeline_on_the_clusters_hosts(cluster):
    said: list[str] = []
    pipeline = load_pipeline_config()
    try:
        # printed as well: pytest shows what the demo said when the run raises
        exit_code = run(20_000, report=lambda line: (said.append(line), print(line)), on_cluster=True,
                        hours_of_logs=2)
    finally:
        # the pipeline's schedules and topologies stay for an operator; the later tests want a quiet cluster
        airflow = AirflowApi(cluster.airflow_url, username="operator", password=airflow_users(cluster)["operator"])
        for dag_id in SCHEDULED_DAGS:
            airflow.pause(dag_id)
        nimbus = cluster.nimbus.nimbus()
        for topic in pipeline.topics:
            name = f"security_stats_{topic.name}"
            if nimbus.topology_id(name) is not None:
                nimbus.kill(name, wait_secs=0)
                wait_for(lambda name=name: nimbus.topology_id(name) is None, 120, f"topology {name} gone")
    text = "\n".join(said)
    assert exit_code == 0, text[-5000:]
    for topic in pipeline.topics:
        fed = re.search(rf"all ([0-9,]+) lines of {topic.name} went through Flume into Kafka", text)
        assert fed and int(fed[1].replace(",", "")) >= 20_000, text[-5000:]
        accounting = re.search(rf"hop-by-hop accounting of {topic.name}, (\d+) host-hours: (\d+) the same", text)
        assert accounting, text[-5000:]
        assert int(accounting[1]) >= 1 and accounting[1] == accounting[2], text[-5000:]
    # every hour the demo reconciled (the reconcile DAG's runs, each waiting until its hour is final
    # on both sides) has the same counts online and offline, or differs by the expired records only
    verdicts = re.findall(r"^  \d{4}-\d\d-\d\d \d\d:00 UTC  (\w+) ", text, re.MULTILINE)
    assert verdicts and set(verdicts) <= {"equal", "explained"}, text[-5000:]
