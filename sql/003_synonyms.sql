-- Synonym groups (equivalent questions) and implication relations between markets, refreshed from
-- synonyms.yml and the market questions by every `mpx evaluate` (and `mpx synonyms refresh`).
CREATE TABLE synonym_group (
    key         text PRIMARY KEY,                  -- kw:<name> | list:<name> | auto:<hash of member ids>
    name        text NOT NULL,
    source      text NOT NULL CHECK (source IN ('keywords', 'list', 'similar')),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE synonym_group_member (
    group_key  text NOT NULL REFERENCES synonym_group (key) ON DELETE CASCADE,
    market_id  text NOT NULL REFERENCES market (id) ON DELETE CASCADE,
    PRIMARY KEY (group_key, market_id)
);
CREATE INDEX synonym_group_member_market ON synonym_group_member (market_id);
CREATE TABLE market_relation (
    key         text PRIMARY KEY,                  -- rel:<narrower>><wider>
    narrower    text NOT NULL REFERENCES market (id) ON DELETE CASCADE,
    wider       text NOT NULL REFERENCES market (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('threshold', 'date', 'declared')),
    note        text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (narrower <> wider)
);
CREATE INDEX market_relation_narrower ON market_relation (narrower);
CREATE INDEX market_relation_wider ON market_relation (wider);
