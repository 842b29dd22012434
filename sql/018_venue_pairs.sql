-- Cross-venue pairs (#17): the same question on two venues, proposed by the matcher and proven by a
-- person. One row per market pair, so a pair keeps its id across proposals (`mpx pairs propose |
-- confirm ID --orientation same|inverted | reject ID | list`). market_a is the first market (the
-- Polymarket one): the orientation says whether market_b's YES is market_a's outcome 0 (same) or
-- outcome 1 (inverted).
CREATE TABLE venue_pair (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    market_a    text NOT NULL REFERENCES market (id) ON DELETE CASCADE,
    market_b    text NOT NULL REFERENCES market (id) ON DELETE CASCADE,
    reason      text NOT NULL DEFAULT '',
    proposed    boolean NOT NULL DEFAULT true,      -- the latest proposal still proposes it
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    CHECK (market_a <> market_b),
    UNIQUE (market_a, market_b)
);
CREATE INDEX venue_pair_market_b ON venue_pair (market_b);

-- Verdicts, append-only: the latest row of a pair is its verdict. `fingerprints` holds each
-- market's fingerprint (question, close time, resolution source, rules) when the verdict was given:
-- when one changes the verdict lapses (proves nothing, rejects nothing).
CREATE TABLE venue_pair_verdict (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pair_id       integer NOT NULL REFERENCES venue_pair (id) ON DELETE CASCADE,
    decision      text NOT NULL CHECK (decision IN ('confirmed', 'rejected')),
    orientation   text CHECK (orientation IN ('same', 'inverted')),
    note          text NOT NULL DEFAULT '',
    actor         text NOT NULL,                   -- OS user@host
    decided_at    timestamptz NOT NULL DEFAULT now(),
    fingerprints  jsonb NOT NULL,                  -- {market id: fingerprint}
    CHECK ((decision = 'confirmed') = (orientation IS NOT NULL))
);
CREATE INDEX venue_pair_verdict_pair ON venue_pair_verdict (pair_id, id DESC);
