"""Polymarket and Kalshi together, each behind its stand-in (recorded responses), through the real
command line on a real PostgreSQL: `mpx ingest` passes both venues (DATA_SOURCE=real,kalshi),
`mpx pairs propose` finds the recorded Lions–Bills game on both, and CROSS_VENUE prices a planted
gap — by hand below, Kalshi's fee rounded up to the cent — only once a person confirmed the pair,
on the tokens its orientation names; a closed Kalshi side or changed rules stop it; one venue down
leaves the other ingesting and evaluating."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, TestDb
from helpers import invoke_mpx
from stubs.kalshi import DETBUF, KalshiStandIn
from stubs.polymarket import FIXTURES, PolymarketStandIn

GAME = json.loads((FIXTURES / "gamma_event_nfl-det-buf-2026-09-18_trimmed_2026-09-16.json").read_text())
MONEYLINE = next(m for m in GAME[0]["markets"] if m["question"] == "Lions vs. Bills")
LIONS, BILLS = json.loads(MONEYLINE["clobTokenIds"])
DET, BUF = f"{DETBUF}-DET", f"{DETBUF}-BUF"


def clob_book(token: str, bid: str, ask: str, size: str = "500") -> dict[str, Any]:
    return {"market": MONEYLINE["conditionId"], "asset_id": token, "timestamp": "1772318263027",
            "bids": [{"price": bid, "size": size}], "asks": [{"price": ask, "size": size}],
            "min_order_size": "5", "tick_size": "0.01", "neg_risk": False, "last_trade_price": bid, "hash": token[:8]}


@pytest.fixture
def venues(db: TestDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[tuple[TestDb, PolymarketStandIn, KalshiStandIn]]:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(REPO / "rules" / "cross_venue.yaml", rules)
    with PolymarketStandIn(json.loads(json.dumps(GAME))) as poly, KalshiStandIn() as kalshi:
        for key, value in {"DATA_SOURCE": "real,kalshi", "MPX_GAMMA_URL": poly.url, "MPX_CLOB_URL": poly.url,
                           "MPX_KALSHI_URL": kalshi.url, "MPX_KALSHI_SERIES": "KXNFLGAME", "MPX_METADATA_TTL": "1ms",
                           "MPX_HTTP_TIMEOUT": "2", "MPX_HTTP_RETRIES": "1", "MPX_RULES_DIR": str(rules),
                           "EXEC_MODE": "paper"}.items():
            monkeypatch.setenv(key, value)
        yield db, poly, kalshi


def ingest(code: int = 0) -> str:
    res = invoke_mpx("ingest")
    assert res.code == code, res.stderr
    return res.stdout + res.stderr


def evaluate() -> None:
    res = invoke_mpx("evaluate")
    assert res.code == 0, res.stderr


def p1p2(db: TestDb) -> list[tuple[str, D, list[str]]]:
    with db.connect() as conn:
        return [(r[0], D(r[1]), r[2]) for r in conn.execute(
            """SELECT level, estimated_edge_bps, ARRAY(SELECT l->>'token_id' FROM jsonb_array_elements(
                      payload->'arbitrage'->'legs') l) FROM signal WHERE level IN ('P1', 'P2') ORDER BY id""")]


def pair_id(kalshi_market: str) -> int:
    res = invoke_mpx("pairs", "propose", "--format", "json")
    assert res.code == 0, res.stderr
    found = [p for p in json.loads(res.stdout) if p["b"]["market"] == kalshi_market]
    assert len(found) == 1, res.stdout
    assert found[0]["a"]["market"] == MONEYLINE["conditionId"]
    return int(found[0]["id"])


def test_a_confirmed_pair_with_a_planted_gap_is_p1_at_the_hand_computed_edge(
        venues: tuple[TestDb, PolymarketStandIn, KalshiStandIn]) -> None:
    db, poly, kalshi = venues
    # Polymarket: Lions 0.38 / 0.40 (×500), Bills 0.58 / 0.62. Kalshi DET: YES bids 0.45, NO bids 0.53
    # (×300) → YES ask 1 − 0.53 = 0.47, NO ask 1 − 0.45 = 0.55.
    poly.set_book(LIONS, clob_book(LIONS, "0.38", "0.40"))
    poly.set_book(BILLS, clob_book(BILLS, "0.58", "0.62"))
    kalshi.set_book(DET, yes=[("0.45", "300")], no=[("0.53", "300")])
    out = ingest()
    assert "ingest polymarket" in out and "ingest kalshi" in out
    pid = pair_id(DET)
    evaluate()
    assert p1p2(db) == []  # unconfirmed: a P3 indicator at most
    assert db.scalar("SELECT count(*) FROM signal WHERE rule_type = 'CROSS_VENUE' AND level = 'P3'") >= 1

    res = invoke_mpx("pairs", "confirm", str(pid), "--orientation", "same", "--note", "DET YES = Lions")
    assert res.code == 0, res.stderr
    ingest()
    evaluate()
    # Confirmed `same` (DET YES ≡ Lions). 100 shares a leg:
    #   Lions + DET NO = 0.40 + 0.55 = 0.95 a set before fees
    #   Polymarket 100 × 0.40 = 40.00, fee 100 × 0.05 × (0.40 × 0.60) = 1.20 (the market's schedule: 0.05, exponent 1)
    #   Kalshi 100 × 0.55 = 55.00, fee 0.07 × 100 × 0.55 × 0.45 = 1.7325 → rounded UP to 1.74
    #   cost 97.94; payout: Lions win → 100 + 0; Bills win → 0 + 100: 100 in every state
    #   profit 2.06 → 2.06 / 97.94 × 10,000 = 210.333… → 210.33 bps
    #   (Bills 0.62 + DET YES 0.47 = 1.09: the other direction never pays)
    [(level, edge, legs)] = p1p2(db)
    assert level == "P1" and abs(edge - D("210.33")) <= D(1) and edge == D("210.33")
    assert legs == [LIONS, f"{DET}:no"]
    payload = db.scalar("SELECT payload FROM signal WHERE level = 'P1'")
    arb = payload["arbitrage"]
    assert D(arb["cost"]) == D("97.94") and [D(s["payout"]) for s in arb["states"]] == [D(1), D(1)]

    # Kalshi closes the DET market: the pair stops firing
    kalshi.set_market(DET, status="closed")
    ingest()
    evaluate()
    assert len(p1p2(db)) == 1
    assert db.scalar("SELECT count(*) FROM opportunity WHERE rule_type = 'CROSS_VENUE' AND best_level = 'P1' "
                     "AND closed_at IS NULL") == 0


def test_an_inverted_pair_is_priced_on_the_other_kalshi_tokens(
        venues: tuple[TestDb, PolymarketStandIn, KalshiStandIn]) -> None:
    db, poly, kalshi = venues
    # Kalshi BUF YES is Polymarket's outcome 1 (Bills): inverted. Polymarket Lions 0.50 / 0.52, Bills
    # 0.48 / 0.50. Kalshi BUF: YES bids 0.56, NO bids 0.42 → YES ask 0.58, NO ask 0.44.
    poly.set_book(LIONS, clob_book(LIONS, "0.50", "0.52"))
    poly.set_book(BILLS, clob_book(BILLS, "0.48", "0.50"))
    kalshi.set_book(BUF, yes=[("0.56", "300")], no=[("0.42", "300")])
    ingest()
    pid = pair_id(BUF)
    assert invoke_mpx("pairs", "confirm", str(pid), "--orientation", "inverted").code == 0
    ingest()
    evaluate()
    # Bills + BUF NO (the NO of "Buffalo wins" pays when the Lions win): 0.50 + 0.44 = 0.94
    #   Polymarket 100 × 0.50 = 50.00, fee 100 × 0.05 × 0.25 = 1.25
    #   Kalshi 100 × 0.44 = 44.00, fee 0.07 × 100 × 0.44 × 0.56 = 1.7248 → 1.73
    #   cost 96.98; payout 100 in both states; profit 3.02 → 3.02 / 96.98 × 10,000 = 311.404… → 311.40 bps
    #   (Lions 0.52 + BUF YES 0.58 = 1.10: never)
    [(level, edge, legs)] = p1p2(db)
    assert level == "P1" and edge == D("311.40") and legs == [BILLS, f"{BUF}:no"]

    # Kalshi rewrites the rules of BUF: the verdict lapses and the pair stops
    kalshi.set_market(BUF, rules_primary="If Buffalo wins the rescheduled game, the market resolves to Yes.")
    ingest()
    evaluate()
    res = invoke_mpx("pairs", "list", "--format", "json")
    assert [p["state"] for p in json.loads(res.stdout) if p["id"] == pid] == ["lapsed"]
    assert len(p1p2(db)) == 1
    assert db.scalar("SELECT count(*) FROM opportunity WHERE rule_type = 'CROSS_VENUE' AND best_level = 'P1' "
                     "AND closed_at IS NULL") == 0


def test_one_venue_down_leaves_the_other_ingesting_and_evaluating(
        venues: tuple[TestDb, PolymarketStandIn, KalshiStandIn]) -> None:
    db, _poly, kalshi = venues
    ingest()
    evaluate()
    kalshi.fail("events", 503, times=1000)
    kalshi.fail("orderbook", 503, times=1000)
    before = db.scalar("SELECT count(*) FROM ingest_pass WHERE venue = 'polymarket'")
    out = ingest(code=75)
    assert "kalshi (kalshi): Kalshi unavailable" in out and "ingest polymarket" in out
    assert db.scalar("SELECT count(*) FROM ingest_pass WHERE venue = 'polymarket'") == before + 1
    assert db.scalar("SELECT count(*) FROM ingest_pass WHERE venue = 'kalshi'") == 1
    watermark = db.scalar("SELECT value FROM job_state WHERE key = 'evaluate:watermark'")
    evaluate()
    assert db.scalar("SELECT value FROM job_state WHERE key = 'evaluate:watermark'") != watermark
    health = invoke_mpx("health")
    report = json.loads(health.stdout)
    assert set(report["ingest"]["venues"]) == {"polymarket", "kalshi"}
    # Polymarket alone, on its own lock, while Kalshi stays down
    assert invoke_mpx("ingest", "--source", "real").code == 0
    assert invoke_mpx("ingest", "--source", "kalshi").code == 75
