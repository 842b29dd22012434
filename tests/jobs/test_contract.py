"""The job contract (README "The job contract") for every command that runs a pass: the lock (75),
the job_run row (running → ok | failed | skipped | killed), metrics on the Pushgateway and in the
textfile, and exit 75 for a database that is unavailable anywhere — connecting, taking the lock,
writing the run record."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mpx.adapters.db import runs as db_runs
from mpx.adapters.db.connection import lock_key

from conftest import TestDb
from helpers import invoke_mpx, spawn_mpx

# every command a timer or cron line runs (jobs/, crontab.example), and the lock each one takes
SCHEDULED = [
    (("ingest",), "ingest", "ingest:polymarket"),
    (("evaluate",), "evaluate", "evaluate"),
    (("seed",), "seed", "ingest:polymarket"),
    (("synonyms", "refresh"), "synonyms", "synonyms"),
    (("pairs", "propose"), "pairs", "pairs"),
    (("ingest", "--source", "mock"), "ingest", "ingest:polymarket"),
    (("kpi", "--days", "2"), "kpi", "kpi"),
    (("intents", "settle"), "settle", "settle"),
    (("alerts", "flush"), "alerts", "alerts"),
    (("db", "migrate"), "migrate", "migrate"),
    (("archive",), "archive", "archive"),
]


def _samples(path: Path) -> dict[str, float]:
    return {s.name: s.value for f in text_string_to_metric_families(path.read_text()) for s in f.samples}


def _refused_url() -> str:
    """A server address where nothing listens: the connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"host=127.0.0.1 port={port} dbname=mpx user=mpx connect_timeout=3"


@pytest.mark.parametrize(("args", "job", "lock"), SCHEDULED, ids=[" ".join(a) for a, _, _ in SCHEDULED])
def test_a_database_refusing_connections_is_75_with_one_line_and_metrics(
        args: tuple[str, ...], job: str, lock: str, tmp_path: Path) -> None:
    prom = tmp_path / "m.prom"
    res = invoke_mpx("--metrics-textfile", str(prom), *args, env={"MPX_DATABASE_URL": _refused_url()})
    assert res.code == 75, (args, res.stderr)
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("mpx: error")]
    assert len(errors) == 1 and "database unavailable" in errors[0], res.stderr
    assert "internal error" not in res.stderr
    assert _samples(prom)["mpx_job_exit_code"] == 75  # the failed run's metrics are written too


@pytest.mark.parametrize(("args", "job", "lock"), SCHEDULED, ids=[" ".join(a) for a, _, _ in SCHEDULED])
def test_a_held_lock_is_75_and_a_skipped_run(db: TestDb, args: tuple[str, ...], job: str, lock: str) -> None:
    with db.connect(autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock_key(lock),))
        res = invoke_mpx(*args)
    assert res.code == 75, (args, res.stderr)
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("mpx: error")]
    assert len(errors) == 1 and "another run holds the lock" in errors[0], res.stderr
    assert db.scalar("SELECT status FROM job_run WHERE job = %s ORDER BY id DESC LIMIT 1", (job,)) == "skipped"


def test_every_scheduled_command_records_its_run(db: TestDb) -> None:
    assert invoke_mpx("seed").code == 0
    for args, job, _ in SCHEDULED:
        res = invoke_mpx(*args)
        assert res.code == 0, (args, res.stderr)
        assert db.scalar("SELECT status FROM job_run WHERE job = %s ORDER BY id DESC LIMIT 1", (job,)) == "ok", args


def test_synonyms_refresh_writes_its_metrics_textfile_and_a_job_run_row(db: TestDb, tmp_path: Path, gateway) -> None:  # type: ignore[no-untyped-def]
    assert invoke_mpx("seed", "--seed", "42").code == 0
    prom = tmp_path / "mpx_synonyms.prom"  # what jobs/mpx-synonyms.service passes
    res = invoke_mpx("--metrics-textfile", str(prom), "synonyms", "refresh", env={"PUSHGATEWAY_URL": gateway.url})
    assert res.code == 0, res.stderr
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    exit_code = families["mpx_job_exit_code"].samples[0]
    assert exit_code.labels == {"job": "mpx_synonyms"} and exit_code.value == 0
    assert families["mpx_synonym_groups"].samples[0].value == 1
    assert "mpx_job_last_success_timestamp_seconds" in families
    assert gateway.samples("mpx_synonyms")["mpx_job_exit_code"] == 0
    row = db.scalar("SELECT status || ':' || rows FROM job_run WHERE job = 'synonyms' ORDER BY id DESC LIMIT 1")
    assert row == "ok:3"  # 1 group + 2 relations


def test_db_migrate_records_its_run_even_on_an_empty_database(db: TestDb) -> None:
    with db.connect(autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    res = invoke_mpx("db", "migrate")
    assert res.code == 0 and "applied: 001_core.sql" in res.stdout, res.stderr
    assert db.scalar("SELECT status FROM job_run WHERE job = 'migrate'") == "ok"  # recorded at the end
    res = invoke_mpx("db", "migrate")
    assert res.code == 0 and "schema up to date" in res.stdout
    assert db.scalar("SELECT count(*) FROM job_run WHERE job = 'migrate' AND status = 'ok'") == 2


def _wait_for(db: TestDb, sql: str, params: tuple[object, ...] = (), timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = db.scalar(sql, params)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {sql}")


def test_a_pass_killed_with_sigkill_is_marked_killed_by_the_next_run(db: TestDb) -> None:
    assert invoke_mpx("seed").code == 0
    ticks = db.scalar("SELECT count(*) FROM tick")
    proc = spawn_mpx("ingest", env={"MPX_MOCK_LATENCY_MS": "60000"})  # hangs in the fetch, mid-pass
    try:
        run_id = _wait_for(db, "SELECT id FROM job_run WHERE job = 'ingest' AND status = 'running'")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    # nothing committed, and the row says running until the next run of the job
    assert db.scalar("SELECT count(*) FROM tick") == ticks
    _wait_for(db, "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = %s AND application_name = 'mpx'",
              (db.name,))
    assert db.scalar("SELECT status FROM job_run WHERE id = %s", (run_id,)) == "running"
    report = json.loads(invoke_mpx("health").stdout)
    assert {"job": "ingest", "run": run_id, "marked": False} .items() <= report["runs"]["killed_24h"][0].items()
    assert report["runs"]["running"] == []

    res = invoke_mpx("ingest")
    assert res.code == 0, res.stderr
    assert db.scalar("SELECT status FROM job_run WHERE id = %s", (run_id,)) == "killed"
    assert "killed" in str(db.scalar("SELECT error FROM job_run WHERE id = %s", (run_id,)))
    assert db.scalar("SELECT count(*) FROM job_run WHERE job = 'ingest' AND status = 'running'") == 0
    listed = json.loads(invoke_mpx("runs", "--status", "killed", "--format", "json").stdout)
    assert [r["id"] for r in listed] == [run_id] and listed[0]["job"] == "ingest"
    report = json.loads(invoke_mpx("health").stdout)
    assert report["runs"]["killed_24h"][0]["marked"] is True


def test_a_run_still_in_progress_is_never_marked_killed(db: TestDb) -> None:
    """Unlocked jobs (`mpx intents`) run side by side: a run marks only rows whose process is gone."""
    with db.connect(autocommit=True) as alive:
        live = db_runs.start_run(alive, "intents")  # holds its run lock for as long as this session lives
        with db.connect(autocommit=True) as other:
            dead = db_runs.start_run(other, "intents")
        res = invoke_mpx("intents", "cancel", "424242")  # any intents command is a run of the job
        assert res.code == 1 and "not found" in res.stderr
        assert db.scalar("SELECT status FROM job_run WHERE id = %s", (live,)) == "running"
        assert db.scalar("SELECT status FROM job_run WHERE id = %s", (dead,)) == "killed"
        report = json.loads(invoke_mpx("health").stdout)
        assert [r["run"] for r in report["runs"]["running"]] == [live]


class _Lost:
    """Stands in for a statement that meets a dropped connection."""

    def __init__(self, where: str) -> None:
        self.where = where

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise psycopg.OperationalError(f"server closed the connection unexpectedly ({self.where})")


@pytest.mark.parametrize(("target", "stage"), [
    ("mpx.jobs.contract.advisory_lock", "taking the lock"),
    ("mpx.adapters.db.runs.start_run", "recording the run's start"),
    ("mpx.adapters.db.runs.mark_killed", "recording the run's start"),
    ("mpx.adapters.db.runs.finish_run", "recording the run's end"),
])
def test_a_database_lost_around_the_pass_is_75_not_an_internal_error(
        db: TestDb, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, target: str, stage: str) -> None:
    assert invoke_mpx("seed").code == 0
    monkeypatch.setattr(target, _Lost(target))
    prom = tmp_path / "m.prom"
    res = invoke_mpx("--metrics-textfile", str(prom), "kpi")
    assert res.code == 75, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("mpx: error")]
    assert len(errors) == 1 and f"kpi: database connection lost while {stage}" in errors[0], res.stderr
    assert "internal error" not in res.stderr
    assert _samples(prom)["mpx_job_exit_code"] == 75
