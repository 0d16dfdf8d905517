"""What the live feed pushes: the newest snapshot, each topic kept as its JSON text with a version,
and for each client only the topics changed since what it was last sent.

A snapshot holds every topic with an hour of history per topic (50-odd topics: a quarter of a
megabyte), while a flush changes one topic. Pushing it whole to every client made the api-server's
sends grow with topics x clients x flushes: 500 clients waited 2.5 s (median) for a push that one
client got in 0.1 s (``bench/dashboard_bench.py``). A push now carries the snapshot's header, the
names of all its topics in order (``topic_order``), and the topics whose text changed since the
client's previous push (``topics``); a client's first push, and one after it asks for a refresh,
carries them all. A client keeps the topics it has by name and drops those missing from
``topic_order``. A client too slow for every push gets, when it is ready again, what changed since
its last one: nothing is lost by skipping.
"""

from __future__ import annotations

import json
from typing import Any


class PushedTopics:
    """The newest snapshot as per-topic texts; ``message(sent)`` builds one client's push."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        # the object each text was made of: a topic the feed did not read again is the same object
        self._objects: dict[str, dict[str, Any]] = {}
        self._last_version = 0
        self._head: str | None = None

    @property
    def ready(self) -> bool:
        return self._head is not None

    def update(self, snapshot: dict[str, Any]) -> None:
        """Takes a new snapshot: a topic whose JSON text differs from the kept one gets a new version."""
        names = []
        for topic in snapshot["topics"]:
            name = topic["topic"]
            names.append(name)
            if self._objects.get(name) is topic:
                continue
            self._objects[name] = topic
            text = json.dumps(topic)
            if self.texts.get(name) != text:
                self._last_version += 1
                self.texts[name], self.versions[name] = text, self._last_version
        for gone in self.texts.keys() - set(names):
            del self.texts[gone], self.versions[gone], self._objects[gone]
        self.order = names
        # the push's header (all but the topics), made once per snapshot, not once per client
        header = {key: value for key, value in snapshot.items() if key not in ("topics", "topic_order")}
        self._head = json.dumps({**header, "topic_order": self.order})[:-1]

    def message(self, sent: dict[str, int]) -> str:
        """The push for a client that holds the topic versions ``sent`` (empty: a first or full push),
        which is updated to what this push leaves it holding."""
        if self._head is None:
            raise RuntimeError("no snapshot yet")
        changed = [name for name in self.order if sent.get(name) != self.versions[name]]
        sent.clear()
        sent.update((name, self.versions[name]) for name in self.order)
        return f'{self._head}, "topics": [{", ".join(self.texts[name] for name in changed)}]}}'


def merged(held: dict[str, dict[str, Any]], push: dict[str, Any]) -> dict[str, Any]:
    """The whole snapshot a client holds after ``push``, given the topics it ``held`` by name (updated
    in place): what the page does, for the feed's Python clients (tests, benches)."""
    for topic in push["topics"]:
        held[topic["topic"]] = topic
    for gone in held.keys() - set(push["topic_order"]):
        del held[gone]
    return {**{key: value for key, value in push.items() if key not in ("topics", "topic_order")},
            "topics": [held[name] for name in push["topic_order"]]}
