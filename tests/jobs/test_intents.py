"""Order intents end to end against a real PostgreSQL: the mock universe's planted arbitrage signals,
books moved by writing ticks the way an ingest pass would, the commands run in-process (the 20
parallel confirms run as real processes). Every state, every rejection reason, fill-or-kill legs,
the unwind when a later leg is killed, and the limits under concurrency.

The planted arbitrage (each pays its payout in every state of the world, from its payout table):
  * ``set``: the four YES of a complete negRisk event at 0.27 + 0.31 + 0.22 + 0.15 = 0.95 (350 offered
    at each), paying 1 whichever lab ships first;
  * ``binary``: YES 0.48 (250 offered) + NO 0.49 (220 offered) of one binary market, paying 1 either
    way; bids YES 0.47 × 300, NO 0.46 × 300;
  * ``dutch``: the three NO of a complete event at 0.55 + 0.65 + 0.75 = 1.95, paying 2 in every state.
SYNONYM_MISPRICE, CROSS_MARKET_MISPRICE (equivalence or implication not proven) and ENDGAME are
indicators: they never become intents.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from mpx.cli import main
from mpx.domain.models import Book
from mpx.jobs import intents as jobs
from mpx.jobs.contract import Context, run_job
from mpx.settings import load_settings

from conftest import TestDb
from helpers import CliResult, spawn_mpx
from stubs.telegram import TelegramStandIn

SET_SQL = "SELECT id FROM signal WHERE rule_type = 'SUM_LT_1' AND payload->>'structure' = 'neg_risk'"
Mpx = Callable[..., CliResult]


@pytest.fixture
def mpx(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Mpx:
    """``mpx ARGS…`` in this process (``KEY=value`` keywords are environment variables for the call)."""

    def run(*args: str, **env: str) -> CliResult:
        with monkeypatch.context() as m:
            m.setenv("MPX_LOG_LEVEL", "WARNING")
            for k, v in env.items():
                m.setenv(k, v)
            capsys.readouterr()
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


def job(monkeypatch: pytest.MonkeyPatch, body: Callable[[Context[Any]], jobs.IntentResult],
        **env: str) -> jobs.IntentResult:
    """A job function under the job contract, in this process, with the settings of ``env``."""
    with monkeypatch.context() as m:
        for k, v in env.items():
            m.setenv(k, v)
        return run_job(load_settings(), "intents", body, lock=False)


@pytest.fixture
def signals(db: TestDb, mpx: Mpx) -> dict[str, int]:
    """The planted universe, ingested and evaluated: signal ids by kind. Built once and copied per test
    until it is 30 s old, then built again (confirm refuses books older than EXEC_MAX_BOOK_AGE, 2 min)."""

    def build() -> None:
        assert mpx("seed", "--seed", "42").code == 0
        assert mpx("ingest").code == 0
        assert mpx("evaluate").code == 0

    db.load("seed 42, ingest, evaluate", build, max_age=timedelta(seconds=30))
    out = {"set": int(db.scalar(SET_SQL))}  # type: ignore[arg-type]
    for key, sql in {
        "binary": "SELECT id FROM signal WHERE rule_type = 'SUM_LT_1' AND payload->>'structure' = 'binary'",
        "endgame": "SELECT id FROM signal WHERE rule_type = 'ENDGAME'",
        "dutch": "SELECT id FROM signal WHERE rule_type = 'DUTCH_BOOK_DETECT'",
        "synonym": "SELECT id FROM signal WHERE rule_type = 'SYNONYM_MISPRICE'",
        "cross": "SELECT min(id) FROM signal WHERE rule_type = 'CROSS_MARKET_MISPRICE'",
    }.items():
        value = db.scalar(sql)
        assert value is not None, key
        out[key] = int(value)  # type: ignore[call-overload]
    return out


def create(mpx: Mpx, signal_id: int, **env: str) -> int:
    res = mpx("intents", "create", "--signal", str(signal_id), "--format", "json", **env)
    assert res.code == 0, res.stderr
    return int(json.loads(res.stdout)[0]["id"])


def intent(db: TestDb, intent_id: int) -> dict[str, Any]:
    with db.connect() as conn:
        cur = conn.execute("SELECT * FROM order_intent WHERE id = %s", (intent_id,))
        cols = [d.name for d in cur.description or []]
        row = cur.fetchone()
        assert row is not None
        return dict(zip(cols, row, strict=True))


def trail(db: TestDb, intent_id: int) -> list[str]:
    with db.connect() as conn:
        return [r[0] for r in conn.execute(
            "SELECT to_status FROM order_intent_event WHERE intent_id = %s ORDER BY id", (intent_id,))]


def events(db: TestDb, intent_id: int) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [{"from": r[0], "to": r[1], "reason": r[2], "details": r[3]} for r in conn.execute(
            "SELECT from_status, to_status, reason, details FROM order_intent_event WHERE intent_id = %s ORDER BY id",
            (intent_id,))]


def move_book(db: TestDb, token: str, asks: list[tuple[str, str]], bids: list[tuple[str, str]] | None = None) -> None:
    """A new observation of ``token``'s book, written as an ingest pass writes one: a tick and the pass."""
    bids = bids or [("0.01", "1000")]
    with db.connect() as conn:
        conn.execute(
            """INSERT INTO tick (ts, token_id, market_id, bid_px, bid_sz, ask_px, ask_sz, book_digest)
               SELECT now(), %s, market_id, %s, %s, %s, %s, 0 FROM outcome WHERE token_id = %s""",
            (token, [Decimal(p) for p, _ in bids], [Decimal(s) for _, s in bids],
             [Decimal(p) for p, _ in asks], [Decimal(s) for _, s in asks], token))
        conn.execute("INSERT INTO ingest_pass (ts, source, books, written, missing) VALUES (now(), 'test', 1, 1, '{}')")


def legs(db: TestDb, intent_id: int) -> list[dict[str, str]]:
    return intent(db, intent_id)["legs"]  # type: ignore[no-any-return]


def moved_when_sent(ctx: Context[Any], db: TestDb, trigger: str, token: str, asks: list[tuple[str, str]],
                    bids: list[tuple[str, str]] | None = None) -> Callable[[str], Book | None]:
    """The paper venue's book source (the stored books, read at each send) — except that when the
    leg of ``trigger`` is sent, ``token``'s book moves (a new tick is stored) first: the book that
    moved between two legs is the one the later leg meets."""
    stored = jobs.stored_books(ctx.conn)
    moved = False

    def source(t: str) -> Book | None:
        nonlocal moved
        if t == trigger and not moved:
            move_book(db, token, asks, bids)
            moved = True
        return stored(t)

    return source


def test_create_confirm_fill_settle_with_an_audit_trail(db: TestDb, signals: dict[str, int], mpx: Mpx,
                                                        gateway: Any) -> None:
    res = mpx("intents", "create", "--signal", str(signals["set"]))
    assert res.code == 0, res.stderr
    assert "100.00 sets, notional 95.00000 USDC (at most 95.0000 at the limits), expected edge 526.31 bps" in res.stdout
    iid = int(db.scalar("SELECT max(id) FROM order_intent"))  # type: ignore[arg-type]
    row = intent(db, iid)
    assert row["status"] == "suggested" and row["level"] == "P1" and row["policy_version"] == 1
    assert [lg["limit_price"] for lg in row["legs"]] == ["0.27", "0.31", "0.22", "0.15"]

    res = mpx("intents", "confirm", str(iid), PUSHGATEWAY_URL=gateway.url)
    assert res.code == 0, res.stderr
    assert f"intent {iid}: filled" in res.stdout
    for check in ("breaker", "market_open", "fee_known", "book_fresh", "depth_at_limit", "notional_per_order",
                  "concurrent_orders", "daily_notional", "slippage", "worst_case_edge", "edge"):
        assert f"ok   {check}:" in res.stdout
    # 100 sets pay 100 in every state; the legs at their limits cost 95.0000; the bar is 100 bps of it
    assert "ok   worst_case_edge: payout 100.00 − worst-case cost 95.0000 = 5.0000 USDC (limit ≥ 0.9500 USDC" \
        in res.stdout
    # 350 offered at each limit, 100 needed: 250 to spare everywhere
    assert "ok   depth_at_limit: every leg holds its size; least to spare: Yes 250.00 shares" in res.stdout
    row = intent(db, iid)
    assert row["status"] == "filled" and row["filled_cost"] == Decimal("95.0000")
    assert row["reserved_notional"] == Decimal("95.0000")  # what was spent now counts against today
    assert [f["shares"] for f in row["fills"]] == ["100.00"] * 4
    assert sorted(f["seq"] for f in row["fills"]) == [1, 2, 3, 4]  # equal depth to spare: the plan's order
    assert [f["seq"] for f in row["fills"]] == [1, 2, 3, 4]

    again = mpx("intents", "confirm", str(iid))
    assert again.code == 0 and "already filled" in again.stdout and "not executed again" in again.stdout
    assert trail(db, iid) == ["suggested", "sent", "filled"]
    samples = gateway.samples("mpx_intents")
    assert samples['mpx_order_intents_total{status="filled"}'] == 1
    assert samples['mpx_order_intents_total{status="rejected"}'] == 0
    assert samples['mpx_order_intents_total{status="unwound"}'] == 0
    assert samples['mpx_order_intents_total{status="unwinding"}'] == 0

    # the event resolves: the lab of the first leg wins (its YES pays 1, the others 0)
    first = row["legs"][0]["token_id"]
    with db.connect() as conn:
        conn.execute("""UPDATE outcome SET settle_price = CASE WHEN token_id = %s THEN 1
                                                               WHEN idx = 0 THEN 0 ELSE 1 END
                        WHERE market_id = ANY(%s)""", (first, row["market_ids"]))
        conn.execute("UPDATE market SET status = 'resolved' WHERE id = ANY(%s)", (row["market_ids"],))
    res = mpx("intents", "settle", "--format", "json")
    assert res.code == 0, res.stderr
    assert json.loads(res.stdout) == [{"id": iid, "signal_id": signals["set"], "filled_cost": "95.0000",
                                       "pnl": "5.0000"}]  # 100 × 1 − 95
    assert trail(db, iid) == ["suggested", "sent", "filled", "settled"]
    show = mpx("intents", "show", str(iid))
    assert show.code == 0 and "audit trail:" in show.stdout and "markets resolved: PnL 5.0000 USDC" in show.stdout
    listed = json.loads(mpx("intents", "list", "--status", "settled", "--format", "json").stdout)
    assert [r["id"] for r in listed] == [iid]


def test_every_rejection_reason_and_state(db: TestDb, signals: dict[str, int], mpx: Mpx,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def rejected(iid: int, *checks: str, **env: str) -> str:
        res = mpx("intents", "confirm", str(iid), **env)
        assert res.code == 1, (res.stdout, res.stderr)
        for check in checks:
            assert f"FAIL {check}:" in res.stdout, res.stdout
        assert f"intent {iid} rejected: " in res.stderr and checks[0] in res.stderr
        assert intent(db, iid)["status"] == "rejected" and intent(db, iid)["fills"] is None  # nothing sent
        return res.stdout

    s = signals["set"]
    # per-order notional: the limits changed between create and confirm (a new policy version)
    iid = create(mpx, s)
    out = rejected(iid, "notional_per_order", EXEC_MAX_NOTIONAL_PER_ORDER="50")
    assert "FAIL notional_per_order: 95.0000 USDC (limit 50 USDC)" in out
    assert intent(db, iid)["policy_version"] == 2
    # a rejected intent frees its signal: a new intent from the same signal
    # stale book: a book not observed within EXEC_MAX_BOOK_AGE holds nothing to rely on
    iid = create(mpx, s)
    rejected(iid, "book_fresh", "depth_at_limit", EXEC_MAX_BOOK_AGE="1ms")
    # a leg's market closed
    iid = create(mpx, s)
    market = legs(db, iid)[2]["market_id"]
    with db.connect() as conn:
        conn.execute("UPDATE market SET status = 'closed' WHERE id = %s", (market,))
    rejected(iid, "market_open")
    with db.connect() as conn:
        conn.execute("UPDATE market SET status = 'active' WHERE id = %s", (market,))
    # slippage: the first leg's ask moved from 0.27 to 0.28 (+370.37 bps); nothing left at its limit
    iid = create(mpx, s)
    first = legs(db, iid)[0]["token_id"]
    move_book(db, first, [("0.28", "500")])
    out = rejected(iid, "slippage", "depth_at_limit")
    assert "FAIL slippage: 370.37 bps (limit 50 bps)" in out and "ok   edge: 416.66 bps" in out
    assert "0 of 100.00 at ≤ 0.27" in out
    # the edge vanished: with the allowance wide open, a set at 1.00 is still no trade
    move_book(db, first, [("0.32", "500")])
    iid = create(mpx, s)
    out = rejected(iid, "edge", EXEC_SLIPPAGE_BPS="10000")
    assert "FAIL edge: 0.00 bps (limit > 100 bps)" in out and "ok   slippage:" in out
    # the three market rejections before it (stale, closed, slippage; EXEC_BREAKER_MAX_FAILURES=3)
    # opened the breaker; the capacity rejection (per-order notional) did not count
    assert "FAIL breaker: open (limit closed)" in out
    assert "3 consecutive rejections/failures (last: depth_at_limit: 1 of 4 leg(s) short" in out
    br = json.loads(mpx("intents", "breaker", "--format", "json").stdout)
    assert br["state"] == "open" and br["consecutive_failures"] == "4 of 3"
    iid = create(mpx, s)
    rejected(iid, "breaker")
    # ...until it is reset by hand (recorded)
    assert mpx("intents", "breaker", "--reset", "--reason", "test").code == 0
    assert db.scalar("SELECT action FROM risk_event ORDER BY id DESC LIMIT 1") == "reset"

    # failed: every check passes, then the book of the leg sent first is gone when it is sent — its
    # fill-or-kill order is killed, nothing was bought, the other legs are never sent
    move_book(db, first, [("0.27", "350"), ("0.28", "600")])  # as planted: 250 to spare on every leg
    iid = create(mpx, s)
    sent_first = legs(db, iid)[0]["token_id"]  # equal depth to spare: the plan's order
    res = job(monkeypatch, lambda ctx: jobs.confirm(
        ctx, iid, book_source=moved_when_sent(ctx, db, sent_first, sent_first, [("0.27", "99"), ("0.30", "500")])))
    assert res.outcome == "failed"
    row = intent(db, iid)
    assert row["status"] == "failed" and row["reserved_notional"] == 0 and row["filled_cost"] == 0
    assert [(f["seq"], f["outcome"], f["shares"]) for f in row["fills"]] == [
        (1, "killed", "0"), (None, "not_sent", "0"), (None, "not_sent", "0"), (None, "not_sent", "0")]
    assert "execution failed: leg 1 of 4 (Yes) killed: fill-or-kill: 100.00 shares not available" in row["reason"]
    assert trail(db, iid) == ["suggested", "sent", "failed"]
    move_book(db, sent_first, [("0.27", "500")])

    # the 40-NO-naked example, in the binary set: its YES book now holds only 60 at the 0.48 limit
    # (then 0.50). The whole-book VWAP (60 × 0.48 + 40 × 0.50) / 100 = 0.488 is within the slippage
    # allowance, and the old paper fill took 60 YES and 100 NO. Now nothing is sent.
    iid = create(mpx, signals["binary"])
    yes = legs(db, iid)[0]
    move_book(db, yes["token_id"], [(yes["limit_price"], "60"), ("0.50", "500")])
    out = rejected(iid, "depth_at_limit", EXEC_SLIPPAGE_BPS="10000")
    assert "FAIL depth_at_limit: 1 of 2 leg(s) short: Yes (" in out and "60 of 100.00 at ≤ 0.48" in out
    assert "ok   slippage:" in out
    assert trail(db, iid) == ["suggested", "rejected"]

    # one position open (the Dutch book set, filled), then the capacity limits
    dutch = create(mpx, signals["dutch"])
    assert mpx("intents", "confirm", str(dutch)).code == 0
    spent = intent(db, dutch)["reserved_notional"]
    # 1.95 a set at the limits: sized down to 100 / 1.95 = 51.28 sets (EXEC_MAX_NOTIONAL_PER_ORDER) → 99.996
    assert spent == Decimal("99.9960") and intent(db, dutch)["shares"] == Decimal("51.28")
    iid = create(mpx, signals["set"])
    out = rejected(iid, "concurrent_orders", EXEC_MAX_CONCURRENT_ORDERS="1")
    assert "FAIL concurrent_orders: 1 open + 1 (limit 1)" in out
    iid = create(mpx, signals["set"])
    out = rejected(iid, "daily_notional", EXEC_MAX_DAILY_NOTIONAL="150")
    assert "FAIL daily_notional: 99.9960 used + 95.0000 = 194.9960 USDC (limit 150 USDC)" in out

    # cancelled; a cancelled intent cannot be confirmed; a filled one cannot be cancelled
    iid = create(mpx, signals["set"])
    assert mpx("intents", "cancel", str(iid), "--reason", "changed my mind").code == 0
    res = mpx("intents", "confirm", str(iid))
    assert res.code == 1 and "is cancelled" in res.stderr
    res = mpx("intents", "cancel", str(dutch))
    assert res.code == 1 and "mpx intents close" in res.stderr

    # closed by hand at a loss of 60 USDC: the loss limit (50) opens the breaker
    assert mpx("intents", "close", str(dutch), "--pnl", "-60").code == 0
    assert intent(db, dutch)["status"] == "closed"
    iid = create(mpx, signals["set"])
    out = rejected(iid, "breaker")
    assert "realised loss 60 USDC within 1d (limit 50)" in out
    statuses = {r[0] for r in db.connect().execute("SELECT DISTINCT to_status FROM order_intent_event")}
    assert statuses == {"suggested", "sent", "filled", "rejected", "cancelled", "failed", "closed"}
    assert db.scalar("SELECT count(DISTINCT version) FROM execution_policy") > 2


@pytest.fixture
def tg() -> Iterator[TelegramStandIn]:
    with TelegramStandIn() as server:
        yield server


def telegram(tg: TelegramStandIn) -> dict[str, str]:
    return {"TELEGRAM_ENABLED": "true", "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_CHAT_ID": "4242",
            "TELEGRAM_API_URL": tg.base_url}


FEES_2PCT = "UPDATE market SET fees_enabled = true, fee_rate = 0.02, fee_exponent = 1 WHERE id = %s"


def binary_intent(db: TestDb, mpx: Mpx, signals: dict[str, int]) -> tuple[int, dict[str, str], dict[str, str]]:
    """An intent on the planted binary set, its market now charging 2 % × p(1 − p): (id, YES leg, NO leg).

    Planned: YES 100 @ ≤ 0.48 (250 offered: 150 to spare) + NO 100 @ ≤ 0.49 (220 offered: 120 to
    spare) → NO is sent first. Worst case 48 + 0.4992 + 49 + 0.4998 = 97.999 for a payout of 100."""
    market = db.scalar("SELECT market_id FROM signal WHERE id = %s", (signals["binary"],))
    with db.connect() as conn:
        conn.execute(FEES_2PCT, (market,))
    iid = create(mpx, signals["binary"])
    yes, no = legs(db, iid)
    assert (yes["label"], yes["limit_price"], no["label"], no["limit_price"]) == ("Yes", "0.48", "No", "0.49")
    return iid, yes, no


def test_leg_two_killed_after_leg_one_filled_is_unwound_alerted_and_trips_the_breaker(
        db: TestDb, signals: dict[str, int], mpx: Mpx, monkeypatch: pytest.MonkeyPatch, tg: TelegramStandIn) -> None:
    iid, yes, no = binary_intent(db, mpx, signals)
    # NO (sent first) fills 100 @ 0.49: 49.00 + fee 100 × 0.02 × 0.49 × 0.51 = 0.4998 → 49.4998.
    # When it is sent, the YES book moves: 50 @ 0.48 then 0.51 → YES (sent second) is killed.
    # Unwind NO within EXEC_MAX_UNWIND_LOSS = 5: it must bring in 49.4998 − 5 = 44.4998 after fees;
    # at 0.45: 45 − 100 × 0.02 × 0.45 × 0.55 = 44.505 ≥ 44.4998 (at 0.44: 43.5072) → floor 0.45.
    # The NO bids 300 @ 0.46: 100 × 0.46 = 46.00, fee 100 × 0.02 × 0.46 × 0.54 = 0.4968 → 45.5032.
    # Realised loss = cost 49.4998 − proceeds 46.00 + sell fee 0.4968 = 3.9966 USDC.
    res = job(monkeypatch, lambda ctx: jobs.confirm(ctx, iid, book_source=moved_when_sent(
        ctx, db, no["token_id"], yes["token_id"], [("0.48", "50"), ("0.51", "500")], [("0.47", "300")])),
        **telegram(tg))
    assert res.outcome == "unwound"
    row = intent(db, iid)
    assert row["status"] == "unwound" and row["pnl"] == Decimal("-3.99660") and row["closed_at"] is not None
    assert [(f["label"], f["seq"], f["outcome"], f["shares"]) for f in row["fills"]] == [
        ("Yes", 2, "killed", "0"), ("No", 1, "filled", "100.00")]
    assert row["filled_cost"] == Decimal("49.49980") and row["reserved_notional"] == Decimal("49.49980")
    u = row["unwind"]
    assert (u["done"], u["realised_loss"], u["spent"], u["recovered"]) == (True, "3.99660", "49.49980", "45.50320")
    [sell] = u["sells"]
    assert (sell["label"], sell["floor"], sell["best_bid"], sell["shares"], sell["proceeds"], sell["fee"]) == (
        "No", "0.45", "0.46", "100.00", "46.0000", "0.49680")

    # the audit trail: every transition, with the fills, the order the legs were sent in, the unwind
    ev = events(db, iid)
    assert [e["to"] for e in ev] == ["suggested", "sent", "unwinding", "unwound"]
    assert ev[1]["details"]["order"][0].startswith("No (")
    assert ev[2]["details"]["order"] == ["1. No (filled)", "2. Yes (killed)"]
    assert "leg 2 of 2 (Yes) killed after 100.00 No filled" in ev[2]["reason"]
    assert ev[3]["details"]["realised_loss"] == "3.99660" and len(ev[3]["details"]["unwind_sells"]) == 1
    assert "realised loss 3.99660 USDC = cost 49.49980 − proceeds 45.50320" in ev[3]["reason"]

    # the breaker is open (recorded), the loss counts in its window, the next confirm is refused
    assert db.scalar("SELECT breaker FROM risk_state") == "open"
    assert db.scalar("SELECT details->>'intent_id' FROM risk_event WHERE action = 'opened'") == str(iid)
    br = json.loads(mpx("intents", "breaker", "--format", "json").stdout)
    assert br["window_pnl"].startswith("-3.99660 USDC")
    other = create(mpx, signals["set"])
    res2 = mpx("intents", "confirm", str(other))
    assert res2.code == 1 and "FAIL breaker: open" in res2.stdout and f"intent {iid} unwound" in res2.stdout

    # one P1 alert queued in the outbox, sent by the same flush as signal alerts
    with db.connect() as conn:
        [(level, signal_id, text, status)] = conn.execute(
            "SELECT level, signal_id, text, status FROM alert_outbox WHERE intent_id = %s", (iid,)).fetchall()
    assert (level, signal_id, status) == ("P1", None, "pending")
    assert text.startswith(f"intent {iid} UNWOUND (paper)") and "Realised loss 3.99660 USDC" in text
    flushed = mpx("alerts", "flush", **telegram(tg))
    assert flushed.code == 0, flushed.stderr
    mine = [m["text"] for m in tg.sent if f"intent {iid} UNWOUND" in m["text"]]
    assert len(mine) == 1 and mine[0].startswith(f"<b>P1 EXECUTION intent {iid} UNWOUND (paper)</b>")
    assert db.scalar("SELECT status FROM alert_outbox WHERE intent_id = %s", (iid,)) == "sent"
    listed = mpx("alerts", "list", "--format", "json")
    assert any(r["rule_id"] == f"intent {iid}" for r in json.loads(listed.stdout))

    # status everywhere: list, show, metrics
    assert [r["id"] for r in json.loads(mpx("intents", "list", "--status", "unwound", "--format", "json").stdout)] \
        == [iid]
    show = mpx("intents", "show", str(iid))
    assert "realised loss 3.99660 USDC = cost 49.49980 − proceeds 45.50320" in show.stdout
    metrics = mpx("metrics").stdout
    assert 'mpx_order_intents_total{status="unwound"} 1.0' in metrics
    assert 'mpx_order_intents_total{status="unwinding"} 1.0' in metrics

    # the token is never in an alert, the audit trail or the intent
    with db.connect() as conn:
        stored = [str(r) for r in conn.execute("SELECT text FROM alert_outbox")]
        stored += [str(r) for r in conn.execute("SELECT reason, details::text FROM order_intent_event")]
        stored += [str(r) for r in conn.execute("SELECT reason, details::text FROM risk_event")]
        stored += [str(r) for r in conn.execute("SELECT to_jsonb(i)::text FROM order_intent i")]
    assert not any(tg.token in s for s in stored)
    assert not any(tg.token in m["text"] for m in tg.sent)


def test_an_unwind_beyond_the_cap_stays_unwinding_until_bids_return(
        db: TestDb, signals: dict[str, int], mpx: Mpx, monkeypatch: pytest.MonkeyPatch) -> None:
    iid, yes, no = binary_intent(db, mpx, signals)
    # EXEC_MAX_UNWIND_LOSS = 1: NO must bring in 49.4998 − 1 = 48.4998 → floor 0.49 (49 − 0.4998 =
    # 48.5002); the best NO bid is 0.46 → nothing can be sold within the cap: 100 NO naked.
    cap = {"EXEC_MAX_UNWIND_LOSS": "1"}
    res = job(monkeypatch, lambda ctx: jobs.confirm(ctx, iid, book_source=moved_when_sent(
        ctx, db, no["token_id"], yes["token_id"], [("0.48", "50"), ("0.51", "500")], [("0.47", "300")])), **cap)
    assert res.outcome == "unwinding"
    row = intent(db, iid)
    assert row["status"] == "unwinding" and row["pnl"] is None and row["closed_at"] is None
    [held] = [p for p in row["unwind"]["positions"] if Decimal(p["held"]) > 0]
    assert (held["label"], held["held"]) == ("No", "100.00")
    assert "best bid 0.46 is below the floor 0.49" in row["unwind"]["sells"][0]["note"]
    assert trail(db, iid) == ["suggested", "sent", "unwinding", "unwinding"]
    text = db.scalar("SELECT text FROM alert_outbox WHERE intent_id = %s AND level = 'P1'", (iid,))
    assert f"intent {iid} NAKED, unwinding (paper)" in str(text) and "Still held: 100.00 No" in str(text)
    assert "held open while the position is naked" in str(text)
    # counted as open; the breaker stays shut for it even after a reset
    assert mpx("intents", "breaker", "--reset").code == 0
    br = json.loads(mpx("intents", "breaker", "--format", "json").stdout)
    assert br["state"].startswith("open: naked position") and br["unwinding"] == str(iid)
    other = create(mpx, signals["set"])
    out = mpx("intents", "confirm", str(other), EXEC_BREAKER_MAX_FAILURES="100")
    assert out.code == 1 and f"naked position: intent(s) {iid} unwinding" in out.stdout
    assert "ok   concurrent_orders: 1 open + 1" in out.stdout
    # what a trader can do: not cancel it
    res3 = mpx("intents", "cancel", str(iid))
    assert res3.code == 1 and f"mpx intents unwind {iid}" in res3.stderr

    # a retry while the bids are still too low: still unwinding (exit 1), one more attempt recorded
    again = mpx("intents", "unwind", str(iid), **cap)
    assert again.code == 1 and "still unwinding" in again.stderr and "NAKED: 100.00 No" in again.stdout
    assert intent(db, iid)["unwind"]["attempts"] == 2
    # bids return: 100 @ 0.49 → 49.00 − fee 0.4998 = 48.5002; loss 49.4998 − 48.5002 = 0.9996 ≤ 1
    move_book(db, no["token_id"], [("0.50", "300")], [("0.49", "100"), ("0.40", "500")])
    done = mpx("intents", "unwind", str(iid), **cap)
    assert done.code == 0, done.stderr
    assert f"intent {iid}: unwound" in done.stdout and "realised loss 0.99960 USDC" in done.stdout
    row = intent(db, iid)
    assert row["status"] == "unwound" and row["pnl"] == Decimal("-0.99960") and row["unwind"]["attempts"] == 3
    assert trail(db, iid) == ["suggested", "sent", "unwinding", "unwinding", "unwinding", "unwound"]
    assert mpx("intents", "unwind", str(iid)).code == 1  # nothing left to unwind
    assert mpx("intents", "unwind", str(iid), "--max-loss", "lots").code == 2
    assert mpx("intents", "unwind", str(iid), "--max-loss", "0").code == 2


def test_an_unknown_fee_is_refused_at_create_and_at_confirm(db: TestDb, signals: dict[str, int], mpx: Mpx) -> None:
    market = db.scalar("SELECT market_id FROM signal WHERE id = %s", (signals["binary"],))
    unknown = "UPDATE market SET fees_enabled = true, fee_rate = NULL WHERE id = %s"
    # create: the market now charges fees at an unknown rate (its signal priced them as 0)
    with db.connect() as conn:
        conn.execute(unknown, (market,))
    res = mpx("intents", "create", "--signal", str(signals["binary"]))
    assert res.code == 1 and "charges fees at an unknown rate" in res.stderr
    # confirm: the fee was known at create and became unknown before confirm
    with db.connect() as conn:
        conn.execute("UPDATE market SET fees_enabled = false WHERE id = %s", (market,))
    iid = create(mpx, signals["binary"])
    with db.connect() as conn:
        conn.execute(unknown, (market,))
    res = mpx("intents", "confirm", str(iid))
    assert res.code == 1 and "FAIL fee_known: 1 of 1 leg market(s) charge fees at an unknown rate" in res.stdout
    assert trail(db, iid) == ["suggested", "rejected"] and intent(db, iid)["fills"] is None


def test_a_sent_intent_is_cancelled_without_releasing_a_live_position(db: TestDb, signals: dict[str, int],
                                                                      mpx: Mpx) -> None:
    # two confirms that died between reserving (sent) and recording: one on paper, one live
    paper, live = create(mpx, signals["set"]), create(mpx, signals["dutch"])
    with db.connect() as conn:
        conn.execute("UPDATE order_intent SET status = 'sent', reserved_notional = max_notional WHERE id = ANY(%s)",
                     ([paper, live],))
        conn.execute("UPDATE order_intent SET mode = 'live' WHERE id = %s", (live,))
    assert mpx("intents", "cancel", str(paper)).code == 0  # paper: nothing real was filled
    assert intent(db, paper)["reserved_notional"] == 0
    res = mpx("intents", "cancel", str(live))
    assert res.code == 1 and "legs may have filled there" in res.stderr and "--nothing-filled" in res.stderr
    assert intent(db, live)["status"] == "sent" and intent(db, live)["reserved_notional"] > 0
    assert mpx("intents", "cancel", str(live), "--nothing-filled", "--reason", "venue shows no fill").code == 0
    row = intent(db, live)
    assert row["status"] == "cancelled" and row["reserved_notional"] == 0
    assert "the trader checked the venue and nothing filled" in row["reason"]


def copies(db: TestDb, signal_id: int, n: int) -> list[int]:
    """``n`` signals like ``signal_id`` (each its own signature), as repeated passes would store."""
    with db.connect() as conn:
        rows = conn.execute(
            """INSERT INTO signal (ts, rule_id, rule_type, level, finding_class, market_id, group_key, message,
                                   edge_score, estimated_edge_bps, executable_shares, executable_notional, measure,
                                   measure_value, payout_per_share, payload, signature)
               SELECT ts, rule_id, rule_type, level, finding_class, market_id, group_key, message, edge_score,
                      estimated_edge_bps, executable_shares, executable_notional, measure, measure_value,
                      payout_per_share, payload, signature || '-' || g
               FROM signal, generate_series(1, %s) g WHERE id = %s RETURNING id""", (n - 1, signal_id)).fetchall()
    return [signal_id] + [r[0] for r in rows]


def confirm_in_parallel(ids: list[int], **env: str) -> list[tuple[int, str, str]]:
    procs = [spawn_mpx("intents", "confirm", str(i), env={"MPX_LOG_LEVEL": "WARNING", **env}) for i in ids]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append((p.returncode, stdout, stderr))
    return out


def confirm_in_threads(ids: list[int], monkeypatch: pytest.MonkeyPatch, **env: str) -> list[tuple[str, str]]:
    """``mpx intents confirm`` of every id at once, each in its own thread with its own connection (the
    job under the job contract, as the command runs it): (outcome, reason) per id."""
    with monkeypatch.context() as m:
        for k, v in env.items():
            m.setenv(k, v)
        settings = load_settings()
    start = threading.Barrier(len(ids))

    def one(iid: int) -> tuple[str, str]:
        start.wait()
        res = run_job(settings, "intents", lambda ctx: jobs.confirm(ctx, iid), lock=False)
        return res.outcome, str(res.intent.get("reason"))

    with ThreadPoolExecutor(len(ids)) as pool:
        return list(pool.map(one, ids))


@pytest.mark.parametrize("limit", ["concurrent", "daily"])
def test_twenty_parallel_confirms_against_limits_that_allow_three(db: TestDb, signals: dict[str, int], mpx: Mpx,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   limit: str) -> None:
    ids = [create(mpx, s) for s in copies(db, signals["set"], 20)]
    env = ({"EXEC_MAX_CONCURRENT_ORDERS": "3"} if limit == "concurrent"
           else {"EXEC_MAX_CONCURRENT_ORDERS": "100", "EXEC_MAX_DAILY_NOTIONAL": "299"})  # 3 × 95 fit, 4 do not
    results = confirm_in_threads(ids, monkeypatch, EXEC_BREAKER_MAX_FAILURES="100", **env)
    outcomes = [r[0] for r in results]
    assert outcomes.count("filled") == 3 and outcomes.count("rejected") == 17, results
    reason = "concurrent_orders" if limit == "concurrent" else "daily_notional"
    assert all(reason in why for outcome, why in results if outcome == "rejected")
    assert db.scalar("SELECT count(*) FROM order_intent WHERE status = 'filled'") == 3
    assert db.scalar("SELECT count(*) FROM order_intent WHERE status = 'rejected'") == 17
    assert db.scalar("SELECT sum(reserved_notional) FROM order_intent WHERE reserved_day = current_date") == Decimal(
        "285.0000")  # never above the daily limit


def test_one_intent_confirmed_five_times_at_once_executes_once(db: TestDb, signals: dict[str, int],
                                                               mpx: Mpx) -> None:
    # five real processes (the parallel confirms above run in threads of this one)
    iid = create(mpx, signals["set"])
    results = confirm_in_parallel([iid] * 5)
    assert [r[0] for r in results] == [0] * 5, results
    assert sum("already" in out for _, out, _ in results) == 4
    assert trail(db, iid) == ["suggested", "sent", "filled"]


def test_what_cannot_become_an_intent(db: TestDb, signals: dict[str, int], mpx: Mpx) -> None:
    p3 = copies(db, signals["binary"], 2)[1]
    with db.connect() as conn:
        conn.execute("UPDATE signal SET level = 'P3' WHERE id = %s", (p3,))
    res = mpx("intents", "create", "--signal", str(p3))
    assert res.code == 1 and "only P1 and P2 signals become order intents" in res.stderr
    # indicators — an equivalence that is not proven (the planted keyword pair), an endgame bet — are
    # information for a trader, refused clearly whatever their level
    for sid in (signals["synonym"], signals["endgame"]):
        res = mpx("intents", "create", "--signal", str(sid))
        assert res.code == 1 and "is an indicator" in res.stderr and "not an arbitrage" in res.stderr, res.stderr
    # the planted threshold ladder is proven (same template, same rules but for the threshold): arbitrage
    assert db.scalar("SELECT finding_class FROM signal WHERE id = %s", (signals["cross"],)) == "arbitrage"
    assert mpx("intents", "create", "--signal", str(signals["cross"])).code == 0
    assert db.scalar("SELECT level FROM signal WHERE id = %s", (signals["endgame"],)) == "P1"
    res = mpx("intents", "create", "--signal", "999999")
    assert res.code == 1 and "signal 999999 not found" in res.stderr
    iid = create(mpx, signals["dutch"])
    res = mpx("intents", "create", "--signal", str(signals["dutch"]))
    assert res.code == 1 and f"already has intent {iid} (suggested): one live intent per signal" in res.stderr
    res = mpx("intents", "confirm", str(iid), EXEC_MODE="live")
    assert res.code == 78 and "EXEC_MODE=live needs EXEC_KEY_FILE" in res.stderr  # live without a key: exit 78
    assert intent(db, iid)["status"] == "suggested"  # nothing changed
    assert mpx("intents", "confirm", "0").code == 2
    assert mpx("intents", "list", "--status", "bogus").code == 2
    res = mpx("intents", "close", str(iid), "--pnl", "lots")
    assert res.code == 2 and "--pnl must be a number" in res.stderr
    res = mpx("intents", "confirm", str(iid), EXEC_MAX_UNWIND_LOSS="500")
    assert res.code == 78 and "EXEC_MAX_UNWIND_LOSS" in res.stderr
    assert db.scalar("SELECT count(*) FROM order_intent") == 2



def test_the_kill_switch_stops_everything_until_reset(db: TestDb, signals: dict[str, int], mpx: Mpx) -> None:
    iid = create(mpx, signals["set"])
    res = mpx("intents", "breaker", "--trip", "--reason", "venue incident")
    assert res.code == 0 and "breaker tripped" in res.stdout, res.stderr
    br = json.loads(mpx("intents", "breaker", "--format", "json").stdout)
    assert br["state"].startswith("open: tripped by hand") and br["reason"] == "venue incident"
    assert br["open_until"] is None  # no cooldown ends it
    out = mpx("intents", "confirm", str(iid))
    assert out.code == 1, out.stdout
    assert "FAIL breaker: open (limit closed) — tripped by hand: venue incident" in out.stdout
    assert intent(db, iid)["status"] == "rejected"
    assert mpx("intents", "breaker", "--trip", "--reset").code == 2  # one or the other
    assert mpx("intents", "breaker", "--reset", "--reason", "incident over").code == 0
    again = mpx("intents", "confirm", str(create(mpx, signals["binary"])))
    assert "ok   breaker:" in again.stdout, again.stdout
    actions = db.scalar("SELECT array_agg(action ORDER BY id) FROM risk_event")
    assert actions == ["opened", "reset"]
