"""Run a DAG file's DAG for real with ``dag.test()`` against the stack's Airflow database."""

from __future__ import annotations

from pathlib import Path

from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

DAGS = Path(__file__).parents[1] / "dags"


def run_dag(path: Path, dag_id: str, **test_kwargs):
    """Parse ``path``, register its DAGs (dag.test needs a serialized version), run ``dag_id`` once."""
    bag = DagBag(str(path))
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, "dags-folder", None)
    return bag.get_dag(dag_id).test(**test_kwargs)
