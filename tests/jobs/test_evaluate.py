"""`mpx evaluate` end to end on the mock universe: the planted situations are found, the decoys
are not, and nothing is written twice."""

from __future__ import annotations

import json

from mpx.adapters.sources.mock import MockSource

from conftest import TestDb
from helpers import run_mpx


def _cycle(n: int) -> None:
    for _ in range(n):
        ing = run_mpx("ingest")
        assert ing.code == 0, ing.stderr
        ev = run_mpx("evaluate")
        assert ev.code == 0, ev.stderr


def _signals(db: TestDb) -> list[dict[str, object]]:
    res = run_mpx("signals", "--format", "json", "--limit", "1000")
    assert res.code == 0, res.stderr
    return json.loads(res.stdout)


def test_planted_situations_become_signals_and_decoys_do_not(db: TestDb) -> None:
    assert run_mpx("seed", "--seed", "42").code == 0
    _cycle(4)
    planted = MockSource(seed=42).planted
    sigs = _signals(db)
    types = {s["rule_type"] for s in sigs}
    assert {"SUM_LT_1", "SPIKE", "ENDGAME"} <= types, types
    subjects = {(s["rule_type"], s["group_key"] or s["market_id"]) for s in sigs}
    keys = {str(s["group_key"]) for s in sigs} | {str(s["market_id"]) for s in sigs}
    assert any(planted["sum_lt_1_event"] in k for k in keys), subjects
    assert any(planted["sum_lt_1_binary"] in k for k in keys)
    assert any(planted["spike_market"] in k for k in keys)
    assert any(planted["endgame_market"] in k for k in keys)
    # decoys, and situations planted for the kinds still to come, raise nothing from these three
    for decoy in ("decoy_augmented_event", "decoy_closed_market", "decoy_thin_event", "decoy_fee_event",
                  "decoy_far_endgame", "dutch_book_event", "synonym_a", "synonym_b", "ladder_low",
                  "ladder_high", "date_early", "date_late", "trend_market"):
        assert not any(planted[decoy] in k for k in keys), (decoy, subjects)
    for s in sigs:
        assert 0 <= float(s["edge_score"]) <= 1  # type: ignore[arg-type]
        assert s["level"] in ("P1", "P2", "P3")


def test_evaluate_twice_over_the_same_ticks_creates_nothing_new(db: TestDb) -> None:
    assert run_mpx("seed").code == 0
    _cycle(2)
    before = db.scalar("SELECT count(*) FROM signal")
    assert before
    again = run_mpx("evaluate")
    assert again.code == 0
    assert "0 new signal(s)" in again.stdout
    assert db.scalar("SELECT count(*) FROM signal") == before
    # a fresh pass over unchanged situations stays within the cooldown: no repeats either
    _cycle(1)
    dupes = db.scalar("""SELECT count(*) FROM (SELECT signature FROM signal GROUP BY signature
                         HAVING count(*) > 1) d""")
    assert dupes == 0


def test_signals_filters_and_formats(db: TestDb) -> None:
    assert run_mpx("seed").code == 0
    _cycle(3)
    all_ = _signals(db)
    p1 = json.loads(run_mpx("signals", "--level", "P1", "--format", "json").stdout)
    assert all(s["level"] == "P1" for s in p1) and len(p1) <= len(all_)
    spike = json.loads(run_mpx("signals", "--rule", "SPIKE", "--format", "json").stdout)
    assert spike and all(s["rule_type"] == "SPIKE" for s in spike)
    csv_out = run_mpx("signals", "--format", "csv", "--since", "1h").stdout.splitlines()
    assert csv_out[0].startswith("id,ts,level,rule_id") and len(csv_out) == len(all_) + 1
    table = run_mpx("signals").stdout
    assert "SUM_LT_1" in table or "sum" in table.lower()


def test_markets_list_and_show_with_sparkline(db: TestDb) -> None:
    assert run_mpx("seed").code == 0
    _cycle(2)
    planted = MockSource(seed=42).planted
    listing = run_mpx("markets", "list", "--limit", "500", "--format", "json")
    assert listing.code == 0
    rows = json.loads(listing.stdout)
    assert len(rows) >= 200 and all(r["question"] for r in rows)
    show = run_mpx("markets", "show", planted["spike_market"])
    assert show.code == 0, show.stderr
    assert "spread" in show.stdout and "Yes" in show.stdout
    assert any(ch in show.stdout for ch in "▁▂▃▄▅▆▇█")


def test_each_new_signal_is_logged_with_rule_and_market(db: TestDb) -> None:
    assert run_mpx("seed").code == 0
    assert run_mpx("ingest").code == 0
    res = run_mpx("evaluate")
    lines = [json.loads(ln) for ln in res.stderr.splitlines() if ln.startswith("{")]
    logged = [ln for ln in lines if ln["msg"] == "signal"]
    assert len(logged) == db.scalar("SELECT count(*) FROM signal") > 0
    assert all(ln["job"] == "evaluate" and ln["ruleId"] and ln["marketId"] for ln in logged)
