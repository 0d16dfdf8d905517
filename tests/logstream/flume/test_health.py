"""What is wrong between two readings of an agent's metrics."""

from __future__ import annotations

import json

from logstream.flume.health import AgentRole, agent_problems
from logstream.flume.metrics import parse_metrics

L1 = AgentRole(name="web1", tier="l1", primary_sink="to_l2a")
L2 = AgentRole(name="l2a", tier="l2")


def l1(at: float, *, size=0, taken=0, fill=0.0, to_l2a=0, to_l2b=0, failed=0):
    return parse_metrics("web1", json.dumps({
        "CHANNEL.memory": {"ChannelSize": str(size), "EventTakeSuccessCount": str(taken), "ChannelFillPercentage": str(fill)},
        "SINK.to_l2a": {"EventDrainSuccessCount": str(to_l2a), "ConnectionFailedCount": str(failed)},
        "SINK.to_l2b": {"EventDrainSuccessCount": str(to_l2b), "ConnectionFailedCount": "0"},
    }), read_at=at)


def test_a_healthy_agent_has_no_problems():
    assert agent_problems(L1, l1(0, size=10, taken=100, to_l2a=100), l1(10, size=5, taken=300, to_l2a=300)) == []


def test_down_full_failed_over_and_stuck_are_each_named():
    assert [str(p) for p in agent_problems(L2, l1(0), None, unreachable_reason="no metrics from x")] == [
        "l2a: down: no metrics from x"]
    problems = agent_problems(L1, l1(0, size=900, taken=100, to_l2a=100),
                              l1(10, size=95_000, taken=100, fill=95.0, to_l2a=100, failed=4))
    assert [p.kind for p in problems] == ["channel_full", "sink_failures", "not_moving"]
    assert str(problems[0]) == "web1: channel_full: channel memory is 95.0% full (threshold 80%)"
    assert str(problems[1]) == "web1: sink_failures: sink to_l2a: ConnectionFailedCount +4"
    assert str(problems[2]) == "web1: not_moving: channel memory holds 95000 events and none left it in 10s"
    failed_over = agent_problems(L1, l1(0, taken=100, to_l2a=100), l1(10, taken=600, to_l2a=100, to_l2b=500))
    assert [str(p) for p in failed_over] == ["web1: failed_over: 500 events went through backup sink to_l2b instead of to_l2a"]


def test_a_restart_between_readings_is_reported_not_misread():
    problems = agent_problems(L1, l1(0, taken=5000, to_l2a=5000), l1(10, taken=20, to_l2a=20))
    assert [p.kind for p in problems] == ["restarted"]
