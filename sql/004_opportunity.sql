-- Episodes: signals with the same signature form one opportunity that opens, updates and closes.
-- A stored signal is an alert-worthy event of an opportunity: it opened, or improved materially.
CREATE TABLE opportunity (
    id                       bigserial PRIMARY KEY,
    signature                text NOT NULL,
    rule_id                  text NOT NULL,
    rule_type                text NOT NULL,
    market_id                text,
    group_key                text,
    market_ids               text[] NOT NULL DEFAULT '{}',
    opened_at                timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    closed_at                timestamptz CHECK (closed_at IS NULL OR closed_at >= opened_at),
    duration                 interval GENERATED ALWAYS AS (closed_at - opened_at) STORED,
    first_edge_bps           numeric NOT NULL,
    last_edge_bps            numeric NOT NULL,
    max_edge_bps             numeric NOT NULL,
    best_level               text NOT NULL CHECK (best_level IN ('P1', 'P2', 'P3')),
    max_executable_shares    numeric,
    max_executable_notional  numeric,
    alerted_edge_bps         numeric,
    alerted_level            text CHECK (alerted_level IN ('P1', 'P2', 'P3')),
    last_alert_at            timestamptz,
    steps                    integer NOT NULL DEFAULT 1 CHECK (steps >= 1),
    last_message             text NOT NULL
);
-- at most one open opportunity per signature
CREATE UNIQUE INDEX opportunity_open_signature ON opportunity (signature) WHERE closed_at IS NULL;
CREATE INDEX opportunity_opened ON opportunity (opened_at DESC);
CREATE INDEX opportunity_rule_opened ON opportunity (rule_id, opened_at DESC);

ALTER TABLE signal ADD COLUMN opportunity_id bigint REFERENCES opportunity (id) ON DELETE SET NULL;
ALTER TABLE signal ADD COLUMN reason text CHECK (reason IN ('opened', 'improved'));
CREATE INDEX signal_opportunity ON signal (opportunity_id);
