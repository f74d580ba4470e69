-- Requests: one row per trace (about 10x fewer rows than spans), what the cohort review and the
-- trace list read instead of grouping every span of a window. Rows are computed from
-- `spans FINAL` by `rollup.Rollup` for the traces that received spans since its last refresh
-- (trace_index.indexed_at says when), so a span delivered twice counts once and a late span
-- recomputes its trace. ReplacingMergeTree on (project, trace_id), newest `refreshed_at` wins.
-- Not partitioned by time: a trace's start moves when an earlier span (the root, exported
-- last) arrives after its children, and a row must keep its key and partition to be replaced.
-- Model calls are kept as parallel arrays (call_*, starts as offsets from the request's start)
-- so cost is priced at query time with the current price table, exactly as analytics.cost
-- prices spans. Stage times (st_*: wall time during which a span of the stage was open; any:
-- of any stage) are in microseconds. `any_*` hold the other distinct values spans of the trace
-- carry besides the request's own (tenant etc.; every model name for any_model): the trace
-- list's filters match a trace when any span carries the value. Sizes (bench/storage.py,
-- bench/cohort_review.py) drove the codecs: T64 for integers, offsets rather than absolute
-- call starts (rows are in trace-ID order, so neighbours' times are unrelated).
CREATE TABLE IF NOT EXISTS requests
(
    project LowCardinality(String),
    trace_id FixedString(16) CODEC(ZSTD(1)),
    start_ns Int64 CODEC(T64, ZSTD(1)),
    duration_ns Int64 CODEC(T64, ZSTD(1)),
    name LowCardinality(String) CODEC(ZSTD(1)),
    service LowCardinality(String) CODEC(ZSTD(1)),
    tenant LowCardinality(String) CODEC(ZSTD(1)),
    workflow LowCardinality(String) CODEC(ZSTD(1)),
    intent LowCardinality(String) CODEC(ZSTD(1)),
    release LowCardinality(String) CODEC(ZSTD(1)),
    prompt LowCardinality(String) CODEC(ZSTD(1)),
    model LowCardinality(String) CODEC(ZSTD(1)),
    corpus LowCardinality(String) CODEC(ZSTD(1)),
    failed Bool CODEC(ZSTD(1)),
    timed_out Bool CODEC(ZSTD(1)),
    fell_back Bool CODEC(ZSTD(1)),
    span_count UInt32 CODEC(T64, ZSTD(1)),
    error_count UInt32 CODEC(T64, ZSTD(1)),
    tool_calls UInt32 CODEC(T64, ZSTD(1)),
    tool_failures UInt32 CODEC(T64, ZSTD(1)),
    denied UInt32 CODEC(T64, ZSTD(1)),
    retrievals UInt32 CODEC(T64, ZSTD(1)),
    empty_retrievals UInt32 CODEC(T64, ZSTD(1)),
    input_tokens UInt64 CODEC(T64, ZSTD(1)),
    output_tokens UInt64 CODEC(T64, ZSTD(1)),
    st_model_us UInt32 CODEC(T64, ZSTD(1)),
    st_retrieval_us UInt32 CODEC(T64, ZSTD(1)),
    st_rerank_us UInt32 CODEC(T64, ZSTD(1)),
    st_tool_us UInt32 CODEC(T64, ZSTD(1)),
    st_any_us UInt32 CODEC(T64, ZSTD(1)),
    models Array(LowCardinality(String)) CODEC(ZSTD(1)),
    any_tenant Array(LowCardinality(String)) CODEC(ZSTD(1)),
    any_workflow Array(LowCardinality(String)) CODEC(ZSTD(1)),
    any_intent Array(LowCardinality(String)) CODEC(ZSTD(1)),
    any_release Array(LowCardinality(String)) CODEC(ZSTD(1)),
    any_prompt Array(LowCardinality(String)) CODEC(ZSTD(1)),
    any_model Array(LowCardinality(String)) CODEC(ZSTD(1)),
    any_corpus Array(LowCardinality(String)) CODEC(ZSTD(1)),
    call_kind Array(LowCardinality(String)) CODEC(ZSTD(1)),
    call_request_model Array(LowCardinality(String)) CODEC(ZSTD(1)),
    call_response_model Array(LowCardinality(String)) CODEC(ZSTD(1)),
    call_provider Array(LowCardinality(String)) CODEC(ZSTD(1)),
    call_offset_ns Array(Int64) CODEC(T64, ZSTD(1)),
    call_input_tokens Array(Nullable(UInt32)) CODEC(ZSTD(1)),
    call_output_tokens Array(Nullable(UInt32)) CODEC(ZSTD(1)),
    call_cached_input_tokens Array(Nullable(UInt32)) CODEC(ZSTD(1)),
    last_ingested DateTime('UTC') CODEC(ZSTD(1)),
    refreshed_at DateTime64(3, 'UTC') CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree(refreshed_at)
ORDER BY (project, trace_id)
SETTINGS index_granularity = 8192;
