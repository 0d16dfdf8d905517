"""Flume's metrics JSON (every value a string) as numbers."""

from __future__ import annotations

import json

import pytest

from logstream.flume.metrics import AgentUnreachable, agent_figures, parse_metrics, read_metrics

# the shape an L1 agent of ours serves (captured from Flume 1.11.0, values shortened)
DOCUMENT = json.dumps({
    "CHANNEL.memory": {"ChannelCapacity": "100000", "ChannelFillPercentage": "12.5", "Type": "CHANNEL",
                       "ChannelSize": "12500", "EventTakeSuccessCount": "87500", "EventPutSuccessCount": "100000"},
    "SINK.to_l2a": {"ConnectionFailedCount": "3", "EventDrainSuccessCount": "80000", "Type": "SINK", "StopTime": "0"},
    "SINK.to_l2b": {"ConnectionFailedCount": "0", "EventDrainSuccessCount": "7500", "Type": "SINK"},
    "SOURCE.tail": {"EventAcceptedCount": "100000", "Type": "SOURCE", "StartTime": "1795861874753"},
})


def test_strings_become_numbers_and_labels_are_dropped():
    metrics = parse_metrics("web1", DOCUMENT, read_at=100.0)
    assert metrics.of("CHANNEL") == {"memory": {"ChannelCapacity": 100000, "ChannelFillPercentage": 12.5,
                                                "ChannelSize": 12500, "EventTakeSuccessCount": 87500,
                                                "EventPutSuccessCount": 100000}}
    assert metrics.total("SINK", "EventDrainSuccessCount") == 87500
    assert metrics.total("SINK", "ConnectionFailedCount") == 3
    assert metrics.total("SOURCE", "EventAcceptedCount") == 100000
    assert "Type" not in metrics.of("SINK")["to_l2a"]


def test_an_agent_that_does_not_answer_is_named():
    with pytest.raises(AgentUnreachable, match="agent l2z: no metrics from http://127.0.0.1:9/metrics"):
        read_metrics("l2z", "http://127.0.0.1:9/metrics", timeout=2)


def test_an_agents_figures_rates_and_failover_from_two_readings():
    first = parse_metrics("l1", DOCUMENT, read_at=1000.0)
    later = json.loads(DOCUMENT)
    later["SOURCE.tail"]["EventAcceptedCount"] = "100600"  # 600 more in 4 s
    later["SINK.to_l2a"]["EventDrainSuccessCount"] = "80100"
    later["SINK.to_l2b"]["EventDrainSuccessCount"] = "7900"  # the backup delivered 400 of them
    second = parse_metrics("l1", json.dumps(later), read_at=1004.0)

    assert agent_figures(first, primary_sink="to_l2a") == {
        "events_in": 100000, "events_out": 87500, "rate_in": None, "rate_out": None, "channel_fill_percent": 12.5,
        "connection_failures": 3, "failover_events": 7500}
    figures = agent_figures(second, primary_sink="to_l2a", previous=first)
    assert (figures["rate_in"], figures["rate_out"], figures["failover_events"]) == (150.0, 125.0, 7900)
    # an L2 (no preferred sink) has no failover figure; a restarted agent's counters went back: no rate
    assert agent_figures(second, previous=first)["failover_events"] is None
    assert agent_figures(first, primary_sink="to_l2a", previous=second)["rate_in"] is None
