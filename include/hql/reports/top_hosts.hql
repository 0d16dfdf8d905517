-- The params.top_hosts busiest hosts of the hour (ties: the smaller address string first),
-- with their share of the hour's records. Reads the hour's per-host report, written just before.
INSERT OVERWRITE TABLE {{ db }}.report_top_hosts {{ partition }}
SELECT host_rank, host, records, records / total AS share, {{ h.version }} AS version
FROM (
    SELECT host, records,
           row_number() OVER (ORDER BY records DESC, host) AS host_rank,
           sum(records) OVER () AS total
    FROM {{ db }}.report_records_per_host
    WHERE {{ this_hour }}
) ranked
WHERE host_rank <= {{ params.top_hosts }};
