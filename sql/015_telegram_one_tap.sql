-- #16 one tap in Telegram: the event's slug (its page on the venue: https://polymarket.com/event/<slug>)
-- and one row per button pressed (callback query): who, what, on which signal or intent, and what
-- came of it — also the refusals (a user not in TELEGRAM_ALLOWED_USERS, an expired or forged button).
-- callback_id is unique: a callback query delivered twice (a poll that died before storing its
-- offset, two polls at once) is acted on once.
ALTER TABLE event ADD COLUMN slug text NOT NULL DEFAULT '';

CREATE TABLE telegram_action (
    id           bigserial PRIMARY KEY,
    ts           timestamptz NOT NULL DEFAULT clock_timestamp(),
    callback_id  text NOT NULL UNIQUE,
    update_id    bigint NOT NULL,
    user_id      bigint,
    username     text,
    action       text,                              -- create | confirm | cancel (NULL: unreadable button)
    target_id    bigint,                            -- the signal (create) or the intent (confirm, cancel)
    outcome      text NOT NULL DEFAULT 'claimed',   -- claimed | refused | expired | forged | created | filled | …
    detail       text
);
CREATE INDEX telegram_action_target ON telegram_action (action, target_id);
