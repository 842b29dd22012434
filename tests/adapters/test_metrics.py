"""Metrics push: a local HTTP server receives what a Pushgateway would; a gateway that is down
costs a warning line, never the job."""

from __future__ import annotations

import json

from mpx.adapters.db.connection import lock_key

from conftest import TestDb
from helpers import invoke_mpx as run_mpx


def test_successful_pass_puts_its_metrics_with_job_grouping_key(db: TestDb, gateway) -> None:  # type: ignore[no-untyped-def]
    assert run_mpx("seed").code == 0
    res = run_mpx("ingest", env={"PUSHGATEWAY_URL": gateway.url})
    assert res.code == 0, res.stderr
    got = gateway.samples("mpx_ingest", venue="polymarket")
    for name in ("mpx_job_duration_seconds", "mpx_job_last_run_timestamp_seconds",
                 "mpx_job_last_success_timestamp_seconds", 'mpx_ingest_latency_ms{source="mock"}',
                 "mpx_ingest_last_tick_timestamp", "mpx_ingest_ticks_total"):
        assert name in got, (name, sorted(got))
    assert got["mpx_job_exit_code"] == 0
    assert got["mpx_ingest_ticks_total"] == db.scalar("SELECT count(*) FROM tick")


def test_a_skipped_pass_keeps_the_last_success_of_the_group(db: TestDb, gateway) -> None:  # type: ignore[no-untyped-def]
    assert run_mpx("seed").code == 0
    assert run_mpx("ingest", env={"PUSHGATEWAY_URL": gateway.url}).code == 0
    success = gateway.samples("mpx_ingest", venue="polymarket")["mpx_job_last_success_timestamp_seconds"]
    with db.connect(autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock_key("ingest:polymarket"),))
        res = run_mpx("ingest", env={"PUSHGATEWAY_URL": gateway.url})
    assert res.code == 75
    got = gateway.samples("mpx_ingest", venue="polymarket")
    assert got["mpx_job_exit_code"] == 75  # POSTed into the group…
    assert got["mpx_job_last_success_timestamp_seconds"] == success  # …which keeps the last success
    assert got["mpx_job_last_run_timestamp_seconds"] > success


def test_gateway_down_costs_a_warning_not_the_job(db: TestDb) -> None:
    assert run_mpx("seed").code == 0
    res = run_mpx("ingest", env={"PUSHGATEWAY_URL": "http://127.0.0.1:9"})
    assert res.code == 0, res.stderr
    warnings = [json.loads(ln) for ln in res.stderr.splitlines()
                if ln.startswith("{") and "pushgateway" in ln]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning"


def test_evaluate_pushes_signal_totals_from_the_database(db: TestDb, gateway) -> None:  # type: ignore[no-untyped-def]
    assert run_mpx("seed").code == 0
    for _ in range(2):
        assert run_mpx("ingest").code == 0
        assert run_mpx("evaluate", env={"PUSHGATEWAY_URL": gateway.url}).code == 0
    got = gateway.samples("mpx_evaluate")
    summed = sum(v for k, v in got.items() if k.startswith("mpx_signals_total{"))
    assert summed == db.scalar("SELECT count(*) FROM signal") > 0
    assert got["mpx_rule_eval_ms"] >= 0 and "mpx_telegram_failures_total" in got
