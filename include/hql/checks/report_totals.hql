{# Data-quality check of the hours a hive_reports run reported (one row; every column must be true):
   the per-configuration and per-host reports add up to the hour's records in the logs table, and
   the top-hosts report has at most params.top_hosts rows per hour. #}
{% set db = params.database %}
{% set reported = ti.xcom_pull(task_ids=params.plan_task, key="partition_clause") %}
WITH logged AS (
    SELECT dt, hour, count(*) AS records FROM {{ db }}.logs WHERE {{ reported }} GROUP BY dt, hour
), per_config AS (
    SELECT dt, hour, sum(records) AS records FROM {{ db }}.report_records_per_config WHERE {{ reported }} GROUP BY dt, hour
), per_host AS (
    SELECT dt, hour, sum(records) AS records FROM {{ db }}.report_records_per_host WHERE {{ reported }} GROUP BY dt, hour
), top_hosts AS (
    SELECT dt, hour, count(*) AS hosts FROM {{ db }}.report_top_hosts WHERE {{ reported }} GROUP BY dt, hour
)
SELECT
    (SELECT count(*) FROM logged FULL OUTER JOIN per_config USING (dt, hour)
     WHERE coalesce(logged.records, 0) <> coalesce(per_config.records, 0)) = 0 AS per_config_adds_up,
    (SELECT count(*) FROM logged FULL OUTER JOIN per_host USING (dt, hour)
     WHERE coalesce(logged.records, 0) <> coalesce(per_host.records, 0)) = 0 AS per_host_adds_up,
    (SELECT coalesce(max(hosts), 0) FROM top_hosts) <= {{ params.top_hosts }} AS top_hosts_within_limit;
