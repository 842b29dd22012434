"""Alerts through the outbox to a local server speaking the Telegram Bot API, behind
python-telegram-bot: exactly once, retried until delivered, RetryAfter honoured, refusals not
retried blindly, dry-run, and the token never printed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from mpx.adapters.sources.mock import MockSource

from conftest import TestDb
from helpers import invoke_mpx as run_mpx
from stubs.telegram import TelegramStandIn


@pytest.fixture
def tg() -> Iterator[TelegramStandIn]:
    with TelegramStandIn() as server:
        yield server


def env(tg: TelegramStandIn, **extra: str) -> dict[str, str]:
    return {"TELEGRAM_ENABLED": "true", "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_CHAT_ID": "4242",
            "TELEGRAM_API_URL": tg.base_url, **extra}


def cycle(e: dict[str, str]) -> str:
    assert run_mpx("ingest").code == 0
    res = run_mpx("evaluate", env=e)
    assert res.code == 0, res.stderr
    return res.stdout + res.stderr


def planted_event_title() -> str:
    return "Which lab ships AGI first (planted)?"


def test_a_p1_signal_reaches_send_message_exactly_once(db: TestDb, tg: TelegramStandIn) -> None:
    assert run_mpx("seed", "--seed", "42").code == 0
    for _ in range(4):
        cycle(env(tg))
    texts = [m["text"] for m in tg.sent]
    assert sum(planted_event_title() in t for t in texts) == 1, texts
    assert all(m["parse_mode"] == "HTML" and m["chat_id"] == "4242" for m in tg.sent)
    # several signals of one pass went in one message, each block starting with its level and rule
    first = texts[0]
    assert "<b>P1 ARBITRAGE SUM_LT_1</b> +526.31 bps net · 100 sh / $95.00" in first and first.count("<b>P1 ") >= 5
    assert all(len(t) <= 4096 for t in texts)
    assert db.scalar("SELECT count(*) FROM alert_outbox WHERE status <> 'sent'") == 0
    # P3 signals (the trend breakout is P3) do not alert at the default minimum level P2
    assert db.scalar("SELECT count(*) FROM alert_outbox WHERE level = 'P3'") == 0
    assert db.scalar("SELECT payload->>'transport' FROM signal LIMIT 1") == "telegram"


def test_with_telegram_down_for_two_passes_the_alert_arrives_on_the_third(db: TestDb, tg: TelegramStandIn) -> None:
    assert run_mpx("seed", "--seed", "42").code == 0
    tg.down()
    for _ in range(2):
        out = cycle(env(tg))
        assert "pending" in out and tg.token not in out
    pending = db.scalar("SELECT count(*) FROM alert_outbox WHERE status = 'pending'")
    assert pending and db.scalar("SELECT max(attempts) FROM alert_outbox") == 2
    tg.up()
    cycle(env(tg))
    assert db.scalar("SELECT count(*) FROM alert_outbox WHERE status = 'sent'") == pending
    assert sum(planted_event_title() in m["text"] for m in tg.sent) == 1
    failures = db.scalar("SELECT value FROM job_state WHERE key = 'telegram:failures'")
    assert failures == 2


def test_retry_after_is_honoured(db: TestDb, tg: TelegramStandIn) -> None:
    assert run_mpx("seed", "--seed", "42").code == 0
    tg.fail("sendMessage", 429, retry_after=30)
    out = cycle(env(tg))
    assert "wait 30 s" in out or "RetryAfter" in out, out
    assert tg.sent == [] and tg.count("sendMessage") == 1
    wait = db.scalar("SELECT extract(epoch FROM min(next_attempt_at) - now()) FROM alert_outbox")
    assert 20 < float(wait) <= 30.5  # type: ignore[arg-type]
    run_mpx("alerts", "flush", env=env(tg))  # too early: nothing is sent, no new request
    assert tg.count("sendMessage") == 1
    # the 30 s pass (rather than sleeping through it): the wait is over for every pending row
    with db.connect() as conn:
        conn.execute("UPDATE alert_outbox SET next_attempt_at = now() - interval '1 second'"
                     " WHERE status = 'pending'")
    res = run_mpx("alerts", "flush", env=env(tg))
    assert res.code == 0 and "sent" in res.stdout and len(tg.sent) >= 1, res.stdout
    assert db.scalar("SELECT count(*) FROM alert_outbox WHERE status = 'pending'") == 0


def test_a_refusal_is_not_retried_blindly(db: TestDb, tg: TelegramStandIn) -> None:
    assert run_mpx("seed", "--seed", "42").code == 0
    tg.fail("sendMessage", 403)
    cycle(env(tg))
    assert db.scalar("SELECT count(*) FROM alert_outbox WHERE status = 'failed'") > 0
    assert "Forbidden" in str(db.scalar("SELECT last_error FROM alert_outbox LIMIT 1"))
    failed = db.scalar("SELECT count(*) FROM alert_outbox WHERE status = 'failed'")
    cycle(env(tg))  # the failed ones are not tried again (a new alert of this pass is sent)
    assert db.scalar("SELECT max(attempts) FROM alert_outbox WHERE status = 'failed'") == 1
    assert db.scalar("SELECT count(*) FROM alert_outbox WHERE status = 'failed'") == failed
    assert not any(planted_event_title() in m["text"] for m in tg.sent)
    res = run_mpx("alerts", "flush", "--retry-failed", env=env(tg))
    assert res.code == 0 and "requeued" in res.stdout
    assert db.scalar("SELECT count(*) FROM alert_outbox WHERE status <> 'sent'") == 0


def test_dry_run_without_token_records_and_marks_the_payload(db: TestDb, tg: TelegramStandIn) -> None:
    assert run_mpx("seed", "--seed", "42").code == 0
    out = cycle({"TELEGRAM_ENABLED": "true", "TELEGRAM_API_URL": tg.base_url})  # no token, no chat
    assert "dry-run" in out
    assert tg.requests == []
    assert db.scalar("SELECT count(*) FROM alert_outbox WHERE status <> 'dry_run'") == 0
    transports = {r for r in json.loads(run_mpx("signals", "--format", "json").stdout)
                  for r in [r["payload"]["transport"]]}
    assert transports == {"telegram-dry-run"}
    assert run_mpx("alerts", "test", "--text", "hi").stdout.strip() == "dry-run"


def test_alerts_test_sends_or_explains_and_never_prints_the_token(db: TestDb, tg: TelegramStandIn) -> None:
    res = run_mpx("alerts", "test", "--text", "a <b>bold</b> & test", env=env(tg))
    assert res.code == 0 and res.stdout.strip() == "sent"
    assert tg.sent[-1]["text"] == "a &lt;b&gt;bold&lt;/b&gt; &amp; test"
    tg.fail("sendMessage", 400, "Bad Request: chat not found")
    bad = run_mpx("alerts", "test", env=env(tg))
    assert bad.code == 78 and "Chat not found" in bad.stderr and tg.token not in bad.stderr
    tg.down()
    gone = run_mpx("--log-level", "DEBUG", "alerts", "test", env=env(tg))
    assert gone.code == 75 and tg.token not in gone.stderr + gone.stdout
    assert tg.token.split(":")[1] not in gone.stderr


def test_every_failure_counts_in_the_pushed_metric(db: TestDb, tg: TelegramStandIn, gateway) -> None:  # type: ignore[no-untyped-def]
    assert run_mpx("seed", "--seed", "42").code == 0
    tg.fail("sendMessage", 500)
    cycle(env(tg, PUSHGATEWAY_URL=gateway.url))
    assert gateway.samples("mpx_evaluate")["mpx_telegram_failures_total"] == 1
    planted = MockSource(seed=42).planted
    assert planted  # the mock is what produced the alerts above


def test_alerts_flush_treats_a_telegram_error_as_evaluate_does(db: TestDb, tg: TelegramStandIn) -> None:
    """Unavailable: a warning, exit 0, the rows stay pending. Refused: a warning, exit 0, rows failed."""
    assert run_mpx("seed", "--seed", "42").code == 0
    tg.down()
    cycle(env(tg))
    pending = db.scalar("SELECT count(*) FROM alert_outbox WHERE status = 'pending'")
    assert pending
    res = run_mpx("alerts", "flush", env=env(tg))
    assert res.code == 0, res.stderr
    assert f"0 sent in 0 message(s), {pending} pending" in res.stdout
    assert "warning" in res.stderr and tg.token not in res.stderr + res.stdout
    assert db.scalar("SELECT count(*) FROM alert_outbox WHERE status = 'pending'") == pending
    assert db.scalar("SELECT status FROM job_run WHERE job = 'alerts' ORDER BY id DESC LIMIT 1") == "ok"
    tg.up()
    tg.fail("sendMessage", 400, "Bad Request: chat not found")
    res = run_mpx("alerts", "flush", env=env(tg))
    assert res.code == 0 and "failed" in res.stdout, res.stderr
    assert db.scalar("SELECT count(*) FROM alert_outbox WHERE status = 'failed'") == pending


def test_a_notifier_that_raises_costs_a_warning_never_the_job(db: TestDb, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second channel is one module plus one registration; a broken one never fails the pass."""
    from mpx.adapters import notify
    from mpx.log import register_secret

    from stubs import notify_broken

    monkeypatch.setitem(notify.NOTIFIERS, "broken", "stubs.notify_broken")
    register_secret(notify_broken.SECRET)
    assert run_mpx("seed", "--seed", "42").code == 0
    assert run_mpx("ingest").code == 0
    res = run_mpx("evaluate", env={"MPX_NOTIFIER": "broken"})
    assert res.code == 0, res.stderr
    assert db.scalar("SELECT count(*) FROM alert_outbox WHERE status = 'pending'") > 0
    assert db.scalar("SELECT payload->>'transport' FROM signal LIMIT 1") == "broken"
    flushed = run_mpx("alerts", "flush", env={"MPX_NOTIFIER": "broken"})
    assert flushed.code == 0 and "pending" in flushed.stdout, flushed.stderr
    out = res.stderr + flushed.stderr
    assert "RuntimeError: boom while sending" in out and notify_broken.SECRET not in out
    assert notify_broken.SECRET not in str(db.scalar("SELECT last_error FROM alert_outbox LIMIT 1"))
    assert run_mpx("config", "show", env={"MPX_NOTIFIER": "carrier-pigeon"}).code == 78
