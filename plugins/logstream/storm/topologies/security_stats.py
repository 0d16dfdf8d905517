"""The security_stats topology: Kafka batches -> event-time pane counts in the result store. Wiring only."""

from __future__ import annotations

from streamparse import Grouping, Topology

from logstream.storm.bolts.window_count import WindowCountBolt
from logstream.storm.spouts.log_entries import LogEntrySpout
from logstream.storm.topology_config import load_settings

_SETTINGS = load_settings()


class SecurityStats(Topology):
    log_entries = LogEntrySpout.spec(par=_SETTINGS["parallelism"]["log_entries"])
    # every batch of a partition goes to the same bolt task, which owns that partition's panes and offset
    window_count = WindowCountBolt.spec(
        inputs={log_entries: Grouping.fields("topic", "partition")},
        par=_SETTINGS["parallelism"]["window_count"],
        config={"topology.tick.tuple.freq.secs": _SETTINGS["logstream"]["flush_every_seconds"]},
    )
