"""Flume's HTTP monitoring (``-Dflume.monitoring.type=http``): ``GET /metrics`` strings -> numbers.

The JSON is keyed ``SOURCE.<name>``, ``CHANNEL.<name>``, ``SINK.<name>``; every value is a string
(``"EventPutSuccessCount": "1000"``, ``"Type": "CHANNEL"``). Counters become ints, percentages
floats; descriptive strings are dropped.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field


class AgentUnreachable(RuntimeError):
    """The agent's metrics endpoint did not answer."""


@dataclass(frozen=True)
class AgentMetrics:
    """One reading of one agent: ``components[("CHANNEL", "memory")]["ChannelFillPercentage"]``."""

    agent: str
    read_at: float
    components: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)

    def of(self, kind: str) -> dict[str, dict[str, float]]:
        """Every component of a kind (``SOURCE``, ``CHANNEL``, ``SINK``) by name."""
        return {name: counters for (k, name), counters in self.components.items() if k == kind}

    def total(self, kind: str, counter: str) -> float:
        return sum(counters.get(counter, 0) for counters in self.of(kind).values())


def parse_metrics(agent: str, document: str | bytes, *, read_at: float | None = None) -> AgentMetrics:
    raw = json.loads(document)
    components: dict[tuple[str, str], dict[str, float]] = {}
    for key, values in raw.items():
        kind, _, name = key.partition(".")
        components[(kind, name)] = {counter: number for counter, value in values.items()
                                    if (number := _number(value)) is not None}
    return AgentMetrics(agent=agent, read_at=time.time() if read_at is None else read_at, components=components)


def read_metrics(agent: str, url: str, *, timeout: float = 5.0) -> AgentMetrics:
    """GET ``url`` (``http://host:port/metrics``); AgentUnreachable when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return parse_metrics(agent, response.read())
    except (urllib.error.URLError, OSError) as err:
        raise AgentUnreachable(f"agent {agent}: no metrics from {url}: {err}") from err


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() and "." not in str(value) else number


def agent_figures(metrics: AgentMetrics, *, primary_sink: str | None = None,
                  previous: AgentMetrics | None = None) -> dict[str, float | int | None]:
    """What an operator reads an agent's metrics for: events in (its sources accepted) and out (its
    sinks delivered), as totals and, against ``previous`` (an earlier reading of the same agent), as
    rates (None without one, or when the counters went back: the agent restarted); its fullest
    channel's fill; its sinks' failed connections; and for an L1 (``primary_sink``: the sink to the L2
    it prefers) the events its other sinks delivered (sent on failover)."""
    events_in = metrics.total("SOURCE", "EventAcceptedCount")
    events_out = metrics.total("SINK", "EventDrainSuccessCount")

    def rate(kind: str, counter: str, now: float) -> float | None:
        if previous is None:
            return None
        seconds, before = metrics.read_at - previous.read_at, previous.total(kind, counter)
        return round((now - before) / seconds, 1) if seconds > 0 and now >= before else None

    sinks = metrics.of("SINK")
    return {
        "events_in": int(events_in),
        "events_out": int(events_out),
        "rate_in": rate("SOURCE", "EventAcceptedCount", events_in),
        "rate_out": rate("SINK", "EventDrainSuccessCount", events_out),
        "channel_fill_percent": max((c.get("ChannelFillPercentage", 0.0) for c in metrics.of("CHANNEL").values()),
                                    default=0.0),
        "connection_failures": int(metrics.total("SINK", "ConnectionFailedCount")),
        "failover_events": None if primary_sink is None else int(sum(
            counters.get("EventDrainSuccessCount", 0) for name, counters in sinks.items() if name != primary_sink)),
    }
