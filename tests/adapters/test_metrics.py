"""Metrics push: a local HTTP server receives what a Pushgateway would; a gateway that is down
costs a warning line, never the job."""

from __future__ import annotations

import json

from mpx.adapters.db.connection import lock_key

from conftest import TestDb
from helpers import run_mpx


def test_successful_pass_puts_its_metrics_with_job_grouping_key(db: TestDb, gateway) -> None:  # type: ignore[no-untyped-def]
    url, received = gateway
    assert run_mpx("seed").code == 0
    res = run_mpx("ingest", env={"PUSHGATEWAY_URL": url})
    assert res.code == 0, res.stderr
    method, path, body = received[-1]
    assert method == "PUT" and path == "/metrics/job/mpx_ingest"
    for name in ("mpx_job_duration_seconds", "mpx_job_last_run_timestamp_seconds",
                 "mpx_job_last_success_timestamp_seconds", 'mpx_ingest_latency_ms{source="mock"}',
                 "mpx_ingest_last_tick_timestamp", "mpx_ingest_ticks_total", "mpx_job_exit_code 0.0"):
        assert name in body, name


def test_skipped_pass_posts_without_touching_last_success(db: TestDb, gateway) -> None:  # type: ignore[no-untyped-def]
    url, received = gateway
    with db.connect(autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock_key("ingest"),))
        res = run_mpx("ingest", env={"PUSHGATEWAY_URL": url})
    assert res.code == 75
    method, path, body = received[-1]
    assert method == "POST" and path == "/metrics/job/mpx_ingest"
    assert "mpx_job_exit_code 75.0" in body
    assert "mpx_job_last_success_timestamp_seconds" not in body


def test_gateway_down_costs_a_warning_not_the_job(db: TestDb) -> None:
    assert run_mpx("seed").code == 0
    res = run_mpx("ingest", env={"PUSHGATEWAY_URL": "http://127.0.0.1:9"})
    assert res.code == 0, res.stderr
    warnings = [json.loads(ln) for ln in res.stderr.splitlines()
                if ln.startswith("{") and "pushgateway" in ln]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning"


def test_evaluate_pushes_signal_totals_from_the_database(db: TestDb, gateway) -> None:  # type: ignore[no-untyped-def]
    url, received = gateway
    assert run_mpx("seed").code == 0
    for _ in range(2):
        assert run_mpx("ingest").code == 0
        assert run_mpx("evaluate", env={"PUSHGATEWAY_URL": url}).code == 0
    totals = [b for m, p, b in received if p == "/metrics/job/mpx_evaluate"]
    stored = db.scalar("SELECT count(*) FROM signal")
    last = totals[-1]
    summed = sum(float(line.rsplit(" ", 1)[1]) for line in last.splitlines()
                 if line.startswith("mpx_signals_total{"))
    assert summed == stored
