-- Daily rule KPIs, rolled up from signals and opportunities by `mpx kpi` (UTC days).
CREATE TABLE rule_kpi_daily (
    day                  date NOT NULL,
    rule_id              text NOT NULL,
    signals              integer NOT NULL,
    p1                   integer NOT NULL,
    avg_gap_seconds      numeric,           -- mean time between consecutive signals of the rule that day
    avg_edge_bps         numeric,           -- mean estimated net edge of its signals
    total_edge_usdc      numeric NOT NULL,  -- Σ net profit of its signals at their executable size
    episodes             integer NOT NULL,  -- opportunities opened that day
    median_episode_seconds numeric,         -- of those that have closed
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, rule_id)
);
