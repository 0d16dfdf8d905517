"""Storm of the local stack: Nimbus answers over Thrift with one supervisor and its worker slots,
its storm.home is laid out from the Maven jars, and its ports stay off Airflow's."""

from __future__ import annotations

import socket

import pytest
import yaml

from logstream.stack.config import STORM_SLOTS, StackConfig
from logstream.stack.process import ServiceError
from logstream.stack.storm import Storm


def test_nimbus_reports_a_supervisor_with_its_slots(stack):
    storm = stack.service("storm")
    summary = storm.nimbus().cluster_summary()

    assert [n.isLeader for n in summary.nimbuses] == [True]
    assert summary.nimbuses[0].version.startswith("2.8.")
    assert [s.num_workers for s in summary.supervisors] == [STORM_SLOTS]
    assert storm.health().ok


def test_storm_home_and_ports(stack):
    storm = stack.service("storm")
    conf = yaml.safe_load((storm.home / "conf" / "storm.yaml").read_text())
    ports = stack.config.ports

    assert conf["nimbus.thrift.port"] == ports["storm_nimbus"]
    assert conf["storm.zookeeper.port"] == ports["zookeeper"]
    assert conf["supervisor.slots.ports"] == [ports["storm_slots"] + i for i in range(STORM_SLOTS)]
    assert conf["ui.port"] not in (8080, ports["airflow"])
    worker_jars = {path.name.rsplit("-", 1)[0] for path in (storm.home / "lib-worker").iterdir()}
    assert {"storm-client", "storm-shaded-deps", "kryo", "log4j-over-slf4j"} <= worker_jars
    assert not any(name.startswith("reload4j") for name in (p.name for p in (storm.home / "lib").iterdir()))


def test_a_taken_worker_slot_is_a_clear_error(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        config = StackConfig(home=tmp_path, ports={**StackConfig().ports, "storm_nimbus": 0, "storm_supervisor": 0,
                                                   "storm_slots": port})
        with pytest.raises(ServiceError, match=rf"worker slot ports \[{port}\b[^]]*\] are taken .*LOGSTREAM_STORM_SLOTS_PORT"):
            Storm(config).check_ports_free()
