"""One tap in Telegram (#16) through the Bot API stand-in, paper execution, real PostgreSQL: alerts
carry venue links and signed *Create intent* buttons; `mpx telegram poll` answers the taps —
create → confirm fills and edits the message with the verdict, an unknown user is refused and
audited, a double tap (and two polls at once) executes once, an expired or forged button is refused."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mpx.cli import main
from mpx.errors import BusyError
from mpx.jobs.contract import run_job
from mpx.jobs.telegram import PollResult, run_poll
from mpx.settings import load_settings

from conftest import TestDb
from helpers import CliResult
from stubs.telegram import TelegramStandIn

TRADER, OTHER_TRADER, STRANGER = 777, 778, 666
SET_SQL = "SELECT id FROM signal WHERE rule_type = 'SUM_LT_1' AND payload->>'structure' = 'neg_risk'"
Mpx = Callable[..., CliResult]


@pytest.fixture
def tg() -> Iterator[TelegramStandIn]:
    with TelegramStandIn() as server:
        yield server


@pytest.fixture
def env(tg: TelegramStandIn, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    e = {"TELEGRAM_ENABLED": "true", "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_CHAT_ID": "4242",
         "TELEGRAM_API_URL": tg.base_url, "TELEGRAM_ALLOWED_USERS": f"{TRADER}, {OTHER_TRADER}",
         "MPX_LOG_LEVEL": "WARNING"}
    for k, v in e.items():
        monkeypatch.setenv(k, v)
    return e


@pytest.fixture
def mpx(capsys: pytest.CaptureFixture[str]) -> Mpx:
    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture
def alerted(db: TestDb, env: dict[str, str], mpx: Mpx) -> int:
    """The planted universe ingested and evaluated, its alerts sent to the stand-in: the planted
    negRisk set's signal id."""
    for cmd in (("seed", "--seed", "42"), ("ingest",), ("evaluate",)):
        res = mpx(*cmd)
        assert res.code == 0, res.stderr
    return int(db.scalar(SET_SQL))  # type: ignore[call-overload]


def poll(clock: Callable[[], datetime] | None = None) -> PollResult:
    kw: dict[str, Any] = {"clock": clock} if clock else {}
    return run_job(load_settings(), "telegram", lambda ctx: run_poll(ctx, **kw))


def button_message(tg: TelegramStandIn, prefix: str) -> tuple[int, int]:
    """(message id, button index) of the button whose callback data starts with ``prefix``."""
    for mid in sorted(tg.messages):
        for i, b in enumerate(tg.buttons(mid)):
            if str(b["callback_data"]).startswith(prefix):
                return mid, i
    raise AssertionError(f"no button {prefix}…")


def intent_row(db: TestDb, signal_id: int) -> dict[str, Any]:
    with db.connect() as conn:
        cur = conn.execute("SELECT id, status FROM order_intent WHERE signal_id = %s ORDER BY id DESC", (signal_id,))
        row = cur.fetchone()
        assert row is not None
        return {"id": row[0], "status": row[1]}


def actions(db: TestDb) -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        return list(conn.execute("SELECT user_id, action, target_id, outcome, detail FROM telegram_action ORDER BY id"))


def trail(db: TestDb, intent_id: int) -> list[str]:
    with db.connect() as conn:
        return [r[0] for r in conn.execute(
            "SELECT to_status FROM order_intent_event WHERE intent_id = %s ORDER BY id", (intent_id,))]


def create_by_tap(db: TestDb, tg: TelegramStandIn, signal_id: int) -> tuple[int, int]:
    """Tap *Create intent* of the signal's alert and poll: (intent id, the intent's message id)."""
    mid, i = button_message(tg, f"c:{signal_id}:")
    update = tg.press(TRADER, mid, i)
    res = poll()
    assert res.acted == 1, res
    [answer] = tg.answers_to(update)
    intent = intent_row(db, signal_id)
    assert intent["status"] == "suggested" and f"Intent {intent['id']} created" in answer["text"]
    intent_mid, _ = button_message(tg, f"f:{intent['id']}:")
    return int(intent["id"]), intent_mid


def test_alerts_link_every_market_to_its_venue_page_and_arbitrage_carries_a_create_button(
        db: TestDb, tg: TelegramStandIn, alerted: int) -> None:
    assert db.scalar("SELECT count(*) FROM event WHERE slug = ''") == 0
    set_slug = db.scalar("""SELECT e.slug FROM signal s JOIN market m ON m.id = (
                                SELECT jsonb_path_query_first(s.payload, 'lax $.**.market_id') #>> '{}')
                            JOIN event e ON e.id = m.event_id WHERE s.id = %s""", (alerted,))
    texts = [m["text"] for m in tg.sent]
    assert any(f'<a href="https://polymarket.com/event/{set_slug}">' in t for t in texts), texts[0][:2000]
    # every block of every alert (arbitrage and indicator) names its venue page
    for t in texts:
        for block in t.split("\n\n"):
            assert "https://polymarket.com/event/" in block, block
    with db.connect() as conn:
        arbitrage = {r[0] for r in conn.execute(
            "SELECT signal_id FROM alert_outbox o JOIN signal s ON s.id = o.signal_id "
            "WHERE s.finding_class = 'arbitrage' AND s.level IN ('P1', 'P2')")}
        alerted_ids = {r[0] for r in conn.execute("SELECT signal_id FROM alert_outbox")}
    buttons = [b for mid in tg.messages for b in tg.buttons(mid)]
    assert {int(b["callback_data"].split(":")[1]) for b in buttons} == arbitrage
    assert arbitrage < alerted_ids  # indicators alert without a button
    assert all(b["text"].startswith("Create intent") and len(b["callback_data"].encode()) <= 64 for b in buttons)
    assert all(tg.token not in b["callback_data"] for b in buttons)


def test_create_then_confirm_by_buttons_fills_on_paper_and_edits_the_message_with_the_verdict(
        db: TestDb, tg: TelegramStandIn, alerted: int) -> None:
    intent_id, mid = create_by_tap(db, tg, alerted)
    labels = [b["text"] for b in tg.buttons(mid)]
    assert labels == ["Confirm", "Cancel"]
    assert "https://polymarket.com/event/" in tg.messages[mid]["text"]
    update = tg.press(TRADER, mid, 0)
    res = poll()
    assert res.acted == 1 and res.refused == 0
    assert intent_row(db, alerted)["status"] == "filled"
    assert trail(db, intent_id) == ["suggested", "sent", "filled"]
    [edit] = [e for e in tg.edits if e["message_id"] == mid]
    text = edit["text"]
    assert f"Intent {intent_id}: FILLED" in text and "(paper)" in text
    for check in ("depth_at_limit", "notional_per_order", "daily_notional", "worst_case_edge", "edge: 526.31 bps"):
        assert check in text, text
    assert "✅ ok" in text and "❌" not in text and "• leg 1" in text and f"telegram:{TRADER}" in text
    assert edit["reply_markup"] == {"inline_keyboard": []}  # the buttons are gone
    assert tg.answers_to(update)[0]["text"] == f"Intent {intent_id}: filled."
    assert [a[3] for a in actions(db)] == ["created", "filled"]
    assert db.scalar("SELECT value FROM job_state WHERE key = 'telegram:update_offset'") == update + 1
    assert poll().updates == 0  # the offset is stored: nothing is read twice


def test_an_unknown_telegram_user_is_refused_and_audited(db: TestDb, tg: TelegramStandIn, alerted: int) -> None:
    mid, i = button_message(tg, f"c:{alerted}:")
    update = tg.press(STRANGER, mid, i, username="mallory")
    res = poll()
    assert res.refused == 1 and res.acted == 0
    [answer] = tg.answers_to(update)
    assert "Not allowed" in answer["text"] and str(STRANGER) in answer["text"] and answer["show_alert"]
    assert db.scalar("SELECT count(*) FROM order_intent") == 0
    [(user, action, target, outcome, detail)] = actions(db)
    assert (user, action, target, outcome) == (STRANGER, "create", alerted, "refused")
    assert "TELEGRAM_ALLOWED_USERS" in detail and "mallory" in detail


def test_a_double_tap_and_two_traders_at_once_execute_once(db: TestDb, tg: TelegramStandIn, alerted: int) -> None:
    intent_id, mid = create_by_tap(db, tg, alerted)
    first = tg.press(TRADER, mid, 0)
    second = tg.press(OTHER_TRADER, mid, 0)
    tg.duplicate(first)  # the same callback query delivered again
    res = poll()
    assert res.updates == 3 and res.acted == 2
    assert trail(db, intent_id) == ["suggested", "sent", "filled"]
    assert tg.answers_to(first)[0]["text"] == f"Intent {intent_id}: filled."
    assert "already filled: not executed again" in tg.answers_to(second)[0]["text"]
    assert len([e for e in tg.edits if e["message_id"] == mid]) == 1
    assert [a[3] for a in actions(db)] == ["created", "filled", "already"]


def test_two_polls_at_once_act_once(db: TestDb, tg: TelegramStandIn, alerted: int) -> None:
    intent_id, mid = create_by_tap(db, tg, alerted)
    tg.press(TRADER, mid, 0)
    tg.press(OTHER_TRADER, mid, 0)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def one() -> None:
        barrier.wait()
        try:
            outcomes.append(f"acted {poll().acted}")
        except BusyError:
            outcomes.append("busy")

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # one pass holds the job's lock and answers both taps; the other is busy (75) or finds nothing left
    assert sorted(outcomes) in (["acted 0", "acted 2"], ["acted 2", "busy"]), outcomes
    assert trail(db, intent_id) == ["suggested", "sent", "filled"]
    assert sorted(a[3] for a in actions(db)) == ["already", "created", "filled"]


def test_an_expired_button_is_refused_and_says_so(db: TestDb, tg: TelegramStandIn, alerted: int) -> None:
    intent_id, mid = create_by_tap(db, tg, alerted)
    update = tg.press(TRADER, mid, 0)
    res = poll(clock=lambda: datetime.now(UTC) + timedelta(minutes=2, seconds=5))  # EXEC_CONFIRM_TTL 2m
    assert res.refused == 1
    answer = tg.answers_to(update)[0]["text"]
    assert answer.startswith("Expired") and "EXEC_CONFIRM_TTL" in answer
    assert intent_row(db, alerted)["status"] == "suggested" and trail(db, intent_id) == ["suggested"]
    assert actions(db)[-1][3] == "expired"


def test_a_forged_or_altered_button_is_refused(db: TestDb, tg: TelegramStandIn, alerted: int) -> None:
    intent_id, mid = create_by_tap(db, tg, alerted)
    cancel = str(tg.buttons(mid)[1]["callback_data"])
    assert cancel.startswith(f"x:{intent_id}:")
    altered = tg.press_data(TRADER, mid, "f" + cancel[1:])  # a Cancel turned into a Confirm
    other = tg.press_data(TRADER, mid, cancel.replace(f"x:{intent_id}:", f"x:{intent_id + 1}:"))
    res = poll()
    assert res.refused == 2 and intent_row(db, alerted)["status"] == "suggested"
    assert all("not issued by mpx" in tg.answers_to(u)[0]["text"] for u in (altered, other))
    # the real Cancel still works
    tg.press(TRADER, mid, 1)
    assert poll().acted == 1 and intent_row(db, alerted)["status"] == "cancelled"
    assert f"Intent {intent_id}: CANCELLED" in tg.messages[mid]["text"]


def test_the_command_polls_once_and_never_prints_the_token(db: TestDb, tg: TelegramStandIn, alerted: int,
                                                          mpx: Mpx, monkeypatch: pytest.MonkeyPatch) -> None:
    mid, i = button_message(tg, f"c:{alerted}:")
    tg.press(TRADER, mid, i)
    res = mpx("telegram", "poll")
    assert res.code == 0, res.stderr
    assert "1 update(s), 1 acted on, 0 refused" in res.stdout
    assert tg.token not in res.stdout + res.stderr
    listed = mpx("telegram", "actions")
    assert listed.code == 0 and "created" in listed.stdout
    tg.down()
    res = mpx("telegram", "poll")
    assert res.code == 75 and tg.token not in res.stdout + res.stderr
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")
    assert mpx("telegram", "poll").code == 78


def test_long_poll_mode_returns_after_its_duration(db: TestDb, env: dict[str, str], mpx: Mpx) -> None:
    res = mpx("telegram", "poll", "--for", "1s")
    assert res.code == 0, res.stderr
    assert "0 update(s)" in res.stdout
