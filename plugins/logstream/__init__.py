"""logstream's core: the work itself, with no Airflow imports (hooks and operators wrap it)."""
