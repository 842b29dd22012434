"""The exit-code contract (README "Exit codes"): each code pinned by a real invocation."""

from __future__ import annotations

from pathlib import Path

from mpx.adapters.db.connection import lock_key
from mpx.exit import ExitCode

from conftest import TestDb
from helpers import run_mpx


def test_codes_are_the_published_values() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 75, 78]


def test_ok_is_0() -> None:
    assert run_mpx("config", "show").code == 0


def test_bad_arguments_exit_2() -> None:
    for args in (["signals", "--limit", "0"], ["no-such-command"], ["signals", "--level", "P7"],
                 ["signals", "--since", "banana"], ["markets", "list", "--format", "xml"],
                 ["runs", "--status", "dead"], ["runs", "--job", "nope"], ["opportunities", "--status", "closing"],
                 ["alerts", "list", "--status", "lost"], ["markets", "list", "--status", "gone"]):
        res = run_mpx(*args)
        assert res.code == 2, (args, res.stderr)
        assert res.stderr.strip(), args


def test_bad_settings_exit_78() -> None:
    res = run_mpx("ingest", env={"DATA_SOURCE": "carrier-pigeon"})
    assert res.code == 78
    assert "DATA_SOURCE" in res.stderr


def test_bad_rules_exit_78_before_touching_the_database(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("id: x\ntype: SUM_LT_1\nlevels: {P1: 10}\nparams: {sise: 3}\n")
    res = run_mpx("evaluate", env={"MPX_RULES_DIR": str(tmp_path),
                                   "MPX_DATABASE_URL": "host=/nonexistent dbname=x"})
    assert res.code == 78
    assert "bad.yaml:4" in res.stderr and "params.sise" in res.stderr


def test_database_unavailable_exits_75_with_a_hint() -> None:
    res = run_mpx("ingest", env={"MPX_DATABASE_URL": "host=/nonexistent-socket-dir dbname=mpx user=mpx"})
    assert res.code == 75
    assert "database unavailable" in res.stderr
    assert "hint:" in res.stderr


def test_local_cluster_not_started_exits_75_and_says_mpx_db_up(tmp_path: Path) -> None:
    res = run_mpx("signals", env={"MPX_PG_DIR": str(tmp_path / "nowhere")})
    assert res.code == 75
    assert "mpx db up" in res.stderr


def test_busy_lock_exits_75_with_one_line(db: TestDb) -> None:
    with db.connect(autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock_key("ingest:polymarket"),))
        res = run_mpx("ingest")
    assert res.code == 75
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("mpx: error")]
    assert len(errors) == 1 and "another run holds the lock" in errors[0]
    assert db.scalar("SELECT status FROM job_run WHERE job = 'ingest' ORDER BY id DESC LIMIT 1") == "skipped"


def test_unknown_market_exits_1(db: TestDb) -> None:
    res = run_mpx("markets", "show", "0xdoesnotexist")
    assert res.code == 1
    assert "no market matches" in res.stderr
