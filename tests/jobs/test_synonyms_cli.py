"""`mpx synonyms refresh | list | validate` and `mpx markets show` on a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from mpx.adapters.sources.mock import MockSource

from conftest import REPO, TestDb
from helpers import invoke_mpx as run_mpx


def test_refresh_stores_the_planted_group_and_ladders_and_show_lists_them(db: TestDb) -> None:
    assert run_mpx("seed", "--seed", "42").code == 0
    res = run_mpx("synonyms", "refresh")
    assert res.code == 0, res.stderr
    assert "1 group(s) (keywords 1), 2 relation(s) (date 1, threshold 1)" in res.stdout
    planted = MockSource(seed=42).planted
    listing = json.loads(run_mpx("synonyms", "list", "--format", "json").stdout)
    assert {g["market_id"] for g in listing["groups"]} == {planted["synonym_a"], planted["synonym_b"]}
    kinds = {(r["kind"], r["narrower"]) for r in listing["relations"]}
    assert kinds == {("threshold", "Will Bitcoin be above $80,000 on December 31, 2026?"),
                     ("date", "Will the ceasefire hold by March 31, 2027?")}
    shown = json.loads(run_mpx("markets", "show", planted["ladder_high"], "--format", "json").stdout)
    assert shown["relations"] == "implies Will Bitcoin be above $70,000 on December 31, 2026? (threshold)"
    shown = json.loads(run_mpx("markets", "show", planted["synonym_a"], "--format", "json").stdout)
    assert shown["groups"] == "kw:bitcoin-150k-2026"


def test_a_group_dropped_from_the_file_is_removed_on_the_next_refresh(db: TestDb, tmp_path: Path) -> None:
    assert run_mpx("seed", "--seed", "42").code == 0
    assert run_mpx("synonyms", "refresh").code == 0
    assert db.scalar("SELECT count(*) FROM synonym_group") == 1
    empty = tmp_path / "syn.yml"
    empty.write_text("groups: []\nmatcher: {ladders: false}\n")
    assert run_mpx("synonyms", "refresh", env={"MPX_SYNONYMS_FILE": str(empty)}).code == 0
    assert db.scalar("SELECT count(*) FROM synonym_group") == 0
    assert db.scalar("SELECT count(*) FROM synonym_group_member") == 0
    assert db.scalar("SELECT count(*) FROM market_relation") == 0


def test_evaluate_refreshes_only_when_markets_or_the_file_change(db: TestDb, tmp_path: Path) -> None:
    assert run_mpx("seed", "--seed", "42").code == 0
    assert run_mpx("ingest").code == 0
    assert run_mpx("evaluate").code == 0
    stamp = db.scalar("SELECT updated_at FROM job_state WHERE key = 'synonyms:fingerprint'")
    assert run_mpx("ingest").code == 0 and run_mpx("evaluate").code == 0
    assert db.scalar("SELECT updated_at FROM job_state WHERE key = 'synonyms:fingerprint'") == stamp
    changed = tmp_path / "syn.yml"
    changed.write_text((REPO / "synonyms.yml").read_text() + "\n# edited\n")
    assert run_mpx("ingest").code == 0 and run_mpx("evaluate", env={"MPX_SYNONYMS_FILE": str(changed)}).code == 0
    assert db.scalar("SELECT updated_at FROM job_state WHERE key = 'synonyms:fingerprint'") != stamp


def test_an_invalid_synonyms_file_exits_78_naming_file_line_and_key(db: TestDb, tmp_path: Path) -> None:
    bad = tmp_path / "syn.yml"
    bad.write_text("groups:\n  - name: x\n    keyword: [a]\n")
    for args in (("synonyms", "validate", str(bad)), ("evaluate",), ("synonyms", "refresh")):
        res = run_mpx(*args, env={"MPX_SYNONYMS_FILE": str(bad)})
        assert res.code == 78, (args, res.stderr)
        assert f"{bad}:3: groups.0.keyword: unknown key" in res.stderr
    ok = run_mpx("synonyms", "validate")
    assert ok.code == 0 and "valid (1 group(s)" in ok.stdout
