"""The agents' properties for docker-compose.yaml, rendered from the same templates and pipeline
config as the local stack's, into include/flume/compose/ (mounted at /opt/flume/conf).

    PYTHONPATH=plugins python -m logstream.flume.compose     # after changing a template or pipeline.yaml

In the containers every L2 is reached as ``flume-<name>``, listens on all interfaces, and the hosts'
log dirs and the agents' state are volumes under /var/log/logstream and /var/lib/flume.
"""

from __future__ import annotations

from pathlib import Path

from logstream.flume.agent_config import AgentPlacement, FlumeAgentConfig, render_agents
from logstream.pipeline_config import REPO_ROOT, PipelineConfig, load_pipeline_config

COMPOSE_CONF = REPO_ROOT / "include" / "flume" / "compose"
PLACEMENT = AgentPlacement(kafka_bootstrap="kafka:9092", hosts_root=Path("/var/log/logstream"),
                           state_root=Path("/var/lib/flume"), avro_base_port=41414, metrics_base_port=41500,
                           bind="0.0.0.0", l2_address="flume-{name}")


def compose_agents(pipeline: PipelineConfig | None = None) -> list[FlumeAgentConfig]:
    # the log dirs exist inside the L1 containers, not here
    return render_agents(pipeline or load_pipeline_config(), PLACEMENT, check_log_dirs=False)


def main() -> None:
    COMPOSE_CONF.mkdir(parents=True, exist_ok=True)
    for agent in compose_agents():
        (COMPOSE_CONF / f"{agent.name}.properties").write_text(agent.properties)
        print(f"{agent.tier} {agent.name}: metrics on {agent.metrics_port}"
              + (f", Avro on {agent.avro_port}" if agent.avro_port else ""))


if __name__ == "__main__":
    main()
