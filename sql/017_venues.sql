-- A second venue (#17): every event, market, signal and intent says which venue it is on. Existing
-- rows are Polymarket's. Ids are the venue's own (Polymarket condition ids and token ids, Kalshi
-- tickers and `<ticker>:yes|no`), unique together with the venue; a market id already stored for
-- another venue is refused at upsert (never overwritten). Ticks are keyed by token id, and a token
-- belongs to one market of one venue.
ALTER TABLE event ADD COLUMN venue text NOT NULL DEFAULT 'polymarket' CHECK (venue ~ '^[a-z][a-z0-9_]*$');
ALTER TABLE market ADD COLUMN venue text NOT NULL DEFAULT 'polymarket' CHECK (venue ~ '^[a-z][a-z0-9_]*$');
CREATE UNIQUE INDEX market_venue_id ON market (venue, id);
CREATE UNIQUE INDEX event_venue_id ON event (venue, id);
CREATE INDEX market_venue_status ON market (venue, status);

-- How a venue rounds its taker fee: Polymarket floors each fill's fee to 0.00001 USDC; Kalshi rounds
-- each fill's fee up to the cent (fee_round_up, fee_quantum 0.01).
ALTER TABLE market ADD COLUMN fee_quantum numeric NOT NULL DEFAULT 0.00001 CHECK (fee_quantum > 0);
ALTER TABLE market ADD COLUMN fee_round_up boolean NOT NULL DEFAULT false;

-- The venues a signal's or an intent's legs are on (one for a single-venue finding, two for a
-- cross-venue one), for `--venue` and for refusing a live order on a venue without a live adapter.
ALTER TABLE signal ADD COLUMN venues text[] NOT NULL DEFAULT '{polymarket}';
ALTER TABLE order_intent ADD COLUMN venues text[] NOT NULL DEFAULT '{polymarket}';
ALTER TABLE opportunity ADD COLUMN venues text[] NOT NULL DEFAULT '{polymarket}';
CREATE INDEX signal_venues ON signal USING gin (venues);

-- Each venue's passes are recorded apart, and each venue keeps its own change digests: venues
-- ingest under their own locks, and a pass of one never invalidates the other's digests (their
-- tokens are disjoint). Pass times stay unique across venues.
ALTER TABLE ingest_pass ADD COLUMN venue text NOT NULL DEFAULT 'polymarket';
CREATE INDEX ingest_pass_venue_ts ON ingest_pass (venue, ts DESC);
ALTER TABLE ingest_digest_state DROP CONSTRAINT ingest_digest_state_id_check;
ALTER TABLE ingest_digest_state DROP CONSTRAINT ingest_digest_state_pkey;
ALTER TABLE ingest_digest_state ADD COLUMN venue text NOT NULL DEFAULT 'polymarket';
ALTER TABLE ingest_digest_state ADD PRIMARY KEY (venue);
ALTER TABLE ingest_digest_state DROP COLUMN id;
