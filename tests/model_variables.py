"""Airflow Variables as a test process reaches them, for code that keeps incidents in them."""

from __future__ import annotations


class ModelVariables:
    """The stack's Airflow Variables, as the test process reaches them (the models, not the task SDK)."""

    def get(self, key: str) -> str | None:
        from airflow.models.variable import Variable

        return Variable.get(key, default_var=None)

    def set(self, key: str, value: str) -> None:
        from airflow.models.variable import Variable

        Variable.set(key, value)

    def delete(self, key: str) -> None:
        from airflow.models.variable import Variable

        Variable.delete(key)
