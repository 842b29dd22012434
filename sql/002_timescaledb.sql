-- requires: timescaledb
-- Applied only where the timescaledb extension is active; plain PostgreSQL keeps the same tables
-- (tick with a BRIN index on ts) and mpx computes its rollups itself.

SELECT create_hypertable('tick', 'ts', chunk_time_interval => interval '1 day', migrate_data => true);

ALTER TABLE tick SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'token_id',
    timescaledb.compress_orderby = 'ts DESC'
);
SELECT add_compression_policy('tick', interval '7 days');
SELECT add_retention_policy('tick', interval '180 days');

CREATE MATERIALIZED VIEW tick_1m WITH (timescaledb.continuous) AS
SELECT time_bucket(interval '1 minute', ts) AS bucket,
       token_id,
       market_id,
       first(price, ts) AS open,
       max(price)       AS high,
       min(price)       AS low,
       last(price, ts)  AS close,
       count(*)         AS ticks
FROM tick
GROUP BY bucket, token_id, market_id
WITH NO DATA;

SELECT add_continuous_aggregate_policy('tick_1m',
    start_offset => interval '1 hour',
    end_offset => interval '1 minute',
    schedule_interval => interval '1 minute');
