-- Quarantined records of the hour (by Kafka timestamp) per reason.
INSERT OVERWRITE TABLE {{ db }}.report_quarantine_reasons {{ partition }}
SELECT reason, count(*) AS records, {{ h.version }} AS version
FROM {{ db }}.quarantine
WHERE {{ this_hour }}
GROUP BY reason;
