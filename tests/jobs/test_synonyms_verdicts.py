"""`mpx synonyms candidates | confirm | reject` through the real command line (in-process) on a real
PostgreSQL: the verdict lifecycle — open → confirmed / rejected → lapsed when a market changes —,
stable candidate ids across refreshes, unknown and invalid ids, and what a verdict proves."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import synonyms as db_synonyms
from mpx.adapters.sources.mock import MockSource
from mpx.domain.synonyms import Candidate
from mpx.jobs.intents import actor
from mpx.jobs.synonyms import FINGERPRINT_KEY, refresh_synonyms
from mpx.settings import load_settings

from conftest import TestDb
from helpers import invoke_mpx


@pytest.fixture
def planted(db: TestDb) -> dict[str, str]:
    """The mock universe (seed 42), refreshed: one candidate pair (the planted keyword group) and two
    proven ladders (built once, copied per test)."""

    def build() -> None:
        assert invoke_mpx("seed", "--seed", "42").code == 0
        res = invoke_mpx("synonyms", "refresh")
        assert res.code == 0, res.stderr
        assert "proven: 0 group(s), 2 relation(s); 1 candidate pair(s)" in res.stdout

    db.load("seed 42, synonyms refresh", build)
    return MockSource(seed=42).planted


def candidates(*args: str) -> list[dict[str, Any]]:
    res = invoke_mpx("synonyms", "candidates", "--format", "json", *args)
    assert res.code == 0, res.stderr
    rows: list[dict[str, Any]] = json.loads(res.stdout)
    return rows


def listing() -> dict[str, list[dict[str, Any]]]:
    res = invoke_mpx("synonyms", "list", "--format", "json")
    assert res.code == 0, res.stderr
    out: dict[str, list[dict[str, Any]]] = json.loads(res.stdout)
    return out


def refresh() -> str:
    res = invoke_mpx("synonyms", "refresh")
    assert res.code == 0, res.stderr
    return res.stdout


def test_a_candidate_is_listed_side_by_side_then_confirmed_into_a_proven_group(db: TestDb,
                                                                             planted: dict[str, str]) -> None:
    [cand] = candidates()
    assert (cand["state"], cand["proposed"], cand["verdict"]) == ("open", "a ≡ b", "-")
    assert {cand["market_a"], cand["market_b"]} == {planted["synonym_a"], planted["synonym_b"]}
    assert {cand["question_a"], cand["question_b"]} == {"Will Bitcoin reach $150,000 in 2026?",
                                                       "Bitcoin above $150k by December 31, 2026?"}
    assert cand["end_a"] and cand["end_b"] and cand["source_a"] == cand["source_b"] == "-"
    assert cand["same_rules"] is True  # the mock gives one category the same rules
    assert cand["reason"].startswith("keywords of group bitcoin-150k-2026 in synonyms.yml: a candidate")
    table = invoke_mpx("synonyms", "candidates").stdout
    assert "Will Bitcoin reach $150,000 in 2026?" in table and " open " in table
    csv_lines = invoke_mpx("synonyms", "candidates", "--format", "csv").stdout.splitlines()
    assert csv_lines[0].startswith("id,state,proposed,question_a,question_b,end_a,end_b,source_a,source_b,same_rules,")

    res = invoke_mpx("synonyms", "confirm", str(cand["id"]), "--note", "both resolve on any 2026 print")
    assert res.code == 0, res.stderr
    assert res.stdout.startswith(f"candidate {cand['id']} confirmed equivalent: ")
    assert f"(by {actor()})" in res.stdout
    row = db.scalar("SELECT row_to_json(v) FROM synonym_verdict v")
    assert isinstance(row, dict)
    assert (row["decision"], row["relation"], row["narrower"], row["actor"], row["note"]) == (
        "confirmed", "equivalent", None, actor(), "both resolve on any 2026 print")
    assert set(row["fingerprints"]) == {planted["synonym_a"], planted["synonym_b"]}

    out = refresh()
    assert "1 group(s) (confirmed 1)" in out and "proven: 1 group(s), 2 relation(s); 0 candidate pair(s)" in out
    groups = listing()["groups"]
    assert {g["group"] for g in groups} == {db.scalar("SELECT key FROM synonym_group")}
    assert all(g["source"] == "confirmed" and g["proven"] for g in groups)
    today = datetime.now(UTC).date().isoformat()
    assert groups[0]["basis"] == (f"confirmed by {actor()} on {today}: both resolve on any 2026 print "
                                  f"(candidate {cand['id']})")
    [after] = candidates()
    assert (after["id"], after["state"], after["verdict"], after["by"]) == (cand["id"], "confirmed", "a ≡ b", actor())
    assert after["still_proposed"] is False  # proven now: nothing to propose, but the verdict is listed


def test_a_rejected_candidate_is_never_proposed_again_and_survives_refreshes(db: TestDb,
                                                                           planted: dict[str, str]) -> None:
    [cand] = candidates()
    res = invoke_mpx("synonyms", "reject", str(cand["id"]), "--note", "reach is not a close")
    assert res.code == 0, res.stderr
    assert "are not proposed again" in res.stdout
    for _ in range(2):
        out = refresh()
        assert "0 group(s)" in out and "1 candidate pair(s)" in out
        assert listing()["groups"] == []
        [again] = candidates("--state", "rejected")
        assert (again["id"], again["note"]) == (cand["id"], "reach is not a close")
    assert candidates("--state", "open") == [] and candidates("--state", "confirmed") == []
    # a person may change their mind: the latest verdict counts
    assert invoke_mpx("synonyms", "confirm", str(cand["id"])).code == 0
    assert "proven: 1 group(s)" in refresh()
    assert db.scalar("SELECT count(*) FROM synonym_verdict") == 2
    # `mpx seed --reset` empties the market data, and the candidates and verdicts about it with it
    assert invoke_mpx("seed", "--reset").code == 0
    assert db.scalar("SELECT count(*) FROM synonym_candidate") == db.scalar("SELECT count(*) FROM synonym_verdict") == 0


@pytest.mark.parametrize(("column", "value"), [
    ("question", "Will Bitcoin reach $150,000 in 2026 (any exchange)?"),
    ("end_date", datetime(2027, 1, 1, tzinfo=UTC)),
    ("description", "Resolves Yes on the Coinbase BTC-USD daily close only."),
    ("resolution_source", "https://www.coinbase.com"),
])
def test_a_verdict_lapses_when_a_market_changes_its_question_end_date_or_rules(
        db: TestDb, planted: dict[str, str], column: str, value: object) -> None:
    [cand] = candidates()
    assert invoke_mpx("synonyms", "confirm", str(cand["id"])).code == 0
    assert "proven: 1 group(s)" in refresh()
    with db.connect() as conn:  # what an ingest of a re-worded market stores
        conn.execute(f"UPDATE market SET {column} = %s WHERE id = %s", (value, planted["synonym_a"]))
        conn.commit()
    [lapsed] = candidates()
    assert (lapsed["id"], lapsed["state"]) == (cand["id"], "lapsed")
    assert lapsed["lapsed_because"] == (f"market {planted['synonym_a']} changed (question, end date, resolution "
                                        "source or rules) since the verdict")
    out = refresh()
    assert "proven: 0 group(s)" in out
    assert all(not g["proven"] and g["source"] == "keywords" for g in listing()["groups"])
    # confirming again holds for the markets as they are now
    assert invoke_mpx("synonyms", "confirm", str(cand["id"])).code == 0
    assert "proven: 1 group(s)" in refresh()
    assert candidates()[0]["state"] == "confirmed"


def test_confirming_an_unproven_ladder_or_an_implication_makes_a_proven_confirmed_relation(
        db: TestDb, planted: dict[str, str]) -> None:
    high, low = planted["ladder_high"], planted["ladder_low"]
    with db.connect() as conn:  # other rules for one rung: the ladder is no longer proven
        conn.execute("UPDATE market SET description = description || ' Settled on the Kraken close.' WHERE id = %s",
                     (low,))
        conn.commit()
    assert "proven: 0 group(s), 1 relation(s); 2 candidate pair(s)" in refresh()
    shown = invoke_mpx("markets", "show", high).stdout
    assert "implies Will Bitcoin be above $70,000 on December 31, 2026? (threshold, candidate)" in shown
    ladder = next(c for c in candidates() if c["proposed"] == "a ⇒ b")
    assert (ladder["market_a"], ladder["market_b"], ladder["same_rules"]) == (high, low, False)
    assert ladder["reason"].startswith("threshold ladder, unproven: resolution rules differ beyond the threshold")
    res = invoke_mpx("synonyms", "confirm", str(ladder["id"]), "--note", "Kraken tracks Binance")
    assert res.code == 0 and "implies" in res.stdout, res.stderr
    refresh()
    [rel] = [r for r in listing()["relations"] if r["kind"] == "confirmed"]
    assert (rel["narrower_id"], rel["wider_id"], rel["proven"]) == (high, low, True)
    assert rel["basis"].endswith(f": Kraken tracks Binance (candidate {ladder['id']})")
    assert not any(r["kind"] == "threshold" and r["narrower_id"] == high for r in listing()["relations"])
    assert "(confirmed)" in invoke_mpx("markets", "show", high).stdout

    # the keyword candidate confirmed as an implication the other way round (b ⇒ a)
    kw = next(c for c in candidates() if c["proposed"] == "a ≡ b")
    assert invoke_mpx("synonyms", "confirm", str(kw["id"]), "--relation", "implies", "--reverse").code == 0
    refresh()
    confirmed = {(r["narrower_id"], r["wider_id"]) for r in listing()["relations"] if r["kind"] == "confirmed"}
    assert confirmed == {(high, low), (kw["market_b"], kw["market_a"])}
    assert next(c for c in candidates() if c["id"] == kw["id"])["verdict"] == "b ⇒ a"
    assert listing()["groups"] == []  # an implication is not an equivalence


def test_unknown_and_malformed_ids_and_contradictory_options(db: TestDb, planted: dict[str, str]) -> None:
    for command in ("confirm", "reject"):
        res = invoke_mpx("synonyms", command, "999")
        assert res.code == 1 and "no synonym candidate 999" in res.stderr, res.stderr
        assert "mpx synonyms candidates" in res.stderr  # the hint
        for bad in ("abc", "0", "-3"):
            assert invoke_mpx("synonyms", command, bad).code == 2, (command, bad)
    [cand] = candidates()
    res = invoke_mpx("synonyms", "confirm", str(cand["id"]), "--reverse")  # an equivalence has no direction
    assert res.code == 2 and "--reverse only goes with --relation implies" in res.stderr
    assert invoke_mpx("synonyms", "confirm", str(cand["id"]), "--relation", "maybe").code == 2
    assert db.scalar("SELECT count(*) FROM synonym_verdict") == 0


def test_candidate_ids_are_stable_per_market_pair_in_either_order(db: TestDb, planted: dict[str, str]) -> None:
    a, b, c = planted["synonym_a"], planted["synonym_b"], planted["spike_market"]
    with db.connect() as conn:
        db_synonyms.store_candidates(conn, [Candidate(a, b, "equivalent", "x"), Candidate(c, a, "implies", "y")])
        conn.commit()
        ids = dict(conn.execute("SELECT market_a || '|' || market_b, id FROM synonym_candidate").fetchall())
        # the same pairs proposed the other way round (and one no longer): same ids, latest order and kind
        db_synonyms.store_candidates(conn, [Candidate(b, a, "implies", "z")])
        conn.commit()
        rows = conn.execute("SELECT id, market_a, market_b, kind, reason, proposed FROM synonym_candidate "
                            "ORDER BY id").fetchall()
    assert rows == [(ids[f"{a}|{b}"], b, a, "implies", "z", True), (ids[f"{c}|{a}"], c, a, "implies", "y", False)]


def test_a_verdict_changes_the_builders_fingerprint_so_the_next_evaluate_rebuilds(db: TestDb,
                                                                                planted: dict[str, str]) -> None:
    settings = load_settings()
    with db.connect() as conn:
        markets, events = db_markets.load_reference(conn)
        groups, _ = refresh_synonyms(conn, settings, markets, events)
        conn.commit()
        stamp = db.scalar("SELECT value FROM job_state WHERE key = %s", (FINGERPRINT_KEY,))
        assert refresh_synonyms(conn, settings, markets, events).groups == groups  # nothing changed: loaded
        assert [g.proven for g in groups] == [False]
    [cand] = candidates()
    assert invoke_mpx("synonyms", "confirm", str(cand["id"])).code == 0
    with db.connect() as conn:
        groups, _ = refresh_synonyms(conn, settings, markets, events)  # what `mpx evaluate` calls every pass
        conn.commit()
    assert [(g.source, g.proven) for g in groups] == [("confirmed", True)]
    assert db.scalar("SELECT value FROM job_state WHERE key = %s", (FINGERPRINT_KEY,)) != stamp
