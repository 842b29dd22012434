-- Execution and risk: order intents from P1/P2 signals, confirmed under limits that are checked and
-- reserved atomically here (every confirm locks the one risk_state row while it checks and
-- reserves), paper fills, an audit trail of every state change, and a circuit breaker.

-- What a resolved market paid per share of each outcome (1 / 0, or 0.5 on a 50-50 resolution);
-- NULL until it resolves. Settles intents (and, later, backtest PnL).
ALTER TABLE outcome ADD COLUMN settle_price numeric CHECK (settle_price IS NULL OR settle_price BETWEEN 0 AND 1);

-- The EXEC_* limits in force, versioned: a new version whenever the settings change.
CREATE TABLE execution_policy (
    version     serial PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    params      jsonb NOT NULL,       -- every EXEC_* limit, numbers as exact strings
    fingerprint text NOT NULL
);

CREATE TABLE order_intent (
    id                 bigserial PRIMARY KEY,
    signal_id          bigint NOT NULL REFERENCES signal (id) ON DELETE CASCADE,
    status             text NOT NULL DEFAULT 'suggested' CHECK (status IN (
                           'suggested', 'sent', 'filled', 'partially_filled', 'rejected', 'cancelled',
                           'failed', 'settled', 'closed')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    policy_version     integer NOT NULL REFERENCES execution_policy (version),
    mode               text NOT NULL,                    -- execution adapter: paper | live
    rule_id            text NOT NULL,
    level              text NOT NULL CHECK (level IN ('P1', 'P2')),
    market_ids         text[] NOT NULL,
    legs               jsonb NOT NULL,                   -- planned: token, side, shares, vwap, limit, cost, fee
    shares             numeric NOT NULL CHECK (shares > 0),
    payout_per_share   numeric NOT NULL,                 -- what one share of every leg pays together
    notional           numeric NOT NULL CHECK (notional > 0),  -- planned cost incl. fees
    max_notional       numeric NOT NULL CHECK (max_notional > 0), -- every leg at its limit, incl. fees
    expected_edge_bps  numeric NOT NULL,
    expected_profit    numeric NOT NULL,
    verdict            jsonb,                            -- the last risk verdict: every check, its numbers
    reason             text,                             -- why the last state change happened
    reserved_day       date,                             -- UTC day the notional counts against
    reserved_notional  numeric NOT NULL DEFAULT 0,       -- held while sent; what was spent once filled
    fills              jsonb,                            -- per leg: shares, vwap, cost, fee
    filled_cost        numeric,                          -- Σ fills incl. fees
    confirmed_at       timestamptz,
    executed_at        timestamptz,
    closed_at          timestamptz,                      -- settled at resolution or closed by hand
    pnl                numeric                           -- realised, when settled (or given on close)
);
-- One live intent per signal: a signal that was rejected, cancelled or failed may be tried again;
-- one that is suggested, sent, filled or settled may not (that would double the position).
CREATE UNIQUE INDEX order_intent_one_live ON order_intent (signal_id)
    WHERE status NOT IN ('rejected', 'cancelled', 'failed');
CREATE INDEX order_intent_status ON order_intent (status, id DESC);
CREATE INDEX order_intent_day ON order_intent (reserved_day) WHERE reserved_notional > 0;

-- The audit trail: every state change of every intent, with time, reason and who.
CREATE TABLE order_intent_event (
    id           bigserial PRIMARY KEY,
    intent_id    bigint NOT NULL REFERENCES order_intent (id) ON DELETE CASCADE,
    ts           timestamptz NOT NULL DEFAULT clock_timestamp(),
    from_status  text,
    to_status    text NOT NULL,
    reason       text NOT NULL,
    actor        text NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX order_intent_event_intent ON order_intent_event (intent_id, id);

-- One row: the circuit breaker, and the lock every confirm takes while it checks and reserves.
CREATE TABLE risk_state (
    id                    integer PRIMARY KEY CHECK (id = 1),
    breaker               text NOT NULL DEFAULT 'closed' CHECK (breaker IN ('closed', 'open')),
    opened_at             timestamptz,
    open_until            timestamptz,
    reason                text,
    consecutive_failures  integer NOT NULL DEFAULT 0,
    loss_since            timestamptz,                 -- a reset forgives the losses before it
    updated_at            timestamptz NOT NULL DEFAULT now()
);
INSERT INTO risk_state (id) VALUES (1);

CREATE TABLE risk_event (
    id       bigserial PRIMARY KEY,
    ts       timestamptz NOT NULL DEFAULT clock_timestamp(),
    action   text NOT NULL,     -- opened | closed | reset
    reason   text NOT NULL,
    actor    text NOT NULL,
    details  jsonb NOT NULL DEFAULT '{}'::jsonb
);
