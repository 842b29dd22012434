"""`mpx run`, `mpx health`, `mpx metrics` and `--metrics-textfile`, on a real PostgreSQL and a real
Pushgateway."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mpx.jobs import health as health_job

from conftest import TestDb
from helpers import invoke_mpx as run_mpx


def test_one_run_puts_every_jobs_metrics_on_the_pushgateway(db: TestDb, gateway) -> None:  # type: ignore[no-untyped-def]
    assert run_mpx("seed").code == 0
    res = run_mpx("run", env={"PUSHGATEWAY_URL": gateway.url})
    assert res.code == 0, res.stderr
    assert "ingest" in res.stdout and "evaluate:" in res.stdout
    for job, group in (("mpx_ingest", {"venue": "polymarket"}), ("mpx_evaluate", {})):
        got = gateway.samples(job, **group)
        assert got["mpx_job_exit_code"] == 0 and "mpx_job_last_success_timestamp_seconds" in got, (job, got)
    assert "mpx_ingest_latency_ms{source=\"mock\"}" in gateway.samples("mpx_ingest", venue="polymarket")
    assert "mpx_rule_eval_ms" in gateway.samples("mpx_evaluate")


@pytest.fixture
def wait(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """``wait(s)``: from now on `mpx health` checks ``s`` seconds later than it is (instead of sleeping them)."""

    def move_on(seconds: float) -> None:
        monkeypatch.setattr(health_job, "clock", lambda: datetime.now(UTC) + timedelta(seconds=seconds))

    return move_on


def test_health_is_healthy_after_a_run_and_degraded_when_evaluate_stops(db: TestDb,
                                                                        wait: Callable[[float], None]) -> None:
    assert run_mpx("seed").code == 0
    assert run_mpx("run").code == 0
    ok = run_mpx("health", env={"MPX_HEARTBEAT_MAX_AGE": "10s"})
    report = json.loads(ok.stdout)
    assert ok.code == 0 and report["status"] == "healthy", ok.stdout
    age = report["rules_heartbeat"]["age_s"]
    assert report["db"]["ok"] and age < 10 and report["ingest"]["ok"]
    wait(10.2 - age)  # the evaluate schedule "stopped": no successful evaluate since
    bad = run_mpx("health", env={"MPX_HEARTBEAT_MAX_AGE": "10s"})
    report = json.loads(bad.stdout)
    assert bad.code == 1 and report["status"] == "degraded"
    assert report["rules_heartbeat"]["ok"] is False and report["ingest"]["ok"] is True
    assert any(r.startswith("rules silent") for r in report["reasons"])


def test_health_without_a_database_is_degraded_not_a_crash(db: TestDb) -> None:
    res = run_mpx("health", env={"MPX_DATABASE_URL": "host=/nonexistent dbname=x"})
    report = json.loads(res.stdout)
    assert res.code == 1 and report["db"]["ok"] is False and report["status"] == "degraded"


def test_metrics_prints_totals_from_the_database(db: TestDb) -> None:
    assert run_mpx("seed").code == 0
    assert run_mpx("run", "--cycles", "2").code == 0
    text = run_mpx("metrics").stdout
    samples = {s.name + json.dumps(s.labels, sort_keys=True): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples["mpx_ingest_ticks_total{}"] == db.scalar("SELECT count(*) FROM tick")  # nothing dropped yet
    total = sum(v for k, v in samples.items() if k.startswith("mpx_signals_total"))
    assert total == db.scalar("SELECT count(*) FROM signal") > 0
    assert 'mpx_job_last_success_timestamp_seconds{"job": "mpx_evaluate"}' in samples


def test_metrics_textfile_for_node_exporter(db: TestDb, tmp_path: Path) -> None:
    assert run_mpx("seed").code == 0
    out = tmp_path / "mpx_ingest.prom"
    assert run_mpx("--metrics-textfile", str(out), "ingest").code == 0
    families = {f.name: f for f in text_string_to_metric_families(out.read_text())}
    sample = families["mpx_job_exit_code"].samples[0]
    assert sample.labels == {"job": "mpx_ingest", "venue": "polymarket"} and sample.value == 0
    assert families["mpx_ingest_latency_ms"].samples[0].labels == {"job": "mpx_ingest", "venue": "polymarket",
                                                                   "source": "mock"}
    assert not list(tmp_path.glob(".*tmp"))  # written atomically
    # the option belongs to its invocation: the next one in this process writes nowhere
    out.unlink()
    assert run_mpx("ingest").code == 0 and not out.exists()


def test_run_keeps_going_when_ingest_fails_and_exits_with_the_worst_code(db: TestDb) -> None:
    res = run_mpx("run", env={"DATA_SOURCE": "replay", "MPX_REPLAY_DIR": "/nonexistent"})
    assert res.code == 75, res.stderr
    assert "ingest failed" in res.stderr and "evaluate:" in res.stdout
    assert run_mpx("run", "--interval", "soon").code == 2
