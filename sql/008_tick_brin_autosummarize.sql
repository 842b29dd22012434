-- BRIN on tick(ts) only narrows a time-range read for ranges it has summarised; pages appended since
-- the last summary are always scanned. Let autovacuum summarise each range as soon as it fills (the
-- backtest reads pass by pass, so an unsummarised table made every read scan all of it). On
-- TimescaleDB the index may not exist (a hypertable brings its own): then nothing to do.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE relname = 'tick_ts_brin' AND relkind = 'i') THEN
        ALTER INDEX tick_ts_brin SET (autosummarize = on);
    END IF;
END $$;
