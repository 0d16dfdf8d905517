"""The chaos run, short: an L2 agent, the topology's worker and the HadoopConsumer SIGKILLed, the
Kafka broker and HDFS restarted, while lines flow; then every offset landed once and every host and
hour is complete at every hop. It restarts shared services: it runs last (the ``disruptive`` mark)."""

from __future__ import annotations

import pytest

from logstream.chaos import run_chaos

LINES = 6_000


@pytest.mark.disruptive
def test_nothing_is_lost_while_every_part_is_killed_or_restarted(stack, unique_name):
    said: list[str] = []
    report = run_chaos(stack.config, name=unique_name, lines=LINES, seconds=60, say=said.append)
    assert report.problems == [], "\n".join(said)
    assert report.lines_written == LINES
    # every generated line is valid: the files hold them all; Flume may re-send some, but a line is
    # counted once by its line id in Kafka, landed once in HDFS (the copies quarantined as "copy")
    assert report.totals["host files"] == LINES
    assert report.totals["Kafka"] == LINES and report.totals["HDFS"] == LINES
    kinds = [event.split("s ", 1)[1] for event in report.events]
    for what in ("SIGKILL Flume L2 agent", "SIGKILL Storm worker", "SIGKILL HadoopConsumer process",
                 "Kafka broker started again", "HDFS started again"):
        assert any(kind.startswith(what) for kind in kinds), (what, report.events)
