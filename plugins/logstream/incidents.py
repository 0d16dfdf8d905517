"""Incidents as the incident notifier keeps them in Airflow Variables (``notifiers/incident_alert.py``),
and the view of them the live page shows.

An open incident is the Variable ``logstream_incident__<name>`` (JSON: ``incident``, ``opened``,
``run_id``, ``error``); ``logstream_incidents_recent`` holds the last closed ones (a JSON list,
newest first). An incident's name starts with its DAG id (``<dag_id>.<task_id>...``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

VARIABLE_PREFIX = "logstream_incident__"
RECENT_VARIABLE = "logstream_incidents_recent"
RECENT_KEPT = 50


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
