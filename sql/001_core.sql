-- Core schema: events, markets, outcomes, ticks, signals, job bookkeeping.
-- Prices and sizes are numeric (exact); token ids are text (78-digit decimals, never numbers).

CREATE TABLE event (
    id                  text PRIMARY KEY,
    title               text NOT NULL,
    neg_risk            boolean NOT NULL DEFAULT false,
    neg_risk_augmented  boolean NOT NULL DEFAULT false,
    end_date            timestamptz,
    category            text,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE market (
    id                text PRIMARY KEY,                 -- condition id
    event_id          text REFERENCES event (id),
    slug              text NOT NULL DEFAULT '',
    question          text NOT NULL,
    end_date          timestamptz,
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed', 'resolved')),
    active            boolean NOT NULL DEFAULT true,
    accepting_orders  boolean NOT NULL DEFAULT true,
    category          text,
    neg_risk          boolean NOT NULL DEFAULT false,
    neg_risk_other    boolean NOT NULL DEFAULT false,
    fees_enabled      boolean NOT NULL DEFAULT false,
    fee_rate          numeric CHECK (fee_rate IS NULL OR fee_rate >= 0),  -- NULL with fees_enabled: unknown
    fee_exponent      integer NOT NULL DEFAULT 1,
    tick_size         numeric NOT NULL CHECK (tick_size > 0 AND tick_size < 1),
    min_order_size    numeric NOT NULL DEFAULT 5 CHECK (min_order_size >= 0),
    liquidity         numeric,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX market_event ON market (event_id);

CREATE TABLE outcome (
    token_id   text PRIMARY KEY,
    market_id  text NOT NULL REFERENCES market (id) ON DELETE CASCADE,
    label      text NOT NULL,
    idx        smallint NOT NULL,
    UNIQUE (market_id, idx)
);

-- One row per token per pass in which its book changed. Levels best-first, top N per side; the
-- top-of-book columns are derived from them (so they can never disagree with the levels).
CREATE TABLE tick (
    ts          timestamptz NOT NULL,
    token_id    text NOT NULL,
    market_id   text NOT NULL,
    last_trade  numeric,
    bid_px      numeric[] NOT NULL,
    bid_sz      numeric[] NOT NULL,
    ask_px      numeric[] NOT NULL,
    ask_sz      numeric[] NOT NULL,
    book_digest bigint NOT NULL,    -- digest of the stored levels: unchanged books are not rewritten
    best_bid    numeric GENERATED ALWAYS AS (bid_px[1]) STORED,
    best_ask    numeric GENERATED ALWAYS AS (ask_px[1]) STORED,
    bid_size    numeric GENERATED ALWAYS AS (bid_sz[1]) STORED,
    ask_size    numeric GENERATED ALWAYS AS (ask_sz[1]) STORED,
    -- mid; NULL when the book is one-sided or empty (never guessed)
    price       numeric GENERATED ALWAYS AS ((bid_px[1] + ask_px[1]) * 0.5) STORED
);
CREATE UNIQUE INDEX tick_token_ts ON tick (token_id, ts DESC);
CREATE INDEX tick_ts_brin ON tick USING brin (ts) WITH (pages_per_range = 32);

CREATE TABLE signal (
    id                   bigserial PRIMARY KEY,
    ts                   timestamptz NOT NULL,         -- market time of the evaluation step
    created_at           timestamptz NOT NULL DEFAULT now(),
    rule_id              text NOT NULL,
    rule_type            text NOT NULL,
    level                text NOT NULL CHECK (level IN ('P1', 'P2', 'P3')),
    market_id            text,
    group_key            text,
    message              text NOT NULL,
    edge_score           double precision NOT NULL CHECK (edge_score BETWEEN 0 AND 1),
    estimated_edge_bps   numeric NOT NULL,
    executable_shares    numeric,
    executable_notional  numeric,
    payload              jsonb NOT NULL DEFAULT '{}'::jsonb,
    signature            text NOT NULL,
    UNIQUE (signature, ts)
);
CREATE INDEX signal_ts ON signal (ts DESC);
CREATE INDEX signal_rule_ts ON signal (rule_id, ts DESC);
CREATE INDEX signal_signature_ts ON signal (signature, ts DESC);

CREATE TABLE job_run (
    id           bigserial PRIMARY KEY,
    job          text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'failed', 'skipped')),
    rows         bigint,
    error        text,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX job_run_job_started ON job_run (job, started_at DESC);

-- Small durable state of the jobs: source cursors, the evaluate watermark, the last ingest time.
CREATE TABLE job_state (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per ingest pass: the pass time every tick of the pass carries, and the tokens the pass
-- could not observe. A token observed but unchanged has no new tick; its book is still fresh.
CREATE TABLE ingest_pass (
    ts        timestamptz PRIMARY KEY,
    source    text NOT NULL,
    books     integer NOT NULL,
    written   integer NOT NULL,
    missing   text[] NOT NULL DEFAULT '{}'
);

-- The change digests of the latest pass's books, packed as little-endian int64 in the order the
-- source listed the books, with a hash of that token order. Written in the same transaction as
-- the pass's ticks, so the next pass (same source, same order) compares each book with one array
-- lookup instead of one tick-index probe per token; any other pass falls back to the index.
CREATE TABLE ingest_digest_state (
    id          smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    pass_ts     timestamptz NOT NULL,
    order_hash  bytea NOT NULL,
    digests     bytea NOT NULL
);
