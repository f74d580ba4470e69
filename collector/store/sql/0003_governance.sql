-- API keys: one row per key version. A key is `sg_<key_id>_<secret>`; only the SHA-256 of the
-- secret is stored. Revoking writes a newer version with `revoked_at` set; reads use FINAL.
-- `project` is the one project the key may touch ('*': every project, operator keys only).
CREATE TABLE IF NOT EXISTS api_keys
(
    key_id String,
    secret_sha256 FixedString(32),
    project String,
    scopes Array(LowCardinality(String)),
    name String,
    created_by String,
    created_at DateTime64(3, 'UTC'),
    revoked_at Nullable(DateTime64(3, 'UTC')),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY key_id;

-- Who did what, when: deletions and key changes. Never deleted by Spyglass (no TTL).
CREATE TABLE IF NOT EXISTS audit_log
(
    at DateTime64(3, 'UTC') DEFAULT now64(3),
    actor String,
    action LowCardinality(String),
    project String,
    target String,
    detail String
)
ENGINE = MergeTree
ORDER BY at;

-- The retention statements last applied (target -> statement and its parameters), so starting
-- a collector with an unchanged policy issues no ALTER (each one rewrites the table's parts).
CREATE TABLE IF NOT EXISTS governance_applied
(
    target String,
    statement String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY target;

-- When the trace index last saw the trace arrive (the view leaves it to this default), so the
-- index expires on the same clock as the spans it points at (retention counts from arrival).
ALTER TABLE trace_index ADD COLUMN IF NOT EXISTS indexed_at SimpleAggregateFunction(max, DateTime64(3, 'UTC')) DEFAULT now64(3);
