-- Three levels of risk and the canary (#16).
-- A canary intent was sent at the market's minimum order size (EXEC_CANARY: the first intent of a
-- UTC day in its EXEC_MODE, and the first after a change of the execution policy); its legs and
-- shares are the canary's, the planned size stays in its audit trail.
ALTER TABLE order_intent ADD COLUMN canary boolean NOT NULL DEFAULT false;

-- The strategy level sums reservations and open intents per rule.
CREATE INDEX order_intent_rule_day ON order_intent (rule_id, reserved_day) WHERE reserved_notional > 0;
