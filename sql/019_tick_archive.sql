-- The tick archive (#18): `mpx archive` moves whole UTC days of ticks older than MPX_ARCHIVE_AFTER
-- out of `tick` into Parquet files under MPX_ARCHIVE_DIR (day=YYYY-MM-DD/part-0.parquet). One row
-- per archived day, inserted in the transaction that deletes the day's rows from `tick`: a day is
-- read from its file exactly when it has a row here (readers never take a day from both places).
-- Each token's latest tick stays in `tick` (it is the token's current book: an unchanged book writes
-- no new tick) and is read from the file for that day; a later archive run deletes it once a newer
-- tick exists.
CREATE TABLE tick_archive_day (
    day         date PRIMARY KEY,                   -- UTC day [day, day + 1)
    path        text NOT NULL,                      -- relative to MPX_ARCHIVE_DIR
    rows        bigint NOT NULL CHECK (rows >= 0),  -- rows in the file (= the day's rows in `tick` when archived)
    checksum    text NOT NULL,                      -- how the rows were verified (see mpx/adapters/archive.py)
    bytes       bigint,                             -- size of the file
    archived_at timestamptz NOT NULL DEFAULT now()
);
