-- Polymarket 2026 (#15): a market's protocol version (v1: outcome ids from clobTokenIds; v2,
-- Protocol V2: from positionIds) and the rest of its per-market fee schedule. The taker fee still
-- uses fee_rate/fee_exponent only; takerOnly and rebateRate are kept as the venue states them.
ALTER TABLE market ADD COLUMN protocol_version text CHECK (protocol_version IN ('v1', 'v2'));
ALTER TABLE market ADD COLUMN fee_type text;
ALTER TABLE market ADD COLUMN fee_taker_only boolean NOT NULL DEFAULT true;
ALTER TABLE market ADD COLUMN fee_rebate_rate numeric CHECK (fee_rebate_rate IS NULL OR fee_rebate_rate BETWEEN 0 AND 1);
