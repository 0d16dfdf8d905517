"""ZooKeeper, standalone, from the Maven jars (Storm's coordination service)."""

from __future__ import annotations

import socket

from logstream.stack.service import Health, Service


class ZooKeeper(Service):
    name = "zookeeper"
    port_names = ("zookeeper",)
    start_timeout = 60.0

    def launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.render(
            "zookeeper/zoo.cfg",
            self.config.run_dir / "zookeeper" / "zoo.cfg",
            data_dir=self.data_dir,
            port=self.port("zookeeper"),
            host=self.config.host,
        )
        argv = self.java_argv(
            "zookeeper", "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(conf), heap="256m"
        )
        self.process.start(argv)

    def health(self) -> Health:
        try:
            with socket.create_connection((self.config.host, self.port("zookeeper")), timeout=2) as sock:
                sock.sendall(b"ruok")
                answer = sock.recv(16)
        except OSError as err:
            return Health(False, f"not answering on {self.port('zookeeper')}: {err}")
        return Health(answer == b"imok", f"ruok -> {answer.decode(errors='replace') or 'nothing'}")
