-- All reports of one hour ``h`` (a logstream.hive.report_plan.HourPlan), each replacing only the
-- hour's partition. Needs params.database, params.top_hosts, params.interval_tolerance and run_id.
{% set db = params.database %}
{% set this_hour %}topic = '{{ h.topic }}' AND dt = '{{ h.dt }}' AND hour = '{{ h.hour }}'{% endset %}
{% set partition %}PARTITION (topic = '{{ h.topic }}', dt = '{{ h.dt }}', hour = '{{ h.hour }}'){% endset %}

{% if h.log_partitions %}
ALTER TABLE {{ db }}.logs ADD IF NOT EXISTS
{% for p in h.log_partitions %}
    PARTITION (topic = '{{ h.topic }}', dt = '{{ p.dt }}', hour = '{{ p.hour }}') LOCATION '{{ p.location }}'
{% endfor %};
{% endif %}
{% if h.quarantine_partitions %}
ALTER TABLE {{ db }}.quarantine ADD IF NOT EXISTS
{% for p in h.quarantine_partitions %}
    PARTITION (topic = '{{ h.topic }}', dt = '{{ p.dt }}', hour = '{{ p.hour }}') LOCATION '{{ p.location }}'
{% endfor %};
{% endif %}
{% if h.line_id_partitions %}
ALTER TABLE {{ db }}.line_ids ADD IF NOT EXISTS
{% for p in h.line_id_partitions %}
    PARTITION (topic = '{{ h.topic }}', dt = '{{ p.dt }}', hour = '{{ p.hour }}') LOCATION '{{ p.location }}'
{% endfor %};
{% endif %}
-- files that landed since the last query of the tables must be listed again
REFRESH TABLE {{ db }}.logs;
REFRESH TABLE {{ db }}.quarantine;
REFRESH TABLE {{ db }}.line_ids;

-- The hour's entries read once and counted per (host, configuration, interval): a few thousand rows
-- for millions of entries, from which the reports below count (a view of this session, held in
-- memory until the end of the script). Only the interval outliers read the entries themselves again.
CACHE TABLE hour_groups AS
SELECT host, config_id, `interval`, count(*) AS records, min(start_time) AS first_seen, max(start_time) AS last_seen
FROM {{ db }}.logs
WHERE {{ this_hour }}
GROUP BY host, config_id, `interval`;

{% include "reports/records_per_config.hql" %}
{% include "reports/records_per_host.hql" %}
{% include "reports/top_hosts.hql" %}
{% include "reports/new_hosts.hql" %}
{% include "reports/interval_outliers.hql" %}
{% include "reports/quarantine_reasons.hql" %}
UNCACHE TABLE IF EXISTS hour_groups;

-- The version marker, recorded once per input (a repeated run finds its fingerprint and adds nothing).
INSERT INTO {{ db }}.report_runs
SELECT '{{ h.topic }}', '{{ h.dt }}', '{{ h.hour }}', {{ h.version }}, '{{ h.fingerprint }}', {{ h.files }}, {{ h.bytes }},
       (SELECT coalesce(sum(records), 0) FROM {{ db }}.report_records_per_config WHERE {{ this_hour }}),
       (SELECT coalesce(sum(records), 0) FROM {{ db }}.report_quarantine_reasons WHERE {{ this_hour }}),
       '{{ run_id }}', CAST(current_timestamp() AS STRING), '{{ h.completeness }}'
WHERE NOT EXISTS (
    SELECT 1 FROM {{ db }}.report_runs
    WHERE {{ this_hour }} AND fingerprint = '{{ h.fingerprint }}'
);
