"""The collection tiers (Flume L1 on the front-end hosts, L2 into Kafka): ``flume_tiers`` renders
and deploys the agents (topics first: the broker does not create them), then checks them;
``flume_tiers_health`` checks every agent on a schedule and logs the hop accounting;
``flume_line_gaps`` finds host file lines no consumer took and refills them from the hosts."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from dag_defaults import default_args
from notifiers.incident_alert import incident_callbacks
from logstream.pipeline_config import load_pipeline_config
from operators.flume_agents import DeployFlumeAgentsOperator, FlumeHealthCheckOperator
from operators.kafka_topic import EnsureKafkaTopicOperator
from operators.line_gaps import RefillLineGapsOperator

pipeline = load_pipeline_config()
host_topics = {host.topic for host in pipeline.flume.hosts}

with DAG(
    dag_id="flume_tiers",
    description="Render and deploy the Flume agents; restart those whose configuration changed",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=0),
    tags=["logstream", "collection"],
):
    topics = [EnsureKafkaTopicOperator(task_id=f"kafka_topic_{topic.name}", topic=topic.name, partitions=topic.partitions)
              for topic in pipeline.topics if topic.name in host_topics]
    deploy = DeployFlumeAgentsOperator(task_id="deploy_agents")
    topics >> deploy >> FlumeHealthCheckOperator(task_id="health_check")

with DAG(
    dag_id="flume_tiers_health",
    description="Every Flume agent up, channels below the threshold, no failover, events moving; hop accounting",
    schedule=timedelta(minutes=5),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # a problem is reported now, not after a retry has hidden it: one e-mail when it starts, one when
    # it is over, not one per 5-minute run
    default_args=default_args(retries=0, **incident_callbacks()),
    tags=["logstream", "collection"],
):
    FlumeHealthCheckOperator(task_id="health_check")

with DAG(
    dag_id="flume_line_gaps",
    description="Host file lines no consumer took after gap_delay_minutes: reported, refilled through the L1s",
    schedule=timedelta(minutes=10),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # one e-mail when lines go missing, one when every gap is filled again
    default_args=default_args(retries=0, **incident_callbacks()),
    tags=["logstream", "collection"],
):
    for topic in sorted(host_topics):
        RefillLineGapsOperator(task_id=f"refill_gaps_{topic}", topic=topic)
