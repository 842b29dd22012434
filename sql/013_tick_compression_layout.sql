-- requires: timescaledb
-- Compression layout of tick, from bench/timescale_compression.py (results in
-- bench/results/timescale_compression.txt; an hour of 10,000 tokens, a pass every 10 s, 20% of
-- books changing, 10 levels a side: 730,000 ticks, 635 MB uncompressed with indexes).
--
-- segmentby token_id (002) compressed best (12.0x; market_id 14.0x) but made the backtest unusable
-- on compressed chunks: a token writes a tick every ~50 s, so each token's batch spans the whole
-- chunk and every per-pass time-range query (replay.PASS_SQL) decompresses every batch of the chunk:
-- replay.stream fell from ~80k to ~7k ticks/s on an hour-long chunk, run_backtest to ~4.8k ticks/s,
-- and with 1-day chunks each pass would decompress ~24x more. No segmentby, ordered by ts: batches
-- of 1000 consecutive ticks, so a pass touches 2-3 batches (found through the ts min/max index):
-- replay.stream ~53k ticks/s compressed (uncompressed ~69k), run_backtest ~17-19k ticks/s; 5.9x
-- smaller (149 bytes/tick instead of 73 — the price we pay). TimescaleDB adds a bloom filter on
-- token_id (the unique index's column), so per-token lookups (books_as_of) still skip batches.
-- ts DESC vs ts measured the same within noise; DESC kept (latest-first lookups).
--
-- Chunk interval 1 day -> 6 hours: ~870 bytes per uncompressed tick with indexes means ~17M ticks,
-- ~15 GB, per day at this rate: an uncompressed 1-day chunk does not fit the memory of a small
-- server (TimescaleDB's guide: the active chunk and its indexes within ~25% of RAM), and
-- compressing one took ~28 s per 730k ticks, i.e. ~11 min per day chunk in one transaction. With
-- no segmentby the batches are 1000 ticks whatever the interval, so the ratio does not depend on
-- it. Affects new chunks only.
--
-- Existing compressed chunks keep the layout they were compressed with (TimescaleDB stores
-- settings per chunk; ALTER needs no decompression) and stay readable; to give them the new layout,
-- recompress them outside a migration, one chunk per transaction:
--   SELECT decompress_chunk('<chunk>'); SELECT compress_chunk('<chunk>');
-- The compression (7 days) and retention (180 days) policies and tick_1m are unchanged.

ALTER TABLE tick SET (
    timescaledb.compress_segmentby = '',
    timescaledb.compress_orderby = 'ts DESC'
);
SELECT set_chunk_time_interval('tick', interval '6 hours');
