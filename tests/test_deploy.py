"""Deployment files: alert rules (promtool), systemd units (systemd-analyze), compose, Prometheus and
Grafana provisioning, the crontab — parsed and checked against what mpx really provides."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mpx.adapters.db.cluster import TESTED_TIMESCALEDB

from conftest import REPO
from helpers import invoke_mpx as run_mpx

PROM = REPO / "deploy" / "prometheus"


def _promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool not installed: `apt-get install prometheus` (make test does this as root)")
    return tool


def test_alert_rules_pass_promtool_check_and_their_unit_tests() -> None:
    check = subprocess.run([_promtool(), "check", "rules", "alerts.yml"], cwd=PROM, capture_output=True, text=True)
    assert check.returncode == 0 and "SUCCESS: 5 rules found" in check.stdout, check.stdout + check.stderr
    test = subprocess.run([_promtool(), "test", "rules", "alerts_test.yml"], cwd=PROM, capture_output=True, text=True)
    assert test.returncode == 0 and "SUCCESS" in test.stdout, test.stdout + test.stderr
    names = {r["alert"] for g in yaml.safe_load((PROM / "alerts.yml").read_text())["groups"] for r in g["rules"]}
    assert {"MpxJobStale", "MpxIngestSilent", "MpxRulesSilent", "MpxTelegramFailing"} <= names


def test_prometheus_config_is_valid_and_keeps_the_pushed_job_label(tmp_path: Path) -> None:
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    [scrape] = config["scrape_configs"]
    assert scrape["honor_labels"] is True and scrape["static_configs"][0]["targets"] == ["pushgateway:9091"]
    shutil.copy(PROM / "alerts.yml", tmp_path / "alerts.yml")
    config["rule_files"] = [str(tmp_path / "alerts.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    res = subprocess.run([_promtool(), "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_systemd_units_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not available on this machine")
    mpx = REPO / ".venv" / "bin" / "mpx"
    units = sorted((REPO / "jobs").iterdir())
    assert {u.name for u in units} >= {"mpx-ingest.service", "mpx-ingest.timer", "mpx-evaluate.service",
                                       "mpx-evaluate.timer", "mpx-synonyms.service", "mpx-synonyms.timer",
                                       "mpx-stream.service"}
    for unit in units:  # the units name /opt/mpx; point them at this checkout to verify
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/mpx/.venv/bin/mpx", str(mpx)))
    res = subprocess.run(["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
                         capture_output=True, text=True)
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr
    for svc in (u for u in units if u.suffix == ".service"):
        text = svc.read_text()
        if "Restart=always" in text:  # a long-running service of bounded passes (mpx-stream): one after another
            assert "Type=exec" in text and "StartLimitIntervalSec=0" in text and "TimeoutStopSec=" in text
            assert re.search(r"ExecStart=.* stream --for \S+$", text, re.M), svc.name
        else:
            assert "Type=oneshot" in text and "TimeoutStartSec=" in text
        assert "SuccessExitStatus=75" in text
        assert "NoNewPrivileges=yes" in text and "ProtectSystem=strict" in text
    for timer in (u for u in units if u.suffix == ".timer"):
        text = timer.read_text()
        assert ("AccuracySec=1s" in text) or ("Persistent=true" in text), timer.name


def test_compose_services_and_mounts_exist() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert {"timescaledb", "pushgateway", "prometheus", "grafana", "migrate", "ingest", "evaluate"} <= set(services)
    # the release the TimescaleDB test lane runs, never a moving tag
    assert services["timescaledb"]["image"] == f"timescale/timescaledb:{TESTED_TIMESCALEDB}-pg15"
    for name in ("ingest", "evaluate", "synonyms"):
        svc = services[name]
        assert svc["entrypoint"][0] == "/opt/mpx/scripts/every.sh" and svc["environment"]["PUSHGATEWAY_URL"]
        assert run_mpx(*svc["command"], "--help").code == 0  # the scheduled command exists
    for svc in services.values():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), volume
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (REPO / src).exists(), line


def test_grafana_dashboard_covers_the_required_metrics() -> None:
    dash = json.loads((REPO / "deploy" / "grafana" / "dashboards" / "mpx.json").read_text())
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    for metric in ("mpx_ingest_latency_ms", "mpx_rule_eval_ms", "mpx_signals_total", "mpx_order_intents_total",
                   "mpx_telegram_failures_total", "mpx_job_last_success_timestamp_seconds"):
        assert metric in exprs, metric
    ds = yaml.safe_load((REPO / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert {p["datasource"]["uid"] for p in dash["panels"]} == {ds["datasources"][0]["uid"]}


def test_crontab_lines_are_well_formed_and_name_real_commands() -> None:
    entries = [ln for ln in (REPO / "crontab.example").read_text().splitlines()
               if ln.strip() and not ln.startswith("#") and "=" not in ln.split()[0]]
    assert len(entries) >= 5
    for line in entries:
        fields = line.split(None, 5)
        assert all(re.fullmatch(r"[\d*/,-]+", f) for f in fields[:5]), line
        command = fields[5]
        m = re.search(r"\$MPX (.+?) (>>|>)", command)
        assert m, line
        if "flock" in command or "health" not in command:
            assert "flock -n" in command, line
        assert run_mpx(*m.group(1).split(), "--help").code == 0, line
