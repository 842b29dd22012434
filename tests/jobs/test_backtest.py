"""`mpx backtest` and `mpx kpi` through the real CLI against a real PostgreSQL holding the mock
universe's passes: the planted hits and nothing else, a CSV pandas reads, PnL worked out by hand,
sweeps, the plot, an empty window, bad arguments."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from conftest import TestDb
from helpers import CliResult, invoke_mpx


def mpx(*args: str, **env: str) -> CliResult:
    return invoke_mpx(*args, env={"MPX_LOG_LEVEL": "WARNING", **env})


@pytest.fixture
def history(db: TestDb) -> TestDb:
    """The mock universe (seed 42) after three ingest → evaluate cycles (built once, copied per test)."""

    def build() -> None:
        assert mpx("seed", "--seed", "42").code == 0
        for _ in range(3):
            assert mpx("ingest").code == 0 and mpx("evaluate").code == 0

    db.load("seed 42, 3 × ingest → evaluate", build)
    return db


@pytest.mark.parametrize("rule", ["SUM_LT_1", "CROSS_MARKET_MISPRICE", "ENDGAME", "DUTCH_BOOK_DETECT"])
def test_backtest_reports_exactly_the_planted_hits(history: TestDb, tmp_path: Path, rule: str) -> None:
    out = tmp_path / "hits.csv"
    res = mpx("backtest", "--rule", rule, "--csv-out", str(out), "--format", "json")
    assert res.code == 0, res.stderr
    hits = json.loads(res.stdout)
    # the same rule code and episode tracking as evaluate: the same opportunities, each once
    df = pd.read_csv(out)
    assert list(df.columns[:4]) == ["ts", "market_id", "message", "score"]
    assert len(df) == len(hits) > 0
    with history.connect() as conn:
        expected = sorted(r[0] for r in conn.execute("SELECT signature FROM signal WHERE rule_type = %s", (rule,)))
    assert sorted(df["signature"]) == expected


def test_planted_sets_and_pnl_by_hand(history: TestDb) -> None:
    res = mpx("backtest", "--rule", "sum-lt-1", "--format", "json")
    hits = json.loads(res.stdout)
    assert sorted(Decimal(h["edge_bps"]) for h in hits) == [Decimal("309.27"), Decimal("526.31")]
    assert {h["class"] for h in hits} == {"arbitrage"}
    # An arbitrage's PnL is locked in at entry — payout in every state − cost incl. fees:
    #   the 4-leg set: 100 sets cost 95.00 and pay 100 whichever outcome wins → +5.00
    #   the binary: YES 0.48 + NO 0.49 = 97.00 for 100 sets paying 100 → +3.00
    res = mpx("backtest", "--rule", "sum-lt-1", "--pnl", "--format", "json")
    assert res.code == 0, res.stderr
    [summary] = json.loads(res.stdout)
    assert (summary["trades"], Decimal(summary["total_pnl"]), summary["verdict"]) == (2, Decimal(8), "DEPLOY")
    # …and resolving the event does not change it (the first outcome wins: its YES pays 100, the rest 0)
    with history.connect() as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT leg->>'market_id' FROM signal s, jsonb_array_elements(s.payload->'arbitrage'->'legs') leg "
            "WHERE s.payload->>'structure' = 'neg_risk'").fetchall()]
        conn.execute("UPDATE outcome SET settle_price = CASE WHEN market_id = %s THEN 1 - idx ELSE idx END "
                     "WHERE market_id = ANY(%s)", (ids[0], ids))
    [again] = json.loads(mpx("backtest", "--rule", "sum-lt-1", "--pnl", "--format", "json").stdout)
    assert Decimal(again["total_pnl"]) == Decimal(8)


def test_an_indicator_is_priced_as_the_position_it_suggests(history: TestDb, tmp_path: Path) -> None:
    # ENDGAME's planted hit: 100 YES at 0.955 (no fee) = 95.50. Until the market resolves it is worth
    # what the window's last best bid (0.945) gives: 94.50 → −1.00 ("window_end"). Once it resolves
    # YES it pays 100 → +4.50 ("resolution"); had it resolved NO, −95.50.
    csv = tmp_path / "hits.csv"
    res = mpx("backtest", "--rule", "ENDGAME", "--pnl", "--csv-out", str(csv), "--format", "json")
    assert res.code == 0, res.stderr
    [row] = pd.read_csv(csv).to_dict("records")
    assert (row["class"], row["measure"], row["exit"]) == ("indicator", "return_if_right_bps", "window_end")
    assert (Decimal(str(row["entry_cost"])), Decimal(str(row["exit_value"])), Decimal(str(row["pnl"]))) == (
        Decimal("95.5"), Decimal("94.5"), Decimal(-1))
    with history.connect() as conn:
        market = conn.execute("SELECT market_id FROM signal WHERE rule_type = 'ENDGAME'").fetchone()[0]
        conn.execute("UPDATE outcome SET settle_price = 1 - idx WHERE market_id = %s", (market,))
    mpx("backtest", "--rule", "ENDGAME", "--pnl", "--csv-out", str(csv))
    [row] = pd.read_csv(csv).to_dict("records")
    assert (row["exit"], Decimal(str(row["pnl"]))) == ("resolution", Decimal("4.5"))
    with history.connect() as conn:
        conn.execute("UPDATE outcome SET settle_price = idx WHERE market_id = %s", (market,))
    mpx("backtest", "--rule", "ENDGAME", "--pnl", "--csv-out", str(csv))
    [row] = pd.read_csv(csv).to_dict("records")
    assert (row["exit"], Decimal(str(row["pnl"]))) == ("resolution", Decimal("-95.5"))


def test_sweep_gives_one_row_per_combination_and_a_plot(history: TestDb, tmp_path: Path) -> None:
    png = tmp_path / "pnl.png"
    res = mpx("backtest", "--rule", "sum-lt-1", "--sweep", "size=50,100", "--sweep", "levels.P1=100,400",
              "--plot", str(png), "--format", "json")
    assert res.code == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["variant"] for r in rows] == ["sum-lt-1 size=50 levels.P1=100", "sum-lt-1 size=50 levels.P1=400",
                                            "sum-lt-1 size=100 levels.P1=100", "sum-lt-1 size=100 levels.P1=400"]
    assert all(r["hits"] == 2 for r in rows)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a size of 50 buys half as much: each trade's PnL halves (the planted books are deeper than 100)
    half = {r["variant"]: Decimal(r["total_pnl"]) for r in rows}
    assert half["sum-lt-1 size=50 levels.P1=100"] * 2 == half["sum-lt-1 size=100 levels.P1=100"]


def test_speed_prints_hits_as_they_happen(history: TestDb) -> None:
    res = mpx("backtest", "--rule", "ENDGAME", "--speed", "1000")
    assert res.code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert "P1 indicator endgame return_if_right_bps 471.20" in lines[0] and lines[-1].startswith("backtest: ")


def test_empty_window_and_bad_arguments(history: TestDb) -> None:
    res = mpx("backtest", "--rule", "SUM_LT_1", "--start", "2020-01-01", "--end", "2020-01-02")
    assert res.code == 0 and "no ticks between 2020-01-01 00:00:00 and 2020-01-02 00:00:00 UTC" in res.stdout
    for args, text in [
        (["--rule", "NOPE"], "no rule with that id or type"),
        (["--rule", "SUM_LT_1", "--sweep", "bogus=1,2"], "SUM_LT_1 has no such parameter"),
        (["--rule", "SUM_LT_1", "--sweep", "size"], "expected KEY=V1,V2"),
        (["--rule", "SUM_LT_1", "--sweep", "size=-5"], "greater than 0"),
        (["--rule", "SUM_LT_1", "--start", "yesterday-ish"], "neither a time"),
        (["--rule", "SUM_LT_1", "--start", "1h", "--end", "2h"], "must be before --end"),
        (["--rule", "SUM_LT_1", "--speed", "-1"], ""),
    ]:
        res = mpx("backtest", *args)
        assert res.code == 2, (args, res.stderr)
        assert text in res.stderr, (args, res.stderr)


def test_kpi_rolls_signals_up_per_day_and_rule(history: TestDb) -> None:
    res = mpx("kpi", "--days", "3", "--format", "json")
    assert res.code == 0, res.stderr
    rows = {(r["rule_id"], r["class"]): r for r in json.loads(res.stdout)}
    with history.connect() as conn:
        per_rule = {(r, c): n for r, c, n in conn.execute(
            "SELECT rule_id, finding_class, count(*) FROM signal GROUP BY 1, 2").fetchall()}
        opened = {(r, c): n for r, c, n in conn.execute(
            "SELECT rule_id, finding_class, count(*) FROM opportunity GROUP BY 1, 2").fetchall()}
    assert {k: v["signals"] for k, v in rows.items()} == per_rule
    assert {k: v["episodes"] for k, v in rows.items()} == {k: opened.get(k, 0) for k in per_rule}
    s = rows["sum-lt-1", "arbitrage"]
    assert s["p1"] == 2 and s["avg_edge_bps"] == "417.79"  # (526.31 + 309.27) / 2
    assert Decimal(s["total_edge_usdc"]) == Decimal(8)  # 5 + 3 USDC at 100 sets
    again = mpx("kpi", "--days", "3", "--format", "json")
    assert json.loads(again.stdout) == json.loads(res.stdout)  # idempotent
    assert history.scalar("SELECT count(*) FROM rule_kpi_daily") == len(rows)
    assert mpx("kpi", "--days", "0").code == 2


def test_a_backtest_from_the_archive_gives_the_hits_it_gave_from_postgresql(
        history: TestDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mpx archive` moves the window's day to Parquet (keeping each token's latest tick in
    PostgreSQL); the backtest then reads that day from the archive through DuckDB — and reports the
    same hits, rule by rule, as it did from PostgreSQL."""
    from datetime import UTC, datetime, timedelta

    from mpx.jobs.archive import run_archive
    from mpx.jobs.contract import Job, run_job
    from mpx.settings import load_settings

    monkeypatch.setenv("MPX_ARCHIVE_DIR", str(tmp_path / "archive"))
    kinds = ["SUM_LT_1", "CROSS_MARKET_MISPRICE", "ENDGAME", "DUTCH_BOOK_DETECT", "SPIKE", "TREND_BREAKOUT"]

    def hits() -> dict[str, list[tuple[str, str, str, str]]]:
        out = {}
        for kind in kinds:
            res = mpx("backtest", "--rule", kind, "--format", "json")
            assert res.code == 0, res.stderr
            out[kind] = [(h["ts"], h["signature"], h["level"], h.get("edge_bps") or h.get("measure") or "")
                         for h in json.loads(res.stdout)]
        return out

    from_pg = hits()
    assert sum(len(v) for v in from_pg.values()) >= 4
    ticks = history.scalar("SELECT count(*) FROM tick")
    res = run_job(load_settings(), Job.archive, lambda ctx: run_archive(ctx, now=datetime.now(UTC) + timedelta(days=3)))
    assert res.rows == ticks
    assert history.scalar("SELECT count(*) FROM tick_archive_day") >= 1
    assert history.scalar("SELECT count(*) FROM tick") < ticks  # only each token's latest tick stays
    assert hits() == from_pg
    with history.connect() as conn:  # even those: every tick of the window now comes from Parquet
        conn.execute("DELETE FROM tick")
        conn.commit()
    assert hits() == from_pg
    # an archive directory without the days the manifest lists: an error, never a shorter history
    res = mpx("backtest", "--rule", "SUM_LT_1", MPX_ARCHIVE_DIR=str(tmp_path / "elsewhere"))
    assert res.code == 1 and "has no file under" in res.stderr and "MPX_ARCHIVE_DIR must be" in res.stderr
    # a file truncated since it was archived and verified: an error naming it, nothing half-read
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "archive", broken)
    for f in broken.rglob("*.parquet"):
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    res = mpx("backtest", "--rule", "SUM_LT_1", MPX_ARCHIVE_DIR=str(broken))
    assert res.code == 1 and "the tick archive cannot be read" in res.stderr and "restore it" in res.stderr
    assert "internal error" not in res.stderr


def test_a_window_across_an_archived_day_and_postgresql_gives_the_hits_postgresql_alone_gave(
        history: TestDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first ingest pass (and what came before it) moved three days back and archived, the later
    passes left in PostgreSQL: one window reads both stores — the same books filed from the archive's
    arrays and from PostgreSQL's text — and reports what PostgreSQL alone reported."""
    from datetime import UTC, datetime, timedelta

    from mpx.jobs.archive import run_archive
    from mpx.jobs.contract import Job, run_job
    from mpx.settings import load_settings

    cols = "token_id, market_id, last_trade, bid_px, bid_sz, ask_px, ask_sz, book_digest"
    with history.connect() as conn:
        first = conn.execute("SELECT min(ts) FROM ingest_pass").fetchone()[0]
        conn.execute(f"INSERT INTO tick (ts, {cols}) SELECT ts - interval '3 days', {cols} FROM tick WHERE ts <= %s",
                     (first,))
        conn.execute("DELETE FROM tick WHERE ts <= %s AND ts > %s", (first, first - timedelta(days=1)))
        conn.execute("UPDATE ingest_pass SET ts = ts - interval '3 days' WHERE ts <= %s", (first,))
        conn.commit()
    start = (first - timedelta(days=4)).isoformat()
    kinds = ["SUM_LT_1", "CROSS_MARKET_MISPRICE", "ENDGAME", "DUTCH_BOOK_DETECT", "SPIKE", "TREND_BREAKOUT"]

    def hits() -> dict[str, list[tuple[str, str, str]]]:
        out = {}
        for kind in kinds:
            res = mpx("backtest", "--rule", kind, "--start", start, "--format", "json")
            assert res.code == 0, res.stderr
            out[kind] = [(h["ts"], h["signature"], h["level"]) for h in json.loads(res.stdout)]
        return out

    from_pg = hits()
    assert sum(len(v) for v in from_pg.values()) >= 4
    monkeypatch.setenv("MPX_ARCHIVE_DIR", str(tmp_path / "archive"))
    res = run_job(load_settings(), Job.archive, lambda ctx: run_archive(ctx, now=datetime.now(UTC)))
    assert res.rows > 0
    with history.connect() as conn:
        days = conn.execute("SELECT day FROM tick_archive_day").fetchall()
        left = conn.execute("SELECT count(*) FROM tick WHERE ts > %s", (first,)).fetchone()[0]
    assert days == [((first - timedelta(days=3)).astimezone(UTC).date(),)] and left > 0  # one day each
    assert hits() == from_pg
