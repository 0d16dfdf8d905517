"""What is wrong with an agent, from two readings of its metrics some seconds apart.

An agent is healthy when it answers, its channel is below the fill threshold, its sinks deliver
without connection failures or rollbacks, an L1 sends through its first (primary) L2, and events
that sit in its channel move. Counters only grow while an agent runs; a counter that went down means
the agent restarted between the readings, so that pair says nothing about movement.
"""

from __future__ import annotations

from dataclasses import dataclass

from logstream.flume.metrics import AgentMetrics


@dataclass(frozen=True)
class AgentProblem:
    agent: str
    kind: str  # down, channel_full, sink_failures, failed_over, not_moving, restarted
    detail: str

    def __str__(self) -> str:
        return f"{self.agent}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class AgentRole:
    """What the health check expects of an agent: its tier and, for an L1, its primary sink."""

    name: str
    tier: str
    primary_sink: str | None = None


def agent_problems(
    role: AgentRole,
    before: AgentMetrics | None,
    after: AgentMetrics | None,
    *,
    fill_threshold: float = 80.0,
    unreachable_reason: str = "",
) -> list[AgentProblem]:
    """Everything wrong with ``role``'s agent between ``before`` and ``after`` (None: it did not answer)."""
    name = role.name
    if after is None:
        return [AgentProblem(name, "down", unreachable_reason or "its metrics endpoint does not answer")]
    problems = [
        AgentProblem(name, "channel_full", f"channel {channel} is {counters.get('ChannelFillPercentage', 0):.1f}% full "
                                            f"(threshold {fill_threshold:g}%)")
        for channel, counters in after.of("CHANNEL").items()
        if counters.get("ChannelFillPercentage", 0) > fill_threshold
    ]
    if before is None:
        return problems
    if _restarted(before, after):
        return problems + [AgentProblem(name, "restarted", "its counters went down between the readings")]
    for sink, counters in after.of("SINK").items():
        was = before.of("SINK").get(sink, {})
        failures = {counter: counters.get(counter, 0) - was.get(counter, 0)
                    for counter in ("ConnectionFailedCount", "EventWriteFail", "RollbackCount")}
        failing = {counter: grew for counter, grew in failures.items() if grew > 0}
        if failing:
            problems.append(AgentProblem(name, "sink_failures", f"sink {sink}: " + ", ".join(
                f"{counter} +{grew:g}" for counter, grew in sorted(failing.items()))))
        drained = counters.get("EventDrainSuccessCount", 0) - was.get("EventDrainSuccessCount", 0)
        if role.primary_sink is not None and sink != role.primary_sink and drained > 0:
            problems.append(AgentProblem(name, "failed_over", f"{drained:g} events went through backup sink {sink} "
                                                              f"instead of {role.primary_sink}"))
    for channel, counters in after.of("CHANNEL").items():
        was = before.of("CHANNEL").get(channel, {})
        taken = counters.get("EventTakeSuccessCount", 0) - was.get("EventTakeSuccessCount", 0)
        if was.get("ChannelSize", 0) > 0 and counters.get("ChannelSize", 0) > 0 and taken == 0:
            problems.append(AgentProblem(name, "not_moving", f"channel {channel} holds {counters['ChannelSize']:g} "
                                                             f"events and none left it in {after.read_at - before.read_at:.0f}s"))
    return problems


def _restarted(before: AgentMetrics, after: AgentMetrics) -> bool:
    return any(
        after.components.get(key, {}).get(counter, value) < value
        for key, counters in before.components.items()
        for counter, value in counters.items()
        if counter.endswith("Count")
    )
