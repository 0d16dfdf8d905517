"""A single-node Kafka in KRaft mode (broker and controller), from the Maven jars."""

from __future__ import annotations

import base64
import subprocess
import uuid

from logstream.stack.process import ServiceError, port_is_open
from logstream.stack.service import Health, Service


def new_cluster_id() -> str:
    """A Kafka cluster id (what StorageTool's ``random-uuid`` prints)."""
    cluster_id = "-"
    while cluster_id.startswith("-"):  # as Kafka's Uuid.randomUuid: a leading '-' reads as an option
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return cluster_id


class Kafka(Service):
    name = "kafka"
    port_names = ("kafka", "kafka_controller")
    start_timeout = 90.0

    @property
    def log_dir(self):
        return self.data_dir / "log"

    def launch(self) -> None:
        conf = self.render(
            "kafka/server.properties",
            self.config.run_dir / "kafka" / "server.properties",
            host=self.config.host,
            port=self.port("kafka"),
            controller_port=self.port("kafka_controller"),
            data_dir=self.log_dir,
        )
        if not (self.log_dir / "meta.properties").exists():
            self._format(conf)
        self.process.start(self.java_argv("kafka", "kafka.Kafka", str(conf), heap="768m"))

    def _format(self, conf) -> None:
        argv = self.java_argv(
            "kafka", "kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", str(conf), "--standalone",
            heap="256m"
        )
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise ServiceError(f"formatting Kafka's log dir failed:\n{done.stdout}\n{done.stderr}")

    def health(self) -> Health:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        if not port_is_open(self.port("kafka"), self.config.host):
            return Health(False, f"nothing listens on {self.config.kafka_bootstrap}")
        admin = AdminClient({"bootstrap.servers": self.config.kafka_bootstrap, "socket.timeout.ms": 2000})
        try:
            metadata = admin.list_topics(timeout=3)
        except KafkaException as err:
            return Health(False, f"no metadata from {self.config.kafka_bootstrap}: {err}")
        return Health(bool(metadata.brokers), f"{len(metadata.brokers)} broker(s), {len(metadata.topics)} topic(s)")
