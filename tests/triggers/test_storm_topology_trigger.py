"""The trigger that waits for a topology keeps waiting while Nimbus is down (thriftpy2 says so with
its own TTransportException, not an OSError) and ends with a timeout event naming why."""

from __future__ import annotations

import asyncio

from ports import unused_port

from triggers.storm_topology import StormTopologyRunningTrigger


def test_nimbus_refusing_connections_is_waited_through_not_raised():
    port = unused_port()
    trigger = StormTopologyRunningTrigger(name="security_stats_x", host="127.0.0.1", port=port, workers=1,
                                          timeout=2.0, poll_interval=0.2)

    async def first_event():
        async for event in trigger.run():
            return event.payload

    payload = asyncio.run(first_event())

    assert payload["status"] == "timeout"
    assert f"Nimbus at 127.0.0.1:{port}" in payload["detail"]
