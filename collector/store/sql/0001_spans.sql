-- Spans: one row per span. Typed columns for everything Spyglass queries; every other attribute
-- in `attributes` (nothing a client sent is dropped). Captured content lives in its own columns
-- so retention can expire it before the metadata (column TTL, added by the governance migration).
-- ReplacingMergeTree on (project, trace_id, span_id): a span delivered twice (exporter retry,
-- spool replay) collapses to one row; every read uses FINAL so no query ever sees it twice.
-- The sort key is also the trace-by-ID path: one trace is a contiguous key range.
CREATE TABLE IF NOT EXISTS spans
(
    project LowCardinality(String),
    trace_id FixedString(16),
    span_id FixedString(8),
    parent_span_id FixedString(8),
    trace_state String CODEC(ZSTD(1)),
    flags UInt32 CODEC(ZSTD(1)),
    start_time DateTime64(9, 'UTC') CODEC(Delta(8), ZSTD(1)),
    duration_ns UInt64 CODEC(T64, ZSTD(1)),
    name LowCardinality(String) CODEC(ZSTD(1)),
    span_kind LowCardinality(String),
    kind LowCardinality(String),
    status_code LowCardinality(String),
    status_message String CODEC(ZSTD(1)),
    error_type LowCardinality(String),
    service LowCardinality(String),
    scope_name LowCardinality(String),
    scope_version LowCardinality(String),
    tenant LowCardinality(String),
    workflow LowCardinality(String),
    intent LowCardinality(String),
    release LowCardinality(String),
    user_id String CODEC(ZSTD(1)),
    session_id String CODEC(ZSTD(1)),
    operation LowCardinality(String),
    provider LowCardinality(String),
    request_model LowCardinality(String),
    response_model LowCardinality(String),
    endpoint_type LowCardinality(String),
    batch_job_id String CODEC(ZSTD(1)),
    prompt_name LowCardinality(String),
    prompt_version LowCardinality(String),
    prompt_hash LowCardinality(String),
    input_tokens Nullable(UInt32),
    output_tokens Nullable(UInt32),
    cached_input_tokens Nullable(UInt32),
    finish_reasons Array(LowCardinality(String)),
    is_fallback Bool,
    fallback_from LowCardinality(String),
    corpus LowCardinality(String),
    corpus_version LowCardinality(String),
    top_k Nullable(UInt32),
    document_ids Array(String) CODEC(ZSTD(1)),
    document_scores Array(Float32) CODEC(ZSTD(1)),
    tool_name LowCardinality(String),
    tool_schema_version LowCardinality(String),
    tool_call_id String CODEC(ZSTD(1)),
    authorization LowCardinality(String),
    authorization_reason String CODEC(ZSTD(1)),
    data_class LowCardinality(String),
    input String CODEC(ZSTD(3)),
    output String CODEC(ZSTD(3)),
    attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    resource_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    scope_attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    events_time Array(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    events_name Array(LowCardinality(String)) CODEC(ZSTD(1)),
    events_attributes Array(Map(LowCardinality(String), String)) CODEC(ZSTD(1)),
    links_trace_id Array(FixedString(16)) CODEC(ZSTD(1)),
    links_span_id Array(FixedString(8)) CODEC(ZSTD(1)),
    links_trace_state Array(String) CODEC(ZSTD(1)),
    links_attributes Array(Map(LowCardinality(String), String)) CODEC(ZSTD(1)),
    dropped_attributes_count UInt32,
    dropped_events_count UInt32,
    dropped_links_count UInt32,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toDate(start_time)
ORDER BY (project, trace_id, span_id)
SETTINGS index_granularity = 1024;

-- Trace ID -> time window, so a lookup by ID reads only the partitions (days) the trace spans.
CREATE TABLE IF NOT EXISTS trace_index
(
    project LowCardinality(String),
    trace_id FixedString(16),
    start_min SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
    start_max SimpleAggregateFunction(max, DateTime64(9, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (project, trace_id)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS trace_index_mv TO trace_index AS
SELECT project, trace_id, min(start_time) AS start_min, max(start_time) AS start_max
FROM spans
GROUP BY project, trace_id;
