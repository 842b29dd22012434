"""The synonyms job and store on a real PostgreSQL: `mpx seed` → `mpx synonyms refresh | list`,
`mpx markets show`, replace-all refreshes, the fingerprint, missing and invalid files.
(tests/jobs/test_synonyms_cli.py covers more of the command line.)"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import synonyms as db_synonyms
from mpx.adapters.sources.mock import MockSource
from mpx.domain.rules.base import Relation, SynonymGroup
from mpx.jobs.synonyms import FINGERPRINT_KEY, refresh_synonyms
from mpx.settings import load_settings

from conftest import TestDb
from helpers import invoke_mpx as run_mpx


def seeded(db: TestDb) -> dict[str, str]:
    assert run_mpx("seed", "--seed", "42").code == 0
    return MockSource(seed=42).planted


def test_refresh_list_and_show_on_the_mock_universe(db: TestDb) -> None:
    p = seeded(db)
    res = run_mpx("synonyms", "refresh")
    assert res.code == 0, res.stderr
    assert ("synonyms: 1 group(s) (keywords 1), 2 relation(s) (date 1, threshold 1) over 339 market(s); "
            "proven: 0 group(s), 2 relation(s); 1 candidate pair(s)") in res.stdout
    listing = json.loads(run_mpx("synonyms", "list", "--format", "json").stdout)
    assert [(g["group"], g["source"], g["market_id"]) for g in listing["groups"]] == [  # by question
        ("kw:bitcoin-150k-2026", "keywords", p["synonym_b"]), ("kw:bitcoin-150k-2026", "keywords", p["synonym_a"])]
    assert {(r["kind"], r["narrower_id"], r["wider_id"]) for r in listing["relations"]} == {
        ("threshold", p["ladder_high"], p["ladder_low"]), ("date", p["date_early"], p["date_late"])}
    threshold = next(r for r in listing["relations"] if r["kind"] == "threshold")
    assert threshold["key"] == f"rel:{p['ladder_high']}>{p['ladder_low']}"
    assert threshold["note"] == ("above $80,000 ⊂ above $70,000: "
                                 "Will Bitcoin be above $80,000 on December 31, 2026?")
    assert (threshold["proven"], threshold["basis"]) == (
        True, "threshold ladder: same template, rules identical but for the threshold")
    assert {(g["proven"], g["basis"]) for g in listing["groups"]} == {
        (False, "keywords of group bitcoin-150k-2026 in synonyms.yml: a candidate until a person confirms it "
                "(mpx synonyms candidates)")}

    shown = json.loads(run_mpx("markets", "show", p["synonym_b"], "--format", "json").stdout)
    assert shown["groups"] == "kw:bitcoin-150k-2026"
    [group] = shown["synonym_groups"]
    assert (group["key"], group["source"]) == ("kw:bitcoin-150k-2026", "keywords")
    assert group["others"] == [{"id": p["synonym_a"], "question": "Will Bitcoin reach $150,000 in 2026?"}]
    shown = json.loads(run_mpx("markets", "show", p["ladder_low"], "--format", "json").stdout)
    assert [(r["role"], r["other_id"], r["kind"]) for r in shown["market_relations"]] == [
        ("implied by", p["ladder_high"], "threshold")]
    table = run_mpx("markets", "show", p["date_early"]).stdout
    assert "implies Will the ceasefire hold by June 30, 2027? (date)" in table

    csv_out = run_mpx("synonyms", "list", "--only", "relations", "--format", "csv").stdout.splitlines()
    assert csv_out[0] == "kind,proven,narrower,wider,key,narrower_id,wider_id,note,basis" and len(csv_out) == 3


def test_a_second_refresh_after_editing_the_file_replaces_everything(db: TestDb, tmp_path: Path) -> None:
    p = seeded(db)
    assert run_mpx("synonyms", "refresh").code == 0
    edited = tmp_path / "syn.yml"
    edited.write_text(
        "groups:\n"
        f"  - {{name: planted, markets: [{p['synonym_a']}, {p['spike_market']}, not-a-market]}}\n"
        "relations:\n"
        f"  - {{narrower: {p['endgame_market']}, wider: {p['decoy_far_endgame']}, note: declared}}\n"
        "matcher: {ladders: false}\n")
    res = run_mpx("synonyms", "refresh", env={"MPX_SYNONYMS_FILE": str(edited)})
    assert res.code == 0, res.stderr
    assert "1 group(s) (list 1), 1 relation(s) (declared 1)" in res.stdout
    assert "note: group planted: no market 'not-a-market' in the universe" in res.stderr
    assert db.scalar("SELECT array_agg(key) FROM synonym_group") == ["list:planted"]
    assert db.scalar("SELECT count(*) FROM synonym_group_member") == 2
    assert db.scalar("SELECT array_agg(kind || ':' || note) FROM market_relation") == ["declared:declared"]
    # back to the shipped file: the list group and the declared relation go, the ladders come back
    assert run_mpx("synonyms", "refresh").code == 0
    assert db.scalar("SELECT array_agg(key) FROM synonym_group") == ["kw:bitcoin-150k-2026"]
    assert db.scalar("SELECT count(*) FROM market_relation WHERE kind <> 'declared'") == 2
    assert db.scalar("SELECT count(*) FROM market_relation WHERE kind = 'declared'") == 0


def test_the_job_stores_then_loads_while_nothing_changed(db: TestDb, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    seeded(db)
    settings = load_settings()
    with db.connect() as conn:
        markets, events = db_markets.load_reference(conn)
        built = refresh_synonyms(conn, settings, markets, events)
        conn.commit()
        stamp = db.scalar("SELECT updated_at FROM job_state WHERE key = %s", (FINGERPRINT_KEY,))
        assert tuple(refresh_synonyms(conn, settings, markets, events)) == tuple(built)  # loaded, not rebuilt
        conn.commit()
        assert db.scalar("SELECT updated_at FROM job_state WHERE key = %s", (FINGERPRINT_KEY,)) == stamp
        assert db_synonyms.load(conn) == tuple(built)
        # a market changes its question: rebuilt (the ladder is gone)
        [low] = [m for m in markets.values() if m.question.startswith("Will Bitcoin be above $70,000")]
        markets[low.id] = replace(low, question="Renamed?")
        groups, relations = refresh_synonyms(conn, settings, markets, events)
        conn.commit()
        assert [r.kind for r in relations] == ["date"] and len(groups) == 1
        assert db.scalar("SELECT updated_at FROM job_state WHERE key = %s", (FINGERPRINT_KEY,)) != stamp


def test_store_replaces_members_and_rows_and_keeps_unchanged_rows(db: TestDb) -> None:
    seeded(db)
    with db.connect() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM market ORDER BY id LIMIT 4")]
        a, b, c, d = ids
        db_synonyms.store(conn, [SynonymGroup("list:x", "x", "list", (a, b, c))],
                          [Relation(f"rel:{a}>{b}", a, b, "declared", "n")])
        conn.commit()
        first = conn.execute("SELECT updated_at FROM market_relation").fetchone()
        db_synonyms.store(conn, [SynonymGroup("list:x", "x", "list", (a, d)), SynonymGroup("auto:1", "y", "similar",
                                                                                          (b, c))],
                          [Relation(f"rel:{a}>{b}", a, b, "declared", "n")])
        conn.commit()
        assert db_synonyms.load(conn) == ([SynonymGroup("auto:1", "y", "similar", tuple(sorted((b, c)))),
                                           SynonymGroup("list:x", "x", "list", tuple(sorted((a, d))))],
                                          [Relation(f"rel:{a}>{b}", a, b, "declared", "n")])
        assert conn.execute("SELECT updated_at FROM market_relation").fetchone() == first  # unchanged row
        # proven and basis round-trip; market_relation takes a person's confirmed relation
        proven = ([SynonymGroup("confirmed:1", "c", "confirmed", (a, b), True, "confirmed by x@y on 2026-12-01")],
                  [Relation(f"rel:{c}>{d}", c, d, "confirmed", "n", True, "confirmed by x@y on 2026-12-01")])
        db_synonyms.store(conn, *proven)
        conn.commit()
        assert db_synonyms.load(conn) == (proven[0], proven[1])
        db_synonyms.store(conn, [], [])
        conn.commit()
        assert db_synonyms.load(conn) == ([], [])
        assert conn.execute("SELECT count(*) FROM synonym_group_member").fetchone() == (0,)


def test_a_missing_file_is_the_matcher_only_unless_configured(db: TestDb, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    seeded(db)
    monkeypatch.delenv("MPX_SYNONYMS_FILE")  # the default ./synonyms.yml, absent in the test's cwd
    res = run_mpx("synonyms", "refresh")
    assert res.code == 0, res.stderr
    assert "0 group(s), 2 relation(s) (date 1, threshold 1)" in res.stdout and "no synonyms file" in res.stderr
    res = run_mpx("synonyms", "refresh", env={"MPX_SYNONYMS_FILE": str(tmp_path / "typo.yml")})
    assert res.code == 78 and f"{tmp_path / 'typo.yml'}: no such file" in res.stderr
    assert db.scalar("SELECT count(*) FROM market_relation") == 2  # untouched


def test_an_invalid_file_exits_78_naming_file_line_and_key(db: TestDb, tmp_path: Path) -> None:
    seeded(db)
    assert run_mpx("synonyms", "refresh").code == 0
    bad = tmp_path / "syn.yml"
    bad.write_text("groups:\n  - name: x\n    keywords: [a]\nmatcher:\n  min_similarity: 0\n  ladder: true\n")
    for args in (("synonyms", "refresh"), ("synonyms", "validate"), ("synonyms", "validate", str(bad))):
        res = run_mpx(*args, env={"MPX_SYNONYMS_FILE": str(bad)})
        assert res.code == 78, (args, res.stderr)
        assert f"{bad}:5: matcher.min_similarity: Input should be greater than 0" in res.stderr
        assert f"{bad}:6: matcher.ladder: unknown key" in res.stderr
    assert db.scalar("SELECT count(*) FROM synonym_group") == 1  # the stored groups are kept
