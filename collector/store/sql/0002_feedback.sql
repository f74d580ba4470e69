-- Feedback events: thumbs, scores, comments, escalations, human overrides and resolutions,
-- attached to a trace and optionally to one span of it. Events for one trace arrive over days,
-- possibly before its spans; each is kept, and reads order them by `timestamp`.
-- ReplacingMergeTree on (project, trace_id, event_id): a retried POST carrying the same event
-- `id` is stored once as far as any read (FINAL) can tell.
-- Feedback is orders of magnitude smaller than spans, so one unpartitioned table serves both
-- reads: by trace (a sort-key prefix) and the inbox (a scan of a small table).
CREATE TABLE IF NOT EXISTS feedback
(
    project LowCardinality(String),
    trace_id FixedString(16),
    span_id FixedString(8),
    event_id String,
    timestamp DateTime64(9, 'UTC') CODEC(Delta(8), ZSTD(1)),
    received_at DateTime64(9, 'UTC') CODEC(Delta(8), ZSTD(1)),
    thumbs LowCardinality(String),
    score Nullable(Float64),
    comment String CODEC(ZSTD(3)),
    source LowCardinality(String),
    escalation_reason String CODEC(ZSTD(1)),
    override String CODEC(ZSTD(3)),
    resolution String CODEC(ZSTD(1)),
    attributes Map(LowCardinality(String), String) CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree(received_at)
ORDER BY (project, trace_id, event_id);
