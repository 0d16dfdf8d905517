"""Feeding the pipeline through the hosts' log files: every line reaches Kafka through L1 and L2."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient

from flume_hosts import own_tiers, read_topic
from logstream.flume.host_logs import feed_through_flume
from logstream.log_generator import LogGenerator


def test_generated_entries_fed_through_flume_all_reach_the_topic(stack, unique_name):
    tiers = own_tiers(stack, unique_name, slot=3, batch_size=500)
    tiers.prepare_hosts()
    tiers.ensure_topics()
    try:
        tiers.deploy()
        tiers.wait_answering()
        values = [record.value for record in LogGenerator(seed=5, bad_ratio=0.0).records(6_000, start=1795000000,
                                                                                          end=1795003600)]
        written = feed_through_flume(tiers.pipeline, tiers.home, values,
                                     admin=AdminClient({"bootstrap.servers": stack.config.kafka_bootstrap}),
                                     timeout=600)
        assert written == {unique_name: 6_000}
        delivered = read_topic(stack.config.kafka_bootstrap, unique_name, want_ids=set(), timeout=0)
        assert sorted(body for _, body in delivered.records) == sorted(values)
        # round-robin over the two hosts
        assert {host for (host, _, _), _ in delivered.records} == {f"{unique_name}_web1", f"{unique_name}_web2"}
    finally:
        tiers.stop()
