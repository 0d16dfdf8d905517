-- The online statistics' result store (Oracle 19c+), the same tables as postgres.sql for
-- logstream.results.store.OracleResultStore. NOT run here: no Oracle server is obtainable on this
-- machine (PyPI, Debian and npm carry none); written against Oracle's documentation.
-- Run once per schema (Oracle has no CREATE TABLE IF NOT EXISTS before 23ai).
CREATE TABLE online_pane_config_counts (
    topic        VARCHAR2(249)            NOT NULL,
    pane_start   TIMESTAMP WITH TIME ZONE NOT NULL,
    config_id    NUMBER(19)               NOT NULL,
    records      NUMBER(19)               NOT NULL,
    late_records NUMBER(19)  DEFAULT 0    NOT NULL,
    PRIMARY KEY (topic, pane_start, config_id)
);
CREATE TABLE online_pane_host_counts (
    topic        VARCHAR2(249)            NOT NULL,
    pane_start   TIMESTAMP WITH TIME ZONE NOT NULL,
    host         VARCHAR2(64)             NOT NULL,
    records      NUMBER(19)               NOT NULL,
    late_records NUMBER(19)  DEFAULT 0    NOT NULL,
    PRIMARY KEY (topic, pane_start, host)
);
CREATE TABLE online_pane_totals (
    topic           VARCHAR2(249)            NOT NULL,
    pane_start      TIMESTAMP WITH TIME ZONE NOT NULL,
    records         NUMBER(19)               NOT NULL,
    late_records    NUMBER(19) DEFAULT 0     NOT NULL,
    expired_records NUMBER(19) DEFAULT 0     NOT NULL,
    updated_at      TIMESTAMP WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL,
    PRIMARY KEY (topic, pane_start)
);
CREATE TABLE online_bad_records (
    topic   VARCHAR2(249)            NOT NULL,
    minute  TIMESTAMP WITH TIME ZONE NOT NULL,
    reason  VARCHAR2(64)             NOT NULL,
    records NUMBER(19)               NOT NULL,
    PRIMARY KEY (topic, minute, reason)
);
CREATE TABLE online_offsets (
    topology    VARCHAR2(249)            NOT NULL,
    topic       VARCHAR2(249)            NOT NULL,
    partition   NUMBER(10)               NOT NULL,
    next_offset NUMBER(19)               NOT NULL,
    updated_at  TIMESTAMP WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL,
    watermark   NUMBER(19),
    -- the byte ranges of host files counted up to next_offset (logstream/line_ids.py, JSON)
    line_ranges CLOB,
    PRIMARY KEY (topology, topic, partition)
);
CREATE TABLE online_retention_losses (
    topology    VARCHAR2(249)            NOT NULL,
    topic       VARCHAR2(249)            NOT NULL,
    partition   NUMBER(10)               NOT NULL,
    from_offset NUMBER(19)               NOT NULL,
    to_offset   NUMBER(19)               NOT NULL,
    noticed_at  TIMESTAMP WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL,
    PRIMARY KEY (topology, topic, partition, from_offset)
);
CREATE TABLE online_flushes (
    topology     VARCHAR2(249)            NOT NULL,
    topic        VARCHAR2(249)            NOT NULL,
    partition    NUMBER(10)               NOT NULL,
    first_offset NUMBER(19)               NOT NULL,
    last_offset  NUMBER(19)               NOT NULL,
    records      NUMBER(19)               NOT NULL,
    expired      NUMBER(19),
    committed_at TIMESTAMP WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL,
    PRIMARY KEY (topology, topic, partition, first_offset)
);
CREATE INDEX online_flushes_by_topic ON online_flushes (topic, committed_at);
CREATE TABLE online_pane_closes (
    topology          VARCHAR2(249)            NOT NULL,
    topic             VARCHAR2(249)            NOT NULL,
    partition         NUMBER(10)               NOT NULL,
    pane_start        TIMESTAMP WITH TIME ZONE NOT NULL,
    closed_by_offset  NUMBER(19)               NOT NULL,
    closed_by_time    TIMESTAMP WITH TIME ZONE NOT NULL,
    committed_at      TIMESTAMP WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL,
    PRIMARY KEY (topology, topic, partition, pane_start)
);
CREATE OR REPLACE VIEW online_window_totals AS
SELECT p.topic, p.pane_start + INTERVAL '1' MINUTE AS window_end,
       SUM(w.records) AS records, SUM(w.late_records) AS late_records, SUM(w.expired_records) AS expired_records
FROM online_pane_totals p
JOIN online_pane_totals w
  ON w.topic = p.topic AND w.pane_start > p.pane_start - INTERVAL '5' MINUTE AND w.pane_start <= p.pane_start
GROUP BY p.topic, p.pane_start;
CREATE OR REPLACE VIEW online_window_top_hosts AS
SELECT topic, window_end, host, records,
       RANK() OVER (PARTITION BY topic, window_end ORDER BY records DESC, host) AS rank
FROM (
    SELECT e.topic, e.window_end, h.host, SUM(h.records) AS records
    FROM (SELECT DISTINCT topic, pane_start + INTERVAL '1' MINUTE AS window_end FROM online_pane_totals) e
    JOIN online_pane_host_counts h
      ON h.topic = e.topic AND h.pane_start >= e.window_end - INTERVAL '5' MINUTE AND h.pane_start < e.window_end
    GROUP BY e.topic, e.window_end, h.host
) hosts;

-- The reconciliation's tables (written by the reconcile DAG; NOT run here either: the
-- reconciliation writes through psycopg2 and is verified on PostgreSQL only).
CREATE TABLE reconciliation_hours (
    topic           VARCHAR2(249)            NOT NULL,
    hour_start      TIMESTAMP WITH TIME ZONE NOT NULL,
    status          VARCHAR2(16)             NOT NULL,
    online_records  NUMBER(19)               NOT NULL,
    online_expired  NUMBER(19)               NOT NULL,
    offline_records NUMBER(19)               NOT NULL,
    offline_version NUMBER(10)               NOT NULL,
    differing_keys  NUMBER(10)               NOT NULL,
    checked_at      TIMESTAMP WITH TIME ZONE DEFAULT SYSTIMESTAMP NOT NULL,
    PRIMARY KEY (topic, hour_start)
);
CREATE TABLE reconciliation_keys (
    topic           VARCHAR2(249)            NOT NULL,
    hour_start      TIMESTAMP WITH TIME ZONE NOT NULL,
    kind            VARCHAR2(8)              NOT NULL,
    key             VARCHAR2(64)             NOT NULL,
    online_records  NUMBER(19)               NOT NULL,
    offline_records NUMBER(19)               NOT NULL,
    PRIMARY KEY (topic, hour_start, kind, key)
);
