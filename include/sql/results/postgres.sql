-- The online statistics' result store (PostgreSQL). Written by the Storm topology, read by the
-- dashboard and the reconciliation. Idempotent: safe to run at every deploy.
-- Times are UTC; a pane is one minute of event time (StartTime), named by its start.

-- Records per 1-minute pane per Configuration ID / per host. `late_records` is the part of
-- `records` that arrived after the pane had closed but within the allowed lateness.
CREATE TABLE IF NOT EXISTS online_pane_config_counts (
    topic        text        NOT NULL,
    pane_start   timestamptz NOT NULL,
    config_id    bigint      NOT NULL,
    records      bigint      NOT NULL,
    late_records bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, pane_start, config_id)
);
CREATE TABLE IF NOT EXISTS online_pane_host_counts (
    topic        text        NOT NULL,
    pane_start   timestamptz NOT NULL,
    host         text        NOT NULL,
    records      bigint      NOT NULL,
    late_records bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, pane_start, host)
);
-- One row per pane: all valid records of the pane, the late part of them, and `expired_records`:
-- records of this pane that arrived after the allowed lateness (NOT in `records`, never dropped).
CREATE TABLE IF NOT EXISTS online_pane_totals (
    topic           text        NOT NULL,
    pane_start      timestamptz NOT NULL,
    records         bigint      NOT NULL,
    late_records    bigint      NOT NULL DEFAULT 0,
    expired_records bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, pane_start)
);
-- Records that are not log entries, per reason (log_entry.InvalidEntry.reason), per minute of their
-- Kafka timestamp (they have no trustworthy event time).
CREATE TABLE IF NOT EXISTS online_bad_records (
    topic   text        NOT NULL,
    minute  timestamptz NOT NULL,
    reason  text        NOT NULL,
    records bigint      NOT NULL,
    PRIMARY KEY (topic, minute, reason)
);
-- Where each topology stands in each partition: the first offset NOT yet counted. Written in the
-- same transaction as the counts it covers; a restarted topology resumes from here.
CREATE TABLE IF NOT EXISTS online_offsets (
    topology    text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topology, topic, partition)
);
-- One row per committed flush (the audit trail; records/s and "last update" come from here).
CREATE TABLE IF NOT EXISTS online_flushes (
    topology     text        NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    first_offset bigint      NOT NULL,
    last_offset  bigint      NOT NULL,
    records      bigint      NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topology, topic, partition, first_offset)
);

-- Added by the Storm topology (additive only).
-- The partition's event-time watermark (largest StartTime counted so far), stored with its offset so
-- that a restarted topology classifies replayed records as late/expired exactly as the first run did.
ALTER TABLE online_offsets ADD COLUMN IF NOT EXISTS watermark bigint;
-- The byte ranges of host files counted up to next_offset (logstream/line_ids.py, JSON), moved in the
-- same transaction as next_offset: a line re-sent by Flume is counted once.
ALTER TABLE online_offsets ADD COLUMN IF NOT EXISTS line_ranges text;
-- Of a flush's records, how many arrived after their pane's allowed lateness (expired): the health
-- check's share of them over a window tells frozen statistics (every record expired) from a quiet hour.
ALTER TABLE online_flushes ADD COLUMN IF NOT EXISTS expired bigint;
-- The flushes of a topic by time: the dashboard's "records/s", "last update" and newest topology, and
-- the health check's recent flushes, read a topic's newest rows without reading the whole trail.
CREATE INDEX IF NOT EXISTS online_flushes_by_topic ON online_flushes (topic, committed_at);
-- Offsets the topology could not read because Kafka's retention deleted them first: the spout moved
-- the partition's stored offset on to the log start and counted [from_offset, to_offset) as lost.
CREATE TABLE IF NOT EXISTS online_retention_losses (
    topology    text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    from_offset bigint      NOT NULL,
    to_offset   bigint      NOT NULL,
    noticed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topology, topic, partition, from_offset)
);
-- When each pane closed (the watermark passed its end) and when that close was committed: the
-- record that closed it (offset, Kafka timestamp) and the commit's clock time. A pane is final once
-- its allowed lateness has passed too.
CREATE TABLE IF NOT EXISTS online_pane_closes (
    topology          text        NOT NULL,
    topic             text        NOT NULL,
    partition         integer     NOT NULL,
    pane_start        timestamptz NOT NULL,
    closed_by_offset  bigint      NOT NULL,
    closed_by_time    timestamptz NOT NULL,
    committed_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (topology, topic, partition, pane_start)
);
-- The sliding view, "the last 5 minutes, every minute": one row per (topic, window end) for every
-- minute that has a pane, summing the five panes that end at it.
CREATE OR REPLACE VIEW online_window_totals AS
SELECT p.topic,
       p.pane_start + interval '1 minute' AS window_end,
       sum(w.records)::bigint AS records,
       sum(w.late_records)::bigint AS late_records,
       sum(w.expired_records)::bigint AS expired_records
FROM online_pane_totals p
JOIN online_pane_totals w
  ON w.topic = p.topic
 AND w.pane_start > p.pane_start - interval '5 minutes'
 AND w.pane_start <= p.pane_start
GROUP BY p.topic, p.pane_start;
CREATE OR REPLACE VIEW online_window_config_counts AS
SELECT e.topic, e.window_end, c.config_id, sum(c.records)::bigint AS records
FROM (SELECT DISTINCT topic, pane_start + interval '1 minute' AS window_end FROM online_pane_totals) e
JOIN online_pane_config_counts c
  ON c.topic = e.topic
 AND c.pane_start >= e.window_end - interval '5 minutes'
 AND c.pane_start < e.window_end
GROUP BY e.topic, e.window_end, c.config_id;
-- Hosts per 5-minute window, ranked (rank 1 = most records); "top N" is `WHERE rank <= N`.
CREATE OR REPLACE VIEW online_window_top_hosts AS
SELECT topic, window_end, host, records,
       rank() OVER (PARTITION BY topic, window_end ORDER BY records DESC, host) AS rank
FROM (
    SELECT e.topic, e.window_end, h.host, sum(h.records)::bigint AS records
    FROM (SELECT DISTINCT topic, pane_start + interval '1 minute' AS window_end FROM online_pane_totals) e
    JOIN online_pane_host_counts h
      ON h.topic = e.topic
     AND h.pane_start >= e.window_end - interval '5 minutes'
     AND h.pane_start < e.window_end
    GROUP BY e.topic, e.window_end, h.host
) hosts;

-- The reconciliation of online and offline counts (plugins/logstream/reconciliation/online_offline.py):
-- one row per topic and hour, replaced at each comparison, and the keys that differed.
CREATE TABLE IF NOT EXISTS reconciliation_hours (
    topic           text        NOT NULL,
    hour_start      timestamptz NOT NULL,
    status          text        NOT NULL,  -- equal, explained (by expired records) or different
    online_records  bigint      NOT NULL,
    online_expired  bigint      NOT NULL,
    offline_records bigint      NOT NULL,
    offline_version integer     NOT NULL,
    differing_keys  integer     NOT NULL,
    checked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, hour_start)
);
CREATE TABLE IF NOT EXISTS reconciliation_keys (
    topic           text        NOT NULL,
    hour_start      timestamptz NOT NULL,
    kind            text        NOT NULL,  -- config or host
    key             text        NOT NULL,
    online_records  bigint      NOT NULL,
    offline_records bigint      NOT NULL,
    PRIMARY KEY (topic, hour_start, kind, key)
);

-- Which version of this file last ran (its sha256): logstream.results.store.ensure_schema runs the file
-- only when its version is not here, so the ALTERs above (each an ACCESS EXCLUSIVE lock) do not run
-- on every deploy and reconcile, where they deadlocked with the dashboard's reads of several tables.
CREATE TABLE IF NOT EXISTS online_schema_versions (
    digest     text        PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
