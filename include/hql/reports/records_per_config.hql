-- Records per Configuration ID in the hour, and how many hosts sent them.
INSERT OVERWRITE TABLE {{ db }}.report_records_per_config {{ partition }}
SELECT config_id, count(*) AS records, count(DISTINCT host) AS hosts, {{ h.version }} AS version
FROM {{ db }}.logs
WHERE {{ this_hour }}
GROUP BY config_id;
