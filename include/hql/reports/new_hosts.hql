-- Hosts of the hour that sent nothing in the lookback window before it (from the landed logs, so
-- the answer does not depend on the order in which hours are reported).
INSERT OVERWRITE TABLE {{ db }}.report_new_hosts {{ partition }}
SELECT current_hour.host, current_hour.first_seen, current_hour.records, {{ h.version }} AS version
FROM (
    SELECT host, first_seen, records
    FROM {{ db }}.report_records_per_host
    WHERE {{ this_hour }}
) current_hour
LEFT JOIN (
    SELECT DISTINCT host
    FROM {{ db }}.logs
    WHERE topic = '{{ h.topic }}'
      AND (dt > '{{ h.lookback_dt }}' OR (dt = '{{ h.lookback_dt }}' AND hour >= '{{ h.lookback_hour }}'))
      AND (dt < '{{ h.dt }}' OR (dt = '{{ h.dt }}' AND hour < '{{ h.hour }}'))
) seen_before
ON current_hour.host = seen_before.host
WHERE seen_before.host IS NULL;
