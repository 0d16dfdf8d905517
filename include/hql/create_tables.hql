-- The offline reports' tables. Idempotent: every hive_reports run starts with it.
-- Rendered with params.database and params.hdfs_root (the HadoopConsumer's root, hdfs_layout.py).

CREATE DATABASE IF NOT EXISTS {{ params.database }};

-- Valid entries as the HadoopConsumer lands them: <root>/<topic>/dt=YYYY-MM-DD/hour=HH/*.log.
-- Partitions are registered one by one (report_hour.hql) when their hour is complete, never by
-- MSCK REPAIR, so a half-landed hour is never read.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ params.database }}.logs (
    host STRING,
    config_id BIGINT,
    start_time BIGINT,
    `interval` INT
)
PARTITIONED BY (topic STRING, dt STRING, hour STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
STORED AS TEXTFILE
LOCATION '{{ params.hdfs_root }}';

-- Records that are not entries: <root>/_quarantine/<topic>/dt=/hour=/*.tsv, filed by Kafka timestamp.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ params.database }}.quarantine (
    kafka_partition INT,
    kafka_offset BIGINT,
    kafka_timestamp_ms BIGINT,
    reason STRING,
    raw_base64 STRING
)
PARTITIONED BY (topic STRING, dt STRING, hour STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t'
STORED AS TEXTFILE
LOCATION '{{ params.hdfs_root }}/_quarantine';

-- The side indexes of the entries files: <root>/_line_ids/<topic>/dt=/hour=/*.ids, one row per run
-- of adjacent lines of a host file (its bytes [start_byte, end_byte), `lines` lines) that the entries
-- file of the same name holds (logstream.line_ids.LandedLines); entries sent without a line id have none.
CREATE EXTERNAL TABLE IF NOT EXISTS {{ params.database }}.line_ids (
    host STRING,
    file_id STRING,
    start_byte BIGINT,
    end_byte BIGINT,
    lines BIGINT
)
PARTITIONED BY (topic STRING, dt STRING, hour STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t'
STORED AS TEXTFILE
LOCATION '{{ params.hdfs_root }}/_line_ids';

-- One partition per topic and hour in every report table, replaced as a whole by each report run;
-- `version` says which input of the hour the rows were computed from (see report_runs).
CREATE TABLE IF NOT EXISTS {{ params.database }}.report_records_per_config (
    config_id BIGINT,
    records BIGINT,
    hosts BIGINT,
    version INT
)
PARTITIONED BY (topic STRING, dt STRING, hour STRING)
STORED AS PARQUET;

CREATE TABLE IF NOT EXISTS {{ params.database }}.report_records_per_host (
    host STRING,
    records BIGINT,
    configs BIGINT,
    first_seen BIGINT,
    last_seen BIGINT,
    version INT
)
PARTITIONED BY (topic STRING, dt STRING, hour STRING)
STORED AS PARQUET;

CREATE TABLE IF NOT EXISTS {{ params.database }}.report_top_hosts (
    host_rank INT,
    host STRING,
    records BIGINT,
    share DOUBLE,
    version INT
)
PARTITIONED BY (topic STRING, dt STRING, hour STRING)
STORED AS PARQUET;

CREATE TABLE IF NOT EXISTS {{ params.database }}.report_new_hosts (
    host STRING,
    first_seen BIGINT,
    records BIGINT,
    version INT
)
PARTITIONED BY (topic STRING, dt STRING, hour STRING)
STORED AS PARQUET;

CREATE TABLE IF NOT EXISTS {{ params.database }}.report_interval_outliers (
    host STRING,
    config_id BIGINT,
    start_time BIGINT,
    `interval` INT,
    usual_interval INT,
    version INT
)
PARTITIONED BY (topic STRING, dt STRING, hour STRING)
STORED AS PARQUET;

CREATE TABLE IF NOT EXISTS {{ params.database }}.report_quarantine_reasons (
    reason STRING,
    records BIGINT,
    version INT
)
PARTITIONED BY (topic STRING, dt STRING, hour STRING)
STORED AS PARQUET;

-- One row per version of an hour's reports: what input it saw and which run first produced it.
-- A restatement (late records) is a new row with the next version.
CREATE TABLE IF NOT EXISTS {{ params.database }}.report_runs (
    topic STRING,
    dt STRING,
    hour STRING,
    version INT,
    fingerprint STRING,
    files INT,
    bytes BIGINT,
    records BIGINT,
    quarantined BIGINT,
    run_id STRING,
    reported_at STRING,
    -- watermarks | offsets: complete; lateness_elapsed: reported incomplete (alerted); unchecked
    completeness STRING
)
STORED AS PARQUET;
