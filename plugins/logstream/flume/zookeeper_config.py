"""The agents' configurations in ZooKeeper, where the agents fetch them (Flume's own ZooKeeper
configuration provider: an agent started with ``-z <ensemble> -p <path>`` reads the properties in the
node ``<path>/<agent name>`` and reconfigures itself whenever that node changes).

So the machine that renders the configurations (Airflow's, on the cluster) never writes into a
front-end or collector host's files: it publishes each agent's properties over the network, and the
agent on its host picks them up. A publish changes only the nodes whose text differs, each with a
conditional set on the version it read, so two publishers at once never lose a change silently.
"""

from __future__ import annotations

from collections.abc import Iterable

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from logstream.flume.agent_config import FlumeAgentConfig

DEFAULT_PATH = "/logstream/flume"


def publish_agent_configs(client: KazooClient, path: str, agents: Iterable[FlumeAgentConfig]) -> list[str]:
    """Make ``<path>/<agent>`` hold each agent's properties; returns the agents whose node changed
    (created or set). A node changed by someone else between the read and the set is read again."""
    changed = []
    client.ensure_path(path)
    for agent in agents:
        node, wanted = f"{path}/{agent.name}", agent.properties.encode()
        while True:
            try:
                data, stat = client.get(node)
            except NoNodeError:
                try:
                    client.create(node, wanted)
                except NodeExistsError:
                    continue
                changed.append(agent.name)
                break
            if data == wanted:
                break
            try:
                client.set(node, wanted, version=stat.version)
            except BadVersionError:
                continue
            changed.append(agent.name)
            break
    return changed


def published_config(client: KazooClient, path: str, agent: str) -> str | None:
    """The properties agent ``agent`` reads now, or None."""
    try:
        return client.get(f"{path}/{agent}")[0].decode()
    except NoNodeError:
        return None


def nudge(client: KazooClient, path: str, agent: str) -> None:
    """Set ``<path>/<agent>`` again to the text it holds: a new version, so that an agent watching the
    node reads it again. (Flume's ZooKeeper provider starts its node cache before it registers its
    listener: the first reading of the node can be missed, and the agent then runs with no
    configuration until the node changes; seen here on a restart of the cluster.)"""
    try:
        data, stat = client.get(f"{path}/{agent}")
        client.set(f"{path}/{agent}", data, version=stat.version)
    except (NoNodeError, BadVersionError):
        pass  # gone (nothing to read) or just changed (the agent reads it anyway)
