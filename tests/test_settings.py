"""Settings: every error at once (exit 78), .env support, secrets never shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mpx.errors import ConfigError
from mpx.settings import Settings, load_settings

from helpers import invoke_mpx as run_mpx

REPO = Path(__file__).resolve().parents[1]


def test_every_invalid_key_is_reported_at_once() -> None:
    res = run_mpx("config", "show", env={"POSTGRES_PORT": "70000", "EXEC_MAX_DAILY_NOTIONAL": "-1",
                                         "DATA_SOURCE": "ftp", "MPX_LOG_LEVEL": "LOUD"})
    assert res.code == 78
    for key in ("POSTGRES_PORT", "EXEC_MAX_DAILY_NOTIONAL", "DATA_SOURCE", "MPX_LOG_LEVEL"):
        assert key in res.stderr
    assert "4 problem(s)" in res.stderr
    assert res.stdout == ""


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("EXEC_MAX_CONCURRENT_ORDERS=7\nPOSTGRES_DB=fromfile\n")
    monkeypatch.setenv("POSTGRES_DB", "fromenv")
    s = load_settings()
    assert s.exec_max_concurrent_orders == 7
    assert s.postgres_db == "fromenv"


def test_config_show_redacts_secrets() -> None:
    res = run_mpx("config", "show", "--format", "json", env={
        "TELEGRAM_BOT_TOKEN": "123456:SECRET-TOKEN", "POSTGRES_PASSWORD": "hunter2",
        "MPX_DATABASE_URL": "postgresql://trader:pa55word@db.example:5432/mpx",
    })
    assert res.code == 0, res.stderr
    for secret in ("SECRET-TOKEN", "hunter2", "pa55word"):
        assert secret not in res.stdout and secret not in res.stderr
    assert "postgresql://trader:********@db.example:5432/mpx" in res.stdout
    assert '"TELEGRAM_BOT_TOKEN": "********"' in res.stdout


def test_secret_values_are_not_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_PORT", "not-a-port")
    monkeypatch.setenv("POSTGRES_PASSWORD", "")
    with pytest.raises(ConfigError) as err:
        load_settings(None)
    assert "not-a-port" in str(err.value)


def test_env_example_documents_every_setting() -> None:
    text = (REPO / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    missing = {name.upper() for name in Settings.model_fields} - documented
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_sql_dir_log_format_and_notifier_are_settings(tmp_path: Path) -> None:
    from helpers import invoke_mpx

    res = invoke_mpx("db", "migrate", env={"MPX_SQL_DIR": str(tmp_path / "nowhere")})
    assert res.code == 78 and f"MPX_SQL_DIR: migrations directory {tmp_path / 'nowhere'} not found" in res.stderr
    shown = invoke_mpx("config", "show", "--format", "json", env={"MPX_SQL_DIR": str(tmp_path),
                                                                  "MPX_LOG_FORMAT": "Text"})
    assert f'"MPX_SQL_DIR": "{tmp_path}"' in shown.stdout and '"MPX_LOG_FORMAT": "text"' in shown.stdout
    assert '"MPX_NOTIFIER": "telegram"' in shown.stdout
    bad = invoke_mpx("config", "show", env={"MPX_LOG_FORMAT": "xml", "MPX_NOTIFIER": "pigeon"})
    assert bad.code == 78 and "MPX_LOG_FORMAT" in bad.stderr and "MPX_NOTIFIER: Value error, must be one of: telegram" \
        in bad.stderr


def test_data_source_is_a_list_of_sources_one_per_venue() -> None:
    assert Settings(data_source="polymarket").source_names == ["real"]
    assert Settings(data_source=" Mock , mock").source_names == ["mock"]
    two = run_mpx("config", "show", env={"DATA_SOURCE": "real,mock"})
    assert two.code == 78 and "real and mock both produce polymarket markets" in two.stderr, two.stderr
    unknown = run_mpx("config", "show", env={"DATA_SOURCE": "mock,betfair"})
    assert unknown.code == 78 and "no such source betfair" in unknown.stderr and "mock" in unknown.stderr
    empty = run_mpx("config", "show", env={"DATA_SOURCE": " , "})
    assert empty.code == 78 and "DATA_SOURCE" in empty.stderr


def test_ingest_source_and_record_arguments_are_checked_before_any_pass() -> None:
    res = run_mpx("ingest", "--source", "betfair")
    assert res.code == 2 and "--source betfair: no such source" in res.stderr, res.stderr
    res = run_mpx("ingest", "--source", "mock", "--record", "/tmp/nowhere-mpx")
    assert res.code == 2 and "--record works with DATA_SOURCE=real" in res.stderr, res.stderr
