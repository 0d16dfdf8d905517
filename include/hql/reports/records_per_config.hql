-- Records per Configuration ID in the hour, and how many hosts sent them (from report_hour.hql's
-- hour_groups: the hour's entries counted per host, configuration and interval).
INSERT OVERWRITE TABLE {{ db }}.report_records_per_config {{ partition }}
SELECT config_id, sum(records) AS records, count(DISTINCT host) AS hosts, {{ h.version }} AS version
FROM hour_groups
GROUP BY config_id;
