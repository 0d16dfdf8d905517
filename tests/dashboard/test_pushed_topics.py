"""The feed's pushes carry only what changed, and a client that merges them holds the newest
snapshot whatever pushes it skipped: checked against the test's own snapshots."""

from __future__ import annotations

import json
import random

import pytest

from dashboard.pushed_topics import PushedTopics, merged


def snapshot(generation: int, topics: dict[str, int]) -> dict:
    return {"generated_at": f"2026-01-01T00:00:{generation:02d}+00:00", "staleness": "on",
            "topics": [{"topic": name, "records": value, "history": {"records": [value] * 3}}
                       for name, value in topics.items()]}


def test_a_client_reading_every_push_gets_only_the_topics_that_changed():
    pushed, sent, held = PushedTopics(), {}, {}
    pushed.update(snapshot(0, {"a": 1, "b": 2, "c": 3}))
    first = json.loads(pushed.message(sent))
    assert [t["topic"] for t in first["topics"]] == ["a", "b", "c"]
    assert merged(held, first) == snapshot(0, {"a": 1, "b": 2, "c": 3})

    pushed.update(snapshot(1, {"a": 1, "b": 5, "c": 3}))
    second = json.loads(pushed.message(sent))
    assert [t["topic"] for t in second["topics"]] == ["b"]
    assert second["topic_order"] == ["a", "b", "c"] and second["generated_at"].endswith(":01+00:00")
    assert merged(held, second) == snapshot(1, {"a": 1, "b": 5, "c": 3})

    # "a" gone, "d" new, the order changed: only "d" travels, "a" is dropped by the client
    pushed.update(snapshot(2, {"d": 9, "c": 3, "b": 5}))
    third = json.loads(pushed.message(sent))
    assert [t["topic"] for t in third["topics"]] == ["d"]
    assert merged(held, third) == snapshot(2, {"d": 9, "c": 3, "b": 5})

    pushed.update(snapshot(3, {"d": 9, "c": 3, "b": 5}))
    assert json.loads(pushed.message(sent))["topics"] == []


@pytest.mark.parametrize("seed", range(20))
def test_clients_that_skip_pushes_or_ask_for_everything_hold_the_newest_snapshot(seed):
    rng = random.Random(seed)
    names = [f"topic_{i}" for i in range(8)]
    pushed = PushedTopics()
    # "touched": topics set or gone since the client's last push (one changed and changed back, or
    # gone and back, may travel again: the server keeps versions, not what each client holds)
    clients = [{"sent": {}, "held": {}, "touched": set()} for _ in range(4)]
    state: dict[str, int] = {}
    for generation in range(60):
        for name in rng.sample(names, rng.randint(0, 3)):  # changed, new or gone
            if name in state and rng.random() < 0.3:
                del state[name]
            else:
                state[name] = rng.randint(0, 5)
            for client in clients:
                client["touched"].add(name)
        order = list(state)
        rng.shuffle(order)
        newest = snapshot(generation, {name: state[name] for name in order})
        pushed.update(newest)
        for i, client in enumerate(clients):
            if rng.random() < 0.5:
                continue  # this client was busy: it skips this snapshot
            if rng.random() < 0.1:
                client["sent"].clear()  # it asked for a refresh: everything
            had = {name: topic["records"] for name, topic in client["held"].items()}
            full = not client["sent"]
            push = json.loads(pushed.message(client["sent"]))
            carried = {topic["topic"] for topic in push["topics"]}
            if full:
                assert carried == set(state)
            else:  # what the test itself sees as changed since this client's last push
                changed = {name for name in state if had.get(name) != state[name]}
                assert changed <= carried <= client["touched"]
            client["touched"].clear()
            assert merged(client["held"], push) == newest
