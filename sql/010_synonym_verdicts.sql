-- Equivalence between markets is proven, never guessed from similar text. A synonym group or a
-- relation is `proven` (declared in synonyms.yml by market ids, confirmed by a person, or a
-- structural ladder) or a candidate; `basis` says why, in one line.
ALTER TABLE synonym_group ADD COLUMN proven boolean NOT NULL DEFAULT false;
ALTER TABLE synonym_group ADD COLUMN basis text NOT NULL DEFAULT '';
ALTER TABLE synonym_group DROP CONSTRAINT synonym_group_source_check;
ALTER TABLE synonym_group ADD CONSTRAINT synonym_group_source_check
    CHECK (source IN ('keywords', 'list', 'similar', 'confirmed'));

ALTER TABLE market_relation ADD COLUMN proven boolean NOT NULL DEFAULT false;
ALTER TABLE market_relation ADD COLUMN basis text NOT NULL DEFAULT '';
ALTER TABLE market_relation DROP CONSTRAINT market_relation_kind_check;
ALTER TABLE market_relation ADD CONSTRAINT market_relation_kind_check
    CHECK (kind IN ('threshold', 'date', 'declared', 'confirmed'));

-- What the matcher proposed but could not prove, one row per market pair (whichever order it was
-- proposed in), so a pair keeps its id across refreshes: `mpx synonyms candidates | confirm ID |
-- reject ID`. `kind`: equivalent (market_a ≡ market_b) or implies (market_a ⇒ market_b).
-- `proposed`: the latest build still proposes it.
CREATE TABLE synonym_candidate (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    market_a    text NOT NULL REFERENCES market (id) ON DELETE CASCADE,
    market_b    text NOT NULL REFERENCES market (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('equivalent', 'implies')),
    reason      text NOT NULL DEFAULT '',
    proposed    boolean NOT NULL DEFAULT true,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    CHECK (market_a <> market_b)
);
CREATE UNIQUE INDEX synonym_candidate_pair ON synonym_candidate (least(market_a, market_b), greatest(market_a, market_b));
CREATE INDEX synonym_candidate_market_b ON synonym_candidate (market_b);

-- Verdicts, append-only: the latest row of a candidate is its verdict. `fingerprints` holds each
-- market's fingerprint (question, end date, resolution source, rules) when the verdict was given:
-- when one changes the verdict lapses (proves nothing, rejects nothing).
CREATE TABLE synonym_verdict (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    candidate_id  integer NOT NULL REFERENCES synonym_candidate (id) ON DELETE CASCADE,
    decision      text NOT NULL CHECK (decision IN ('confirmed', 'rejected')),
    relation      text CHECK (relation IN ('equivalent', 'implies')),
    narrower      text,                            -- implies: this market's YES implies the other's
    note          text NOT NULL DEFAULT '',
    actor         text NOT NULL,                   -- OS user@host
    decided_at    timestamptz NOT NULL DEFAULT now(),
    fingerprints  jsonb NOT NULL,                  -- {market id: fingerprint}
    CHECK ((decision = 'confirmed') = (relation IS NOT NULL)),
    CHECK ((relation IS NOT DISTINCT FROM 'implies') = (narrower IS NOT NULL))
);
CREATE INDEX synonym_verdict_candidate ON synonym_verdict (candidate_id, id DESC);
