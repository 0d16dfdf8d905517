"""Register a DAG file's DAGs in the stack's Airflow database and run one for real with ``dag.test()``."""

from __future__ import annotations

import time
from pathlib import Path

from airflow import settings
from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
from airflow.models.dag import DagModel
from airflow.utils.session import create_session
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, PendingRollbackError

DAGS = Path(__file__).parents[1] / "dags"
BUNDLE = "dags-folder"


def register(path: Path) -> BundleDagBag:
    """Parse ``path`` as the stack's dag-processor does (a file of the ``dags-folder`` bundle, named
    relative to it) and write its DAGs' serialized versions. A DAG registered under another file
    name would be marked stale by the dag-processor, which knows no such file, until it parses the
    file again: meanwhile the API refuses to trigger it. (A test's own DAG file, outside ``dags/``,
    is named relative to its folder.)"""
    bag = BundleDagBag(dag_folder=str(path), bundle_path=DAGS if path.is_relative_to(DAGS) else path.parent,
                       bundle_name=BUNDLE)
    assert not bag.import_errors, bag.import_errors
    # the stack's dag-processor may be writing the same DAGs' rows at this moment (it re-parses every
    # file after a restart): the loser of that race gets a unique violation; the rows are there then
    for attempt in range(5):
        try:
            sync_bag_to_db(bag, BUNDLE, None)
            break
        except (IntegrityError, PendingRollbackError):
            settings.Session.remove()
            if attempt == 4:
                raise
            time.sleep(1 + attempt)
    return bag


def run_dag(path: Path, dag_id: str, *, keep_deadline: bool = False, **test_kwargs):
    """Register ``path``'s DAGs (dag.test needs a serialized version) and run ``dag_id`` once.

    The DAG is paused first: dag.test() runs the tasks in this process, and the stack's scheduler
    would otherwise queue the same task instances and run them a second time, at the same moment.
    Its deadline alert is left out unless ``keep_deadline``: dag.test() cannot end a run of a DAG
    with deadlines successfully (Airflow 3.3: ``DagRun.update_state`` looks the alerts up by id,
    and dag.test's own serialization holds their definitions); tests/notifiers/test_deadline_alert.py
    tests the alerts.
    """
    bag = register(path)
    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=True))
    dag = bag.get_dag(dag_id)
    if not keep_deadline:
        dag.deadline = None
    return dag.test(**test_kwargs)


def unpause_for_the_test(api, dag_id: str, request) -> None:
    """Unpause ``dag_id`` in the stack's scheduler for the test ``request``, and pause it again after
    it if it was paused: its scheduled runs (and their alerts) must not go on under the tests that follow."""
    was_paused = api.is_paused(dag_id)
    api.unpause(dag_id)
    if was_paused:
        request.addfinalizer(lambda: api.pause(dag_id))
