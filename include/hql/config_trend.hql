{# Records per hour of the given Configuration IDs over the hours first..last (keys), for the chart. #}
SELECT concat(dt, 'T', hour) AS hour_key, config_id, records
FROM {{ database }}.report_records_per_config
WHERE topic = '{{ topic }}'
  AND (dt > '{{ first_dt }}' OR (dt = '{{ first_dt }}' AND hour >= '{{ first_hour }}'))
  AND (dt < '{{ last_dt }}' OR (dt = '{{ last_dt }}' AND hour <= '{{ last_hour }}'))
  AND config_id IN ({{ config_ids | join(", ") }})
ORDER BY hour_key, config_id
