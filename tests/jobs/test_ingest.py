"""`mpx ingest`: one pass, unchanged books not rewritten, one run at a time, nothing half-written.
The commands run in-process, but for the real processes whose boundary is the point: a run that holds
the lock while another starts, a run whose database connection is killed mid-pass."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from mpx.adapters.metrics import JobMetrics
from mpx.adapters.sources.mock import MockSource
from mpx.domain.models import Book, Level, Snapshot
from mpx.jobs.contract import Context
from mpx.jobs.ingest import store_snapshot
from mpx.settings import load_settings

from conftest import TestDb
from helpers import invoke_mpx as run_mpx
from helpers import spawn_mpx


def test_seed_then_ingest_writes_only_changed_books(db: TestDb) -> None:
    seed = run_mpx("seed")
    assert seed.code == 0, seed.stderr
    tokens = db.scalar("SELECT count(*) FROM outcome")
    assert tokens == db.scalar("SELECT count(*) FROM tick")  # first frame: every book
    assert db.scalar("SELECT count(*) FROM market") >= 200

    res = run_mpx("ingest")
    assert res.code == 0, res.stderr
    written = db.scalar("SELECT written FROM ingest_pass ORDER BY ts DESC LIMIT 1")
    books = db.scalar("SELECT books FROM ingest_pass ORDER BY ts DESC LIMIT 1")
    missing = db.scalar("SELECT missing FROM ingest_pass ORDER BY ts DESC LIMIT 1")
    # every book but the two of the planted stale decoy's outcome A, which stop arriving after frame 0
    assert books == tokens - 2 and len(missing) == 2  # type: ignore[operator, arg-type]
    assert 0 < written < books, "only the books that changed are written"  # type: ignore[operator]
    assert f"{written} written" in res.stdout
    run = db.scalar("SELECT status || ':' || rows FROM job_run WHERE job = 'ingest' ORDER BY id DESC LIMIT 1")
    assert run == f"ok:{written}"


def test_identical_snapshot_writes_nothing_the_second_time(db: TestDb) -> None:
    settings = load_settings(None, mpx_database_url=db.url)
    source = MockSource(seed=7)
    snap = source.frame(0, datetime(2026, 1, 1, tzinfo=UTC))
    with db.connect() as conn:
        ctx = Context(settings, conn, JobMetrics("test"))
        first = store_snapshot(ctx, "mock", snap)
        conn.commit()
        again = store_snapshot(ctx, "mock", Snapshot(ts=snap.ts + timedelta(seconds=10), books=snap.books))
        conn.commit()
    assert first.rows == len(snap.books)
    assert again.rows == 0 and again.unchanged == len(snap.books)


def test_one_sided_and_empty_books_are_stored_as_such(db: TestDb) -> None:
    settings = load_settings(None, mpx_database_url=db.url)
    snap = MockSource(seed=3).frame(0, datetime(2026, 1, 1, tzinfo=UTC))
    yes, no = snap.markets[0].outcomes[0].token_id, snap.markets[0].outcomes[1].token_id
    snap.books = [Book(yes, bids=(), asks=(Level(Decimal("0.61"), Decimal("40")),)), Book(no)]
    with db.connect() as conn:
        store_snapshot(Context(settings, conn, JobMetrics("test")), "mock", snap)
        conn.commit()
        rows = {r[0]: r[1:] for r in conn.execute(
            "SELECT token_id, price, best_bid, best_ask, bid_px, ask_px, ask_sz FROM tick").fetchall()}
    assert rows[yes] == (None, None, Decimal("0.61"), [], [Decimal("0.61")], [Decimal("40")])
    assert rows[no] == (None, None, None, [], [], [])


def test_two_concurrent_ingests_one_runs_one_exits_75(db: TestDb) -> None:
    assert run_mpx("seed").code == 0
    first = spawn_mpx("ingest", env={"MPX_MOCK_LATENCY_MS": "5000"})  # a real process, 5 s in its pass (a
    # second process starting on a loaded machine takes seconds to import)
    _wait_for_the_ingest_lock(db, first)
    second = run_mpx("ingest")  # starts while the first holds the lock
    codes = sorted([first.wait(timeout=60), second.code])
    assert codes == [0, 75], (second.stderr, first.stderr.read() if first.stderr else "")
    statuses = sorted(r[0] for r in _runs(db))
    assert statuses.count("ok") >= 2 and "skipped" in statuses  # seed + one ingest ok, one skipped


def _wait_for_the_ingest_lock(db: TestDb, proc: subprocess.Popen[str]) -> None:
    """Until ``proc`` holds the ingest job's advisory lock (a second run started now finds it held)."""
    deadline = time.monotonic() + 30
    with db.connect(autocommit=True) as admin:
        while time.monotonic() < deadline and proc.poll() is None:
            if admin.execute("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                             "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = %s",
                             (db.name,)).fetchone() != (0,):
                return
            time.sleep(0.02)
    raise AssertionError(f"the first ingest never took its lock (exit {proc.poll()})")


def test_database_gone_mid_pass_exits_75_and_writes_nothing(db: TestDb) -> None:
    assert run_mpx("seed").code == 0
    ticks_before = db.scalar("SELECT count(*) FROM tick")
    passes_before = db.scalar("SELECT count(*) FROM ingest_pass")
    proc = spawn_mpx("ingest", env={"MPX_MOCK_LATENCY_MS": "2500"})
    killed = 0
    deadline = time.monotonic() + 10
    with db.connect(autocommit=True) as admin:
        while not killed and time.monotonic() < deadline:
            time.sleep(0.2)
            killed = len(admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'mpx' AND datname = %s AND pid <> pg_backend_pid()", (db.name,)
            ).fetchall())
    assert killed, "the ingest never connected"
    code = proc.wait(timeout=60)
    err = proc.stderr.read() if proc.stderr else ""
    assert code == 75, err
    assert "database" in err
    assert db.scalar("SELECT count(*) FROM tick") == ticks_before
    assert db.scalar("SELECT count(*) FROM ingest_pass") == passes_before
    # and the next pass works
    assert run_mpx("ingest").code == 0


def test_ingest_logs_json_lines_on_stderr(db: TestDb) -> None:
    import json

    assert run_mpx("seed").code == 0
    res = run_mpx("ingest")
    lines = [json.loads(ln) for ln in res.stderr.splitlines() if ln.startswith("{")]
    finished = [ln for ln in lines if ln["msg"] == "pass finished"]
    assert finished and finished[0]["job"] == "ingest" and "written" in finished[0]


def _runs(db: TestDb) -> list[tuple[str]]:
    with db.connect() as conn:
        return conn.execute("SELECT status FROM job_run").fetchall()


def test_seed_reset_empties_everything_derived_and_starts_over(db: TestDb) -> None:
    assert run_mpx("seed").code == 0
    for _ in range(2):
        assert run_mpx("ingest").code == 0 and run_mpx("evaluate").code == 0
    assert db.scalar("SELECT count(*) FROM opportunity") and db.scalar("SELECT count(*) FROM synonym_group")
    res = run_mpx("seed", "--reset")
    assert res.code == 0, res.stderr
    assert db.scalar("SELECT count(*) FROM signal") == 0 and db.scalar("SELECT count(*) FROM opportunity") == 0
    assert db.scalar("SELECT count(*) FROM synonym_group") == 0
    # the first frame again: every book written, none skipped as "unchanged" against the old passes
    assert db.scalar("SELECT count(*) FROM tick") == db.scalar("SELECT count(*) FROM outcome")
    assert run_mpx("ingest").code == 0 and run_mpx("evaluate").code == 0
    assert db.scalar("SELECT count(*) FROM signal") > 0
