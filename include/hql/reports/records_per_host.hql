-- Records per host in the hour, with how many Configuration IDs and the first and last StartTime.
INSERT OVERWRITE TABLE {{ db }}.report_records_per_host {{ partition }}
SELECT host, count(*) AS records, count(DISTINCT config_id) AS configs,
       min(start_time) AS first_seen, max(start_time) AS last_seen, {{ h.version }} AS version
FROM {{ db }}.logs
WHERE {{ this_hour }}
GROUP BY host;
