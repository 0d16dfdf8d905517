-- Records per host in the hour, with how many Configuration IDs and the first and last StartTime
-- (from report_hour.hql's hour_groups).
INSERT OVERWRITE TABLE {{ db }}.report_records_per_host {{ partition }}
SELECT host, sum(records) AS records, count(DISTINCT config_id) AS configs,
       min(first_seen) AS first_seen, max(last_seen) AS last_seen, {{ h.version }} AS version
FROM hour_groups
GROUP BY host;
