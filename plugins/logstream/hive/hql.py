"""The HQL of the offline reports lives in ``include/hql/`` as Jinja templates.

Airflow renders them through the DAG's ``template_searchpath`` (= :data:`HQL_DIR`); code outside
Airflow (the benchmark, the tests of the HQL itself, the report-file export) renders them here with
the same loader, giving the variables Airflow would (``params``, ``run_id``, ...).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

HQL_DIR = Path(__file__).resolve().parents[3] / "include" / "hql"


@cache
def _environment() -> jinja2.Environment:
    # StrictUndefined, as in Airflow: a variable the caller forgot is an error, not an empty string
    return jinja2.Environment(loader=jinja2.FileSystemLoader(HQL_DIR), undefined=jinja2.StrictUndefined)


def render(template: str, **variables) -> str:
    return _environment().get_template(template).render(**variables)
