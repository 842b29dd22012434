-- No execution path may leave a naked leg: legs are sent fill-or-kill, and when a later leg is
-- killed after earlier ones filled, what filled is sold back (unwound). Two new intent statuses:
--   unwound   — every share bought was sold back; the realised loss is the intent's pnl (negative)
--   unwinding — shares are still held that could not be sold within the loss cap: a naked position,
--               counted as open; `mpx intents unwind ID` retries.
ALTER TABLE order_intent DROP CONSTRAINT order_intent_status_check;
ALTER TABLE order_intent ADD CONSTRAINT order_intent_status_check CHECK (status IN (
    'suggested', 'sent', 'filled', 'partially_filled', 'rejected', 'cancelled', 'failed', 'settled', 'closed',
    'unwound', 'unwinding'));

-- The unwind of an intent: every sell of every attempt (shares, proceeds, fee, floor, best bid), the
-- positions still held, the loss cap of the last attempt and the realised loss once done.
ALTER TABLE order_intent ADD COLUMN unwind jsonb;

-- Execution alerts go through the same outbox as signal alerts (flushed by `mpx evaluate` and
-- `mpx alerts flush`): such a row has no signal, its own text (numbers and labels only, never a
-- secret) and the intent it is about.
ALTER TABLE alert_outbox ALTER COLUMN signal_id DROP NOT NULL;
ALTER TABLE alert_outbox ADD COLUMN text text;
ALTER TABLE alert_outbox ADD COLUMN intent_id bigint REFERENCES order_intent (id) ON DELETE CASCADE;
ALTER TABLE alert_outbox ADD CONSTRAINT alert_outbox_subject
    CHECK ((signal_id IS NOT NULL AND text IS NULL) OR (signal_id IS NULL AND text IS NOT NULL));
