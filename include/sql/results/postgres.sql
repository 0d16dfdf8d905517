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
