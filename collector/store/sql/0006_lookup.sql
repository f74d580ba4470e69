-- Trace lookup by ID (queries.TRACE_SPANS) reads one granule of every column of one part; its
-- cost was the number of column streams and the bytes decompressed for them (bench/trace_lookup.py).
-- min/max_compress_block_size: with ClickHouse's defaults (64 KiB..1 MiB) a compressed block
-- holds many granules of a small column, so one lookup decompressed ~5 MB to return 10 spans;
-- 4 KiB..64 KiB blocks decompress about a granule's worth. Measured on the same 3 days of the
-- 10M-span bench store: lookups 0.80x the time, storage +2.9 bytes per span (49.9 -> 52.8).
-- prewarm_mark_cache: the marks of every part are loaded into the mark cache on insert, merge
-- and start-up, so the first lookups touching a part do not load its mark files (~90 a lookup).
-- Table settings are metadata: parts written or merged from now on use them; existing parts keep
-- their blocks until merged (OPTIMIZE TABLE spans FINAL rewrites them at once).
ALTER TABLE spans MODIFY SETTING
    min_compress_block_size = 4096, max_compress_block_size = 65536, prewarm_mark_cache = 1;

ALTER TABLE trace_index MODIFY SETTING
    min_compress_block_size = 4096, max_compress_block_size = 65536, prewarm_mark_cache = 1;
