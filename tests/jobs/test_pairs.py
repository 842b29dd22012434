"""Cross-venue pairs end to end on a real PostgreSQL, through the real command line (in-process):
`mpx pairs propose` lists the Polymarket ↔ Kalshi candidate side by side; unconfirmed it is at most
P3; confirmed `same` it is a P1 CROSS_VENUE arbitrage with the hand-computed edge (Kalshi's fee
rounded up to the cent); an intent from it fills both venues' legs on paper and is refused live
(exit 78); when the Kalshi rules change the verdict lapses and the pair stops firing."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from domain.rules.test_cross_venue import KAL, KN, POLY, books

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import state, ticks
from mpx.adapters.db.connection import connect
from mpx.domain.models import Book, Event, Market
from mpx.jobs.ingest import LAST_TS_KEY
from mpx.settings import load_settings

from conftest import REPO, TestDb
from helpers import invoke_mpx

GAME = datetime(2026, 9, 18, 0, 15, tzinfo=UTC)
POLY_M = replace(POLY, event_id="nfl-det-buf", end_date=GAME, slug="nfl-det-buf-2026-09-18",
                 description="In the upcoming NFL game, scheduled for September 17 at 8:15PM ET: if the Detroit "
                             "Lions win, the market resolves to Lions. If the Buffalo Bills win, to Bills.")
KAL_M = replace(KAL, event_id="KXNFLGAME-26SEP17DETBUF", end_date=GAME + timedelta(days=2),
                description="If Detroit wins the DET Lions vs BUF Bills Pro Football game originally scheduled "
                            "for Sep 17, 2026, then the market resolves to Yes.")
EVENTS = [Event("nfl-det-buf", "Lions vs. Bills", (POLY.id,)),
          Event("KXNFLGAME-26SEP17DETBUF", "Detroit at Buffalo", (KAL.id,), venue="kalshi")]


def store_pass(markets: list[Market] | None = None, book_list: list[Book] | None = None) -> datetime:
    """One ingest pass per venue, as the two sources would write it (metadata, changed books, pass)."""
    settings = load_settings(env_file=None)
    now = datetime.now(UTC)
    with connect(settings) as conn:
        if markets is not None:
            db_markets.upsert_metadata(conn, EVENTS, markets)
        market_of = db_markets.token_markets(conn)
        last = state.get_state(conn, LAST_TS_KEY)
        ts = max(now, datetime.fromisoformat(last) + timedelta(microseconds=1)) if last else now
        all_books = [replace(b, ts=ts) for b in (book_list or books())]
        for i, venue in enumerate(("polymarket", "kalshi")):
            mine = [b for b in all_books if (":" in b.token_id) == (venue == "kalshi")]
            at = ts + timedelta(microseconds=i)
            wr = ticks.write_ticks(conn, at, mine, market_of, 5, venue=venue)
            ticks.record_pass(conn, at, venue, len(mine), wr.written, [], venue=venue)
            state.set_state(conn, LAST_TS_KEY, at.isoformat())
        conn.commit()
    return ts


@pytest.fixture
def two_venues(db: TestDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestDb:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(REPO / "rules" / "cross_venue.yaml", rules)
    monkeypatch.setenv("MPX_RULES_DIR", str(rules))
    monkeypatch.setenv("EXEC_MODE", "paper")
    store_pass([POLY_M, KAL_M])
    return db


def pairs(*args: str) -> list[dict[str, Any]]:
    res = invoke_mpx("pairs", *args, "--format", "json")
    assert res.code == 0, res.stderr
    out: list[dict[str, Any]] = json.loads(res.stdout)
    return out


def signals(db: TestDb) -> list[tuple[str, str, D]]:
    with db.connect() as conn:
        return [(r[0], r[1], D(r[2])) for r in conn.execute(
            "SELECT level, finding_class, coalesce(estimated_edge_bps, measure_value) FROM signal ORDER BY id")]


def evaluate() -> None:
    res = invoke_mpx("evaluate")
    assert res.code == 0, res.stderr


def test_a_pair_is_proposed_side_by_side_then_priced_only_once_confirmed(two_venues: TestDb) -> None:
    db = two_venues
    [p] = pairs("propose")
    assert (p["state"], p["a"]["market"], p["b"]["market"]) == ("candidate", POLY.id, KAL.id)
    assert (p["a"]["venue"], p["b"]["venue"]) == ("polymarket", "kalshi")
    assert p["a"]["outcome_0"] == "Lions" and "DET Lions vs BUF Bills" in p["b"]["rules"]
    assert "shared words" in p["reason"] and "48 h apart" in p["reason"]
    table = invoke_mpx("pairs", "propose")
    assert table.code == 0 and "first (a)" in table.stdout and "Detroit wins" in table.stdout
    assert f"mpx pairs confirm {p['id']} --orientation same|inverted" in table.stdout

    evaluate()  # unconfirmed: a P3 indicator at most
    assert signals(db) == [("P3", "indicator", D(700))]  # gap_bps: 0.39 vs 0.46 (domain test)

    res = invoke_mpx("pairs", "confirm", str(p["id"]), "--orientation", "same", "--note", "DET YES is Lions")
    assert res.code == 0, res.stderr
    assert f"kalshi {KAL.id} YES ≡ polymarket {POLY.id} outcome 'Lions'" in res.stdout
    store_pass()  # a pass with unchanged books: the newly confirmed pair is priced anyway
    evaluate()
    assert signals(db)[-1] == ("P1", "arbitrage", D("336.98"))  # see tests/domain/rules/test_cross_venue.py
    [listed] = pairs("list", "--state", "confirmed")
    assert listed["orientation"] == "same" and "DET YES is Lions" in listed["basis"]
    assert pairs("list", "--venue", "kalshi") and not pairs("list", "--venue", "nowhere")


def test_an_intent_from_a_cross_venue_signal_fills_both_venues_on_paper_and_is_refused_live(
        two_venues: TestDb) -> None:
    db = two_venues
    [p] = pairs("propose")
    assert invoke_mpx("pairs", "confirm", str(p["id"]), "--orientation", "same").code == 0
    store_pass()
    evaluate()
    sid = db.scalar("SELECT id FROM signal WHERE level = 'P1'")
    live = invoke_mpx("intents", "create", "--signal", str(sid), env={"EXEC_MODE": "live"})
    assert live.code == 78 and "no live execution adapter for kalshi" in live.stderr
    res = invoke_mpx("intents", "create", "--signal", str(sid))
    assert res.code == 0, res.stderr
    iid = db.scalar("SELECT id FROM order_intent")
    assert db.scalar("SELECT venues FROM order_intent") == ["kalshi", "polymarket"]
    live_confirm = invoke_mpx("intents", "confirm", str(iid), env={"EXEC_MODE": "live"})
    assert live_confirm.code == 78 and "no live execution adapter for kalshi" in live_confirm.stderr
    assert db.scalar("SELECT status FROM order_intent") == "suggested"  # nothing reserved or sent
    res = invoke_mpx("intents", "confirm", str(iid))
    assert res.code == 0, res.stderr
    assert db.scalar("SELECT status FROM order_intent") == "filled"
    fills = db.scalar("SELECT fills FROM order_intent")
    assert isinstance(fills, list)
    by_token = {f["token_id"]: f for f in fills}
    assert D(by_token[KN]["fee"]) == D("1.74") and D(by_token[KN]["cost"]) == D("55.00")
    assert D(by_token["tok-lions"]["cost"]) == D("40.00")
    assert D(str(db.scalar("SELECT filled_cost FROM order_intent"))) == D("96.74")


def test_a_lapsed_or_closed_kalshi_side_stops_the_pair(two_venues: TestDb) -> None:
    db = two_venues
    [p] = pairs("propose")
    assert invoke_mpx("pairs", "confirm", str(p["id"]), "--orientation", "same").code == 0
    store_pass()
    evaluate()
    assert signals(db)[-1][:2] == ("P1", "arbitrage")
    # Kalshi rewrites the postponement rule: the verdict lapses, the P1 opportunity closes
    changed = replace(KAL_M, description=KAL_M.description + " If the game is postponed, it resolves to a fair price.")
    store_pass([POLY_M, changed])
    evaluate()
    [listed] = pairs("list")
    assert listed["state"] == "lapsed" and "changed" in listed["basis"]
    assert db.scalar("SELECT count(*) FROM opportunity WHERE best_level = 'P1' AND closed_at IS NULL") == 0
    assert [s for s in signals(db) if s[0] in ("P1", "P2")] == [("P1", "arbitrage", D("336.98"))]
    # confirmed again, then the Kalshi market closes: nothing at all
    assert invoke_mpx("pairs", "confirm", str(p["id"]), "--orientation", "same").code == 0
    store_pass([POLY_M, replace(changed, status="closed", accepting_orders=False)])
    before = len(signals(db))
    evaluate()
    assert len(signals(db)) == before


def test_bad_pair_commands_are_clear(two_venues: TestDb) -> None:
    [p] = pairs("propose")
    missing = invoke_mpx("pairs", "confirm", "999", "--orientation", "same")
    assert missing.code == 1 and "no cross-venue pair 999" in missing.stderr
    no_orientation = invoke_mpx("pairs", "confirm", str(p["id"]))
    assert no_orientation.code == 2 and "--orientation" in no_orientation.stderr
    bad = invoke_mpx("pairs", "confirm", str(p["id"]), "--orientation", "sideways")
    assert bad.code == 2
    assert invoke_mpx("pairs", "reject", str(p["id"])).code == 0
    assert pairs("list")[0]["state"] == "rejected"
    assert pairs("propose") == []  # a rejected pair is not waiting for a verdict
