"""A Protocol V2 event (the BUILT v2 copy of the recorded NFL event, tests/fixtures/polymarket/README.md)
through the whole chain: `mpx ingest` (DATA_SOURCE=real, the stand-in) → `mpx evaluate` (a SUM_LT_1
hit on the moneyline) → `mpx intents create`: the asset id chosen by ``version`` (``positionIds``)
is the id of the stored outcomes, the books fetched, the ticks, the signal's legs and the intent's
legs; the per-market sports fee schedule is what the edge is net of."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from mpx.adapters.db.markets import load_reference

from conftest import TestDb
from helpers import invoke_mpx as run_mpx
from stubs.polymarket import PolymarketStandIn

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "polymarket"


def nfl_v2() -> list[dict[str, Any]]:
    path = FIXTURES / "gamma_event_nfl-det-buf_v2_BUILT_from_docs.json"
    events: list[dict[str, Any]] = json.loads(path.read_text())
    for ev in events:  # the game was on 2026-09-18; keep it ahead of whatever today is
        ev["endDate"] = "2099-09-18T00:15:00Z"
        for m in ev["markets"]:
            m["endDate"] = "2099-09-18T00:15:00Z"
    return events


def book(token: str, market: str, bid: str, ask: str, size: str = "500") -> dict[str, Any]:
    """A CLOB book as the API sends it (strings, best level last)."""
    return {"market": market, "asset_id": token, "timestamp": "1789535977334",
            "bids": [{"price": "0.01", "size": "1000"}, {"price": bid, "size": size}],
            "asks": [{"price": "0.99", "size": "1000"}, {"price": ask, "size": size}],
            "min_order_size": "5", "tick_size": "0.01", "neg_risk": False, "last_trade_price": bid}


def env(api: PolymarketStandIn) -> dict[str, str]:
    return {"DATA_SOURCE": "real", "MPX_GAMMA_URL": api.url, "MPX_CLOB_URL": api.url, "MPX_HTTP_TIMEOUT": "2",
            "MPX_LOG_LEVEL": "WARNING"}


def moneyline_books(api: PolymarketStandIn, events: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    m = events[0]["markets"][0]
    assert m["question"] == "Lions vs. Bills" and m["version"] == "v2"
    lions, bills = m["positionIds"]
    # Lions asked at 0.34 and Bills at 0.60: a complete set for 0.94 before fees
    api.set_book(lions, book(lions, m["conditionId"], "0.33", "0.34"))
    api.set_book(bills, book(bills, m["conditionId"], "0.59", "0.60"))
    return [lions, bills], json.loads(m["clobTokenIds"])


def test_v2_event_ingest_evaluate_intent_carries_the_position_ids(db: TestDb) -> None:
    events = nfl_v2()
    with PolymarketStandIn(events) as api:
        (lions, bills), clob_ids = moneyline_books(api, events)
        res = run_mpx("ingest", env=env(api))
        assert res.code == 0, res.stderr
        # the books were asked for by position id, never by the CLOB ids of the v2 market
        asked = " ".join(q for _, path, q, _ in api.requests if path.startswith("/book"))
        assert all(c not in asked for c in clob_ids)
        ev = run_mpx("evaluate", env=env(api))
        assert ev.code == 0, ev.stderr

    cid = events[0]["markets"][0]["conditionId"]
    with db.connect() as conn:
        markets, _ = load_reference(conn)
    stored = markets[cid]
    assert stored.version == "v2" and [o.token_id for o in stored.outcomes] == [lions, bills]
    assert (stored.fee.rate, stored.fee.exponent, stored.fee.taker_only, stored.fee.rebate_rate,
            stored.fee.fee_type) == (D("0.05"), 1, True, D("0.15"), "sports_fees_v3")
    assert db.scalar("SELECT count(*) FROM outcome WHERE token_id = ANY(%s)", (clob_ids,)) == 0
    assert db.scalar("SELECT array_agg(DISTINCT token_id ORDER BY token_id) FROM tick WHERE market_id = %s",
                     (cid,)) == sorted([lions, bills])
    assert db.scalar("SELECT best_ask FROM tick WHERE token_id = %s", (lions,)) == D("0.34")

    row = db.scalar("SELECT json_build_object('id', id, 'level', level, 'edge', estimated_edge_bps::text, "
                    "'payload', payload::text) FROM signal WHERE rule_type = 'SUM_LT_1' AND market_id = %s", (cid,))
    assert row is not None, db.scalar("SELECT json_agg(rule_type) FROM signal")
    signal: dict[str, Any] = row  # type: ignore[assignment]
    # 100 sets: Lions 100 × 0.34 = 34 + fee 100 × 0.05 × 0.34 × 0.66 = 1.122;
    # Bills 100 × 0.60 = 60 + fee 100 × 0.05 × 0.60 × 0.40 = 1.2; cost 96.322, payout 100
    # → edge 3.678 / 96.322 × 10,000 = 381.84 bps (P1 ≥ 150)
    assert signal["level"] == "P1"
    assert D(signal["edge"]) == D("381.84"), signal
    assert lions in signal["payload"] and bills in signal["payload"]

    created = run_mpx("intents", "create", "--signal", str(signal["id"]), "--format", "json",
                      env={"MPX_LOG_LEVEL": "WARNING"})
    assert created.code == 0, created.stderr
    [intent] = json.loads(created.stdout)
    legs = db.scalar("SELECT legs FROM order_intent WHERE id = %s", (intent["id"],))
    assert [leg["token_id"] for leg in legs] == [lions, bills]  # type: ignore[union-attr]
    assert [leg["limit_price"] for leg in legs] == ["0.34", "0.60"]  # type: ignore[union-attr]
    shown = json.loads(run_mpx("markets", "show", cid, "--format", "json").stdout)
    assert shown["version"] == "v2" and shown["fees"] == "rate 0.05 exponent 1, maker rebate 0.15 (sports_fees_v3)"


def test_a_v2_market_with_fees_on_but_no_schedule_stays_fee_unknown_and_out_of_execution(db: TestDb) -> None:
    events = nfl_v2()
    del events[0]["markets"][0]["feeSchedule"]
    with PolymarketStandIn(events) as api:
        moneyline_books(api, events)
        res = run_mpx("ingest", env=env(api))
        assert res.code == 0, res.stderr
        assert run_mpx("evaluate", env=env(api)).code == 0
    counters: dict[str, int] = db.scalar("SELECT value FROM job_state WHERE key = 'ingest:counters'")  # type: ignore[assignment]
    assert counters["fee_unknown_markets"] == 1
    cid = events[0]["markets"][0]["conditionId"]
    with db.connect() as conn:
        sid, level, edge, message = conn.execute(
            "SELECT id, level, estimated_edge_bps, message FROM signal WHERE rule_type = 'SUM_LT_1' "
            "AND market_id = %s", (cid,)).fetchone() or (None, None, None, "")
    # fees priced as 0: 100 × (0.34 + 0.60) = 94 → 6 / 94 × 10,000 = 638.297… → 638.29 bps, but capped: never P1
    assert level == "P2" and edge == D("638.29") and "fee rate unknown" in message
    refused = run_mpx("intents", "create", "--signal", str(sid), env={"MPX_LOG_LEVEL": "WARNING"})
    assert refused.code == 1 and "charges fees at an unknown rate" in refused.stderr
    assert db.scalar("SELECT count(*) FROM order_intent") == 0
