-- Alert outbox: a signal that should alert gets a row in the same transaction as the signal; every
-- `mpx evaluate` (and `mpx alerts flush`) sends what is pending, so an alert that failed is retried
-- on a later pass and never lost.
CREATE TABLE alert_outbox (
    id               bigserial PRIMARY KEY,
    signal_id        bigint NOT NULL UNIQUE REFERENCES signal (id) ON DELETE CASCADE,
    signature        text NOT NULL,
    level            text NOT NULL CHECK (level IN ('P1', 'P2', 'P3')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dry_run', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    message_id       bigint,
    last_error       text
);
CREATE INDEX alert_outbox_pending ON alert_outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX alert_outbox_signature ON alert_outbox (signature, created_at DESC);
