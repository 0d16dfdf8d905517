"""Incidents as the incident notifier keeps them in Airflow Variables (``notifiers/incident_alert.py``):
opened and closed once each, whoever fails or recovers at the same moment; and the view of them the
live page shows.

An open incident is the Variable ``logstream_incident__<name>`` (JSON: ``incident``, ``opened``,
``run_id``, ``error``); ``logstream_incidents_recent`` holds the last closed ones (a JSON list,
newest first). An incident's name starts with its DAG id (``<dag_id>.<task_id>...``).

Variables have no compare-and-set: two failures of one incident at once (mapped partitions, a retry
beside a backfill) would both read "not open" and both mail. So each decision (read, mail, write)
runs under the incident's ZooKeeper lock (:func:`incident_lock`), and the list of closed ones under
a lock of its own. If ZooKeeper cannot be reached, the decision is made without the lock and the
task log says so: a second mail is better than none. The mail goes before the Variable is written:
a mail that fails leaves the incident as it was, and the next failure (or success) tries again.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from logstream.zookeeper_sessions import bounded_client

VARIABLE_PREFIX = "logstream_incident__"
RECENT_VARIABLE = "logstream_incidents_recent"
RECENT_KEPT = 50
LOCKS = "/logstream/incident_locks"
RECENT_LOCK = f"{LOCKS}/_recent"
LOCK_WAIT_SECONDS = 60.0
CONNECT_SECONDS = 5.0


class IncidentRecords(Protocol):
    """Where incidents are kept: Airflow Variables (the task SDK's in a callback, the models' in a test)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def delete(self, key: str) -> None: ...


def incident_variable(incident: str) -> str:
    return VARIABLE_PREFIX + re.sub(r"[^A-Za-z0-9_.-]+", "_", incident)


def _first_line(text: Any, limit: int = 300) -> str:
    line = str(text or "").strip().splitlines()[:1]
    return line[0][:limit] if line else ""


def incidents_view(variables: Mapping[str, str], *, recent_shown: int = 10) -> dict[str, list[dict[str, Any]]]:
    """The open incidents (oldest first) and the ``recent_shown`` last closed ones (newest first),
    from the Variables by key; each with its DAG id and the first line of its error. A Variable
    that is not the notifier's JSON is shown as an open incident whose error says so."""
    opened = []
    for key, value in variables.items():
        if not key.startswith(VARIABLE_PREFIX):
            continue
        try:
            state = json.loads(value)
            if not isinstance(state, dict):
                raise ValueError("not an object")
        except ValueError as err:
            state = {"error": f"unreadable incident record ({err})"}
        name = str(state.get("incident") or key[len(VARIABLE_PREFIX):])
        opened.append({"incident": name, "dag_id": name.split(".", 1)[0], "opened": state.get("opened"),
                       "run_id": state.get("run_id"), "error": _first_line(state.get("error"))})
    try:
        recent = json.loads(variables.get(RECENT_VARIABLE) or "[]")
    except ValueError:
        recent = []
    closed = [{"incident": str(item.get("incident")), "dag_id": str(item.get("incident")).split(".", 1)[0],
               "opened": item.get("opened"), "closed": item.get("closed"), "error": _first_line(item.get("error"))}
              for item in recent if isinstance(item, dict)][:recent_shown]
    # oldest first; a record without its opening time (unreadable) first of all
    return {"open": sorted(opened, key=lambda item: (str(item["opened"] or ""), item["incident"])), "recent": closed}


@contextmanager
def incident_lock(zookeeper_hosts: str | None, name: str, *, warn: Callable[[str], None],
                  wait: float = LOCK_WAIT_SECONDS) -> Iterator[KazooClient | None]:
    """The incident's lock held for the block (the session's client is yielded, for
    :func:`close_incident`'s second lock); None, with a warning, when ZooKeeper cannot be reached or the
    lock not taken within ``wait``."""
    if not zookeeper_hosts:
        warn(f"incident {name}: no ZooKeeper to serialize on; deciding without a lock")
        yield None
        return
    client = bounded_client(zookeeper_hosts, CONNECT_SECONDS)
    try:
        client.start(timeout=CONNECT_SECONDS)
    except (KazooTimeoutError, KazooException, OSError, ValueError) as err:
        client.close()
        warn(f"incident {name}: ZooKeeper at {zookeeper_hosts} unreachable ({err}); deciding without a lock "
             f"(a failure at this same moment may mail too)")
        yield None
        return
    try:
        with _held(client, f"{LOCKS}/{urllib.parse.quote(name, safe='')}", wait) as held:
            if not held:
                warn(f"incident {name}: its lock was not free within {wait:.0f}s; deciding without it")
            yield client if held else None
    finally:
        client.stop()
        client.close()


@contextmanager
def _held(client: KazooClient | None, path: str, wait: float) -> Iterator[bool]:
    """The ZooKeeper lock ``path`` held for the block (True); False without a client or when it was
    not free within ``wait`` (the block runs anyway)."""
    lock = client.Lock(path) if client is not None else None
    if lock is None or not lock.acquire(timeout=wait):
        yield False
        return
    try:
        yield True
    finally:
        try:
            lock.release()
        except KazooException:  # ZooKeeper went away: the lock's node goes with the session (stopped next)
            pass


def open_incident(records: IncidentRecords, name: str, *, run_id: str, error: str, now: str,
                  mail: Callable[[], None], extra: Mapping[str, Any] | None = None) -> dict | None:
    """Open ``name`` unless it is open: mail, then record it (with ``extra``, what its closing may need
    to know). The record if this call opened it, None if it was open already. Call it under
    :func:`incident_lock`."""
    key = incident_variable(name)
    if records.get(key) is not None:
        return None
    mail()
    record = {**(extra or {}), "incident": name, "opened": now, "run_id": run_id, "error": error[:500]}
    records.set(key, json.dumps(record))
    return record


def close_incident(records: IncidentRecords, name: str, *, run_id: str, now: str, mail: Callable[[dict], None],
                   session: KazooClient | None = None, when: Callable[[dict], bool] | None = None) -> dict | None:
    """Close ``name`` if it is open (and ``when``, given its record, says so): mail (with its record),
    delete it and put it first in the list of closed ones (under that list's own lock, on ``session``).
    The closed entry if this call closed it, None if it was not open or stays open. Call it under
    :func:`incident_lock`."""
    key = incident_variable(name)
    state = records.get(key)
    if state is None:
        return None
    try:
        opened = json.loads(state)
        if not isinstance(opened, dict):
            raise ValueError("not an object")
    except ValueError:
        opened = {"error": f"unreadable incident record: {state[:200]}"}
    if when is not None and not when(opened):
        return None
    mail(opened)
    records.delete(key)
    closed = {"incident": name, "opened": opened.get("opened"), "closed": now, "opened_in": opened.get("run_id"),
              "closed_in": run_id, "error": opened.get("error")}
    with _held(session, RECENT_LOCK, LOCK_WAIT_SECONDS):
        try:
            recent = json.loads(records.get(RECENT_VARIABLE) or "[]")
        except ValueError:
            recent = []
        records.set(RECENT_VARIABLE, json.dumps([closed, *recent][:RECENT_KEPT]))
    return closed
