-- Two classes of finding. An *arbitrage* is a set of legs whose payout is guaranteed in every state
-- of the world: it carries its net edge (estimated_edge_bps), the payout per set, the executable
-- size and its legs (payload->'arbitrage', with the payout in every state). An *indicator* (spike,
-- trend, endgame, a possible relation) carries its own named measure and never a net edge. Only
-- arbitrage can become an order intent.

ALTER TABLE signal ADD COLUMN finding_class text;
ALTER TABLE signal ADD COLUMN measure text;            -- indicators: what measure_value is (move_bps, …)
ALTER TABLE signal ADD COLUMN measure_value numeric;
ALTER TABLE signal ADD COLUMN payout_per_share numeric; -- arbitrage: the guaranteed payout of one set

-- Signals stored before this migration: the kinds that priced a complete set were arbitrage (their
-- rows lack the payout table, so they cannot become intents); the others held a move, a break or a
-- return in estimated_edge_bps: it moves to the measure.
UPDATE signal SET finding_class = CASE
    WHEN rule_type IN ('SUM_LT_1', 'DUTCH_BOOK_DETECT') THEN 'arbitrage'
    WHEN rule_type IN ('SYNONYM_MISPRICE', 'CROSS_MARKET_MISPRICE') AND payload->>'kind' = 'arbitrage' THEN 'arbitrage'
    ELSE 'indicator' END;
UPDATE signal SET measure = CASE rule_type
        WHEN 'SPIKE' THEN 'move_bps' WHEN 'TREND_BREAKOUT' THEN 'break_bps' WHEN 'ENDGAME' THEN 'return_if_right_bps'
        ELSE 'gap_bps' END,
    measure_value = coalesce(nullif(payload->>'metric', '')::numeric, estimated_edge_bps),
    estimated_edge_bps = NULL, executable_shares = NULL, executable_notional = NULL
WHERE finding_class = 'indicator';

ALTER TABLE signal ALTER COLUMN finding_class SET NOT NULL;
ALTER TABLE signal ALTER COLUMN estimated_edge_bps DROP NOT NULL;
ALTER TABLE signal ADD CONSTRAINT signal_finding_class CHECK (finding_class IN ('arbitrage', 'indicator'));
ALTER TABLE signal ADD CONSTRAINT signal_arbitrage_has_edge
    CHECK ((finding_class = 'arbitrage') = (estimated_edge_bps IS NOT NULL));
ALTER TABLE signal ADD CONSTRAINT signal_indicator_has_measure
    CHECK ((finding_class = 'indicator') = (measure IS NOT NULL AND measure_value IS NOT NULL));

-- Opportunities track the finding's metric: the net edge for arbitrage, the indicator's measure
-- otherwise (named in `measure`), never mixed.
ALTER TABLE opportunity RENAME COLUMN first_edge_bps TO first_metric;
ALTER TABLE opportunity RENAME COLUMN last_edge_bps TO last_metric;
ALTER TABLE opportunity RENAME COLUMN max_edge_bps TO max_metric;
ALTER TABLE opportunity RENAME COLUMN alerted_edge_bps TO alerted_metric;
ALTER TABLE opportunity ADD COLUMN finding_class text;
ALTER TABLE opportunity ADD COLUMN measure text;
UPDATE opportunity SET
    finding_class = CASE WHEN rule_type IN ('SUM_LT_1', 'DUTCH_BOOK_DETECT') THEN 'arbitrage' ELSE 'indicator' END,
    measure = CASE rule_type
        WHEN 'SUM_LT_1' THEN 'net_edge_bps' WHEN 'DUTCH_BOOK_DETECT' THEN 'net_edge_bps'
        WHEN 'SPIKE' THEN 'move_bps' WHEN 'TREND_BREAKOUT' THEN 'break_bps' WHEN 'ENDGAME' THEN 'return_if_right_bps'
        ELSE 'gap_bps' END;
ALTER TABLE opportunity ALTER COLUMN finding_class SET NOT NULL;
ALTER TABLE opportunity ALTER COLUMN measure SET NOT NULL;
ALTER TABLE opportunity ADD CONSTRAINT opportunity_finding_class CHECK (finding_class IN ('arbitrage', 'indicator'));

-- KPIs per (day, rule, class): arbitrage rows average the net edge and total the profit locked in
-- at entry; indicator rows average their own measure (avg_edge_bps and total_edge_usdc stay NULL).
ALTER TABLE rule_kpi_daily ADD COLUMN finding_class text;
ALTER TABLE rule_kpi_daily ADD COLUMN measure text;
ALTER TABLE rule_kpi_daily ADD COLUMN avg_measure numeric;
ALTER TABLE rule_kpi_daily ALTER COLUMN total_edge_usdc DROP NOT NULL;
UPDATE rule_kpi_daily SET finding_class = 'arbitrage', measure = 'net_edge_bps', avg_measure = avg_edge_bps;
ALTER TABLE rule_kpi_daily ALTER COLUMN finding_class SET NOT NULL;
ALTER TABLE rule_kpi_daily ALTER COLUMN measure SET NOT NULL;
ALTER TABLE rule_kpi_daily DROP CONSTRAINT rule_kpi_daily_pkey;
ALTER TABLE rule_kpi_daily ADD PRIMARY KEY (day, rule_id, finding_class);

-- What the source says about a market's resolution (structural ladders need the same rules), and
-- how many markets it lists for an event (an event missing one is not a complete outcome set).
ALTER TABLE market ADD COLUMN description text NOT NULL DEFAULT '';
ALTER TABLE market ADD COLUMN resolution_source text NOT NULL DEFAULT '';
ALTER TABLE event ADD COLUMN listed_markets integer CHECK (listed_markets IS NULL OR listed_markets >= 0);
ALTER TABLE event ADD COLUMN dropped text[] NOT NULL DEFAULT '{}';
