"""The real recorded Polymarket universe (../shared/data/polymarket, copied into tests/fixtures)
through `mpx ingest` (DATA_SOURCE=real, local stand-in) and `mpx evaluate` with every shipped rule.

Books: the real recorded CLOB book for the one token it belongs to (the Fed "50+ bps" YES), and for
every other token a one-level book at the market's *recorded* Gamma quotes (bestBid/bestAsk; Gamma
records no depth, so 100 shares a level). Everything it finds, or refuses to find, is worked out by
hand from those quotes below."""

from __future__ import annotations

import json

from conftest import TestDb
from helpers import invoke_mpx as run_mpx
from stubs.polymarket import FIXTURES, PolymarketStandIn, load_recorded_events

# What a naive scanner sees: the YES asks of an event summing below 1.
#   MicroStrategy sells any Bitcoin by ___ ?  0.031 + 0.10 + 0.24 = 0.371
#   Kraken IPO by ___ ?                        0.15 + 0.84         = 0.99
#   Macron out by...?                          0.036 (the others closed)
# None is an arbitrage: these events are not negRisk (not exclusive outcomes) but date ladders.
# The negRisk events: Fed decision in March: asks 0.005 + 0.02 + 0.974 + 0.004 = 1.003 > 1, bids
# 0.004 + 0.019 + 0.973 + 0.003 = 0.999 ≤ 1 (no SUM_LT_1, no DUTCH_BOOK); Trump deportations: asks
# sum to 1.038, bids to 0.956; Senate/House 2026: augmented (placeholders Party A–F, "another
# party"), excluded. The date ladders are consistent: MicroStrategy by Mar 31 0.027/0.031 ≤ by Jun 30
# 0.09/0.10 ≤ by Dec 31 0.22/0.24; Kraken by Mar 31 0.12/0.15 ≤ by Dec 31 0.81/0.84; Macron's
# "by October 31, 2025" is closed. The recorded end dates are all in the past today: no ENDGAME.
# The recorded CLOB book (2026-02-28) has the Fed "50+ bps" YES at 0.994/0.995 while Gamma's quotes,
# recorded at another time, have it at 0.004/0.005: with it the YES bids sum to 0.994 + 0.019 +
# 0.973 + 0.003 = 1.989 — a bid-side scanner would shout Dutch book — but buying every NO costs
# (1 − 0.004) + (1 − 0.019) + (1 − 0.973) + (1 − 0.003) = 3.001 > the 3 it pays: not executable.
NAIVE_FALSE_POSITIVES = {"MicroStrategy sells any Bitcoin by ___ ?", "Kraken IPO by ___ ?", "Macron out by...?"}
LADDERS = {
    ("MicroStrategy sells any Bitcoin by March 31, 2026?", "MicroStrategy sells any Bitcoin by June 30, 2026?"),
    ("MicroStrategy sells any Bitcoin by June 30, 2026?", "MicroStrategy sells any Bitcoin by December 31, 2026?"),
    ("Kraken IPO by March 31, 2026?", "Kraken IPO by December 31, 2026?"),
    ("Macron out by October 31, 2025?", "Macron out by June 30, 2026?"),
}


def test_the_recorded_universe_yields_the_ladders_and_no_false_arbitrage(db: TestDb) -> None:
    events = load_recorded_events()
    naive = {e["title"] for e in events if not e.get("negRisk") and len(e["markets"]) > 1
             and sum(m["bestAsk"] for m in e["markets"] if m.get("bestAsk") and not m.get("closed")) < 1}
    assert naive == NAIVE_FALSE_POSITIVES
    book1 = json.loads((FIXTURES / "clob_book_1_negrisk_2026-02-28.json").read_text())
    with PolymarketStandIn(events, book_source="quotes") as api:
        api.set_book(book1["asset_id"], book1)
        env = {"DATA_SOURCE": "real", "MPX_GAMMA_URL": api.url, "MPX_CLOB_URL": api.url}
        ingest = run_mpx("ingest", env=env)
        assert ingest.code == 0, ingest.stderr
        evaluate = run_mpx("evaluate", env=env)
        assert evaluate.code == 0, evaluate.stderr
    assert "0 new signal(s)" in evaluate.stdout
    assert db.scalar("SELECT count(*) FROM signal") == 0
    relations = json.loads(run_mpx("synonyms", "list", "--format", "json").stdout)["relations"]
    assert {(r["narrower"], r["wider"]) for r in relations} == LADDERS
    assert all(r["kind"] == "date" for r in relations)
    # the recorded deep book is stored best-first: best bid 0.994, best ask 0.995 (API_NOTES §4)
    row = db.scalar("SELECT ARRAY[best_bid, best_ask] FROM tick WHERE token_id = %s", (book1["asset_id"],))
    assert [str(x) for x in row] == ["0.994", "0.995"]  # type: ignore[union-attr]
