{# The versions recorded for a topic's hours from `since` (key) on: what report_plan needs. #}
SELECT dt, hour, version, fingerprint
FROM {{ database }}.report_runs
WHERE topic = '{{ topic }}' AND concat(dt, 'T', hour) >= '{{ since }}'
