-- Entries whose Interval is more than params.interval_tolerance times away from the usual Interval
-- of their Configuration ID, the most frequent one in the hour (ties: the shorter; counted from
-- report_hour.hql's hour_groups). The hour's entries are read again for these alone.
INSERT OVERWRITE TABLE {{ db }}.report_interval_outliers {{ partition }}
SELECT entries.host, entries.config_id, entries.start_time, entries.`interval`, usual.usual_interval, {{ h.version }} AS version
FROM (
    SELECT host, config_id, start_time, `interval`
    FROM {{ db }}.logs
    WHERE {{ this_hour }}
) entries
JOIN (
    SELECT config_id, `interval` AS usual_interval
    FROM (
        SELECT config_id, `interval`,
               row_number() OVER (PARTITION BY config_id ORDER BY sum(records) DESC, `interval`) AS preference
        FROM hour_groups
        GROUP BY config_id, `interval`
    ) ranked
    WHERE preference = 1
) usual
ON entries.config_id = usual.config_id
WHERE entries.`interval` > usual.usual_interval * {{ params.interval_tolerance }}
   OR entries.`interval` * {{ params.interval_tolerance }} < usual.usual_interval;
