"""Order intents end to end: the real `mpx` command against a real PostgreSQL, the mock universe's
planted signals, books moved by writing ticks the way an ingest pass would. Every state, every
rejection reason, and the limits under 20 parallel confirms."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from conftest import TestDb
from helpers import CliResult, run_mpx, spawn_mpx

SET_SQL = "SELECT id FROM signal WHERE rule_type = 'SUM_LT_1' AND payload->>'structure' = 'neg_risk'"


def mpx(*args: str, **env: str) -> CliResult:
    return run_mpx(*args, env={"MPX_LOG_LEVEL": "WARNING", **env})


@pytest.fixture
def signals(db: TestDb) -> dict[str, int]:
    """The planted universe, ingested and evaluated: P1 signal ids by kind."""
    assert mpx("seed", "--seed", "42").code == 0
    assert mpx("ingest").code == 0
    assert mpx("evaluate").code == 0
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


def create(signal_id: int, **env: str) -> int:
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


def test_create_confirm_fill_settle_with_an_audit_trail(db: TestDb, signals: dict[str, int], gateway: Any) -> None:
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
    for check in ("breaker", "market_open", "book_fresh", "notional_per_order", "concurrent_orders",
                  "daily_notional", "slippage", "edge"):
        assert f"ok   {check}:" in res.stdout
    row = intent(db, iid)
    assert row["status"] == "filled" and row["filled_cost"] == Decimal("95.0000")
    assert row["reserved_notional"] == Decimal("95.0000")  # what was spent now counts against today
    assert [f["shares"] for f in row["fills"]] == ["100.00"] * 4

    again = mpx("intents", "confirm", str(iid))
    assert again.code == 0 and "already filled" in again.stdout and "not executed again" in again.stdout
    assert trail(db, iid) == ["suggested", "sent", "filled"]
    samples = gateway.samples("mpx_intents")
    assert samples['mpx_order_intents_total{status="filled"}'] == 1
    assert samples['mpx_order_intents_total{status="rejected"}'] == 0

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


def test_every_rejection_reason_and_state(db: TestDb, signals: dict[str, int]) -> None:
    def rejected(iid: int, check: str, **env: str) -> str:
        res = mpx("intents", "confirm", str(iid), **env)
        assert res.code == 1, (res.stdout, res.stderr)
        assert f"FAIL {check}:" in res.stdout, res.stdout
        assert f"intent {iid} rejected: " in res.stderr and check in res.stderr
        assert intent(db, iid)["status"] == "rejected"
        return res.stdout

    s = signals["set"]
    # per-order notional: the limits changed between create and confirm (a new policy version)
    iid = create(s)
    out = rejected(iid, "notional_per_order", EXEC_MAX_NOTIONAL_PER_ORDER="50")
    assert "FAIL notional_per_order: 95.0000 USDC (limit 50 USDC)" in out
    assert intent(db, iid)["policy_version"] == 2
    # a rejected intent frees its signal: a new intent from the same signal
    # stale book
    iid = create(s)
    rejected(iid, "book_fresh", EXEC_MAX_BOOK_AGE="1ms")
    # a leg's market closed
    iid = create(s)
    market = legs(db, iid)[2]["market_id"]
    with db.connect() as conn:
        conn.execute("UPDATE market SET status = 'closed' WHERE id = %s", (market,))
    rejected(iid, "market_open")
    with db.connect() as conn:
        conn.execute("UPDATE market SET status = 'active' WHERE id = %s", (market,))
    # slippage: the first leg's ask moved from 0.27 to 0.28 (+370.37 bps)
    iid = create(s)
    first = legs(db, iid)[0]["token_id"]
    move_book(db, first, [("0.28", "500")])
    out = rejected(iid, "slippage")
    assert "FAIL slippage: 370.37 bps (limit 50 bps)" in out and "ok   edge: 416.66 bps" in out
    # the edge vanished: with the allowance wide open, a set at 1.00 is still no trade
    move_book(db, first, [("0.32", "500")])
    iid = create(s)
    out = rejected(iid, "edge", EXEC_SLIPPAGE_BPS="10000")
    assert "FAIL edge: 0.00 bps (limit > 0 bps)" in out and "ok   slippage:" in out
    # the three market rejections before it (stale, closed, slippage; EXEC_BREAKER_MAX_FAILURES=3)
    # opened the breaker; the capacity rejection (per-order notional) did not count
    assert "FAIL breaker: open (limit closed)" in out
    assert "3 consecutive rejections/failures (last: slippage" in out
    br = json.loads(mpx("intents", "breaker", "--format", "json").stdout)
    assert br["state"] == "open" and br["consecutive_failures"] == "4 of 3"
    iid = create(s)
    rejected(iid, "breaker")
    # ...until it is reset by hand (recorded)
    assert mpx("intents", "breaker", "--reset", "--reason", "test").code == 0
    assert db.scalar("SELECT action FROM risk_event ORDER BY id DESC LIMIT 1") == "reset"

    # failed: every leg moved up a tick after the intent was sized at the old prices; the wide
    # allowance lets it through, but nothing is offered at the limits
    move_book(db, first, [("0.27", "500")])
    iid = create(signals["set"], EXEC_SLIPPAGE_BPS="0")
    for lg in legs(db, iid):
        move_book(db, lg["token_id"], [(str(Decimal(lg["limit_price"]) + Decimal("0.01")), "500")])
    res = mpx("intents", "confirm", str(iid), EXEC_SLIPPAGE_BPS="10000")
    assert res.code == 1 and "execution failed: nothing filled within the limit prices" in res.stderr
    row = intent(db, iid)
    assert row["status"] == "failed" and row["reserved_notional"] == 0
    assert trail(db, iid) == ["suggested", "sent", "failed"]

    # partially filled: the binary set's YES book holds only 60 shares at its limit
    iid = create(signals["binary"])
    yes = legs(db, iid)[0]
    move_book(db, yes["token_id"], [(yes["limit_price"], "60"), ("0.50", "500")])
    res = mpx("intents", "confirm", str(iid), EXEC_SLIPPAGE_BPS="10000")
    assert res.code == 0, res.stderr
    row = intent(db, iid)
    assert row["status"] == "partially_filled"
    assert [f["shares"] for f in row["fills"]] == ["60.00", "100.00"]

    # concurrency and daily notional, with one position open (the partial fill)
    iid = create(signals["endgame"])
    out = rejected(iid, "concurrent_orders", EXEC_MAX_CONCURRENT_ORDERS="1")
    assert "FAIL concurrent_orders: 1 open + 1 (limit 1)" in out
    spent = row["reserved_notional"]
    iid = create(signals["endgame"])
    out = rejected(iid, "daily_notional", EXEC_MAX_DAILY_NOTIONAL="100")
    assert f"FAIL daily_notional: {spent} used + " in out

    # cancelled; a cancelled intent cannot be confirmed; a filled one cannot be cancelled
    iid = create(signals["endgame"])
    assert mpx("intents", "cancel", str(iid), "--reason", "changed my mind").code == 0
    res = mpx("intents", "confirm", str(iid))
    assert res.code == 1 and "is cancelled" in res.stderr
    partial = int(db.scalar("SELECT id FROM order_intent WHERE status = 'partially_filled'"))  # type: ignore[arg-type]
    res = mpx("intents", "cancel", str(partial))
    assert res.code == 1 and "mpx intents close" in res.stderr

    # closed by hand at a loss of 60 USDC: the loss limit (50) opens the breaker
    assert mpx("intents", "close", str(partial), "--pnl", "-60").code == 0
    assert intent(db, partial)["status"] == "closed"
    iid = create(signals["endgame"])
    out = rejected(iid, "breaker")
    assert "realised loss 60 USDC within 1d (limit 50)" in out
    statuses = {r[0] for r in db.connect().execute("SELECT DISTINCT to_status FROM order_intent_event")}
    assert statuses == {"suggested", "sent", "partially_filled", "rejected", "cancelled", "failed",
                        "closed"}  # filled and settled: the walk-through test
    assert db.scalar("SELECT count(DISTINCT version) FROM execution_policy") > 2


def copies(db: TestDb, signal_id: int, n: int) -> list[int]:
    """``n`` signals like ``signal_id`` (each its own signature), as repeated passes would store."""
    with db.connect() as conn:
        rows = conn.execute(
            """INSERT INTO signal (ts, rule_id, rule_type, level, market_id, group_key, message, edge_score,
                                   estimated_edge_bps, executable_shares, executable_notional, payload, signature)
               SELECT ts, rule_id, rule_type, level, market_id, group_key, message, edge_score, estimated_edge_bps,
                      executable_shares, executable_notional, payload, signature || '-' || g
               FROM signal, generate_series(1, %s) g WHERE id = %s RETURNING id""", (n - 1, signal_id)).fetchall()
    return [signal_id] + [r[0] for r in rows]


def confirm_in_parallel(ids: list[int], **env: str) -> list[tuple[int, str, str]]:
    procs = [spawn_mpx("intents", "confirm", str(i), env={"MPX_LOG_LEVEL": "WARNING", **env}) for i in ids]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append((p.returncode, stdout, stderr))
    return out


@pytest.mark.parametrize("limit", ["concurrent", "daily"])
def test_twenty_parallel_confirms_against_limits_that_allow_three(db: TestDb, signals: dict[str, int],
                                                                   limit: str) -> None:
    ids = [create(s) for s in copies(db, signals["set"], 20)]
    env = ({"EXEC_MAX_CONCURRENT_ORDERS": "3"} if limit == "concurrent"
           else {"EXEC_MAX_CONCURRENT_ORDERS": "100", "EXEC_MAX_DAILY_NOTIONAL": "299"})  # 3 × 95 fit, 4 do not
    results = confirm_in_parallel(ids, EXEC_BREAKER_MAX_FAILURES="100", **env)
    codes = [r[0] for r in results]
    assert codes.count(0) == 3 and codes.count(1) == 17, results
    reason = "concurrent_orders" if limit == "concurrent" else "daily_notional"
    assert all(reason in err for code, _, err in results if code == 1)
    assert db.scalar("SELECT count(*) FROM order_intent WHERE status = 'filled'") == 3
    assert db.scalar("SELECT count(*) FROM order_intent WHERE status = 'rejected'") == 17
    assert db.scalar("SELECT sum(reserved_notional) FROM order_intent WHERE reserved_day = current_date") == Decimal(
        "285.0000")  # never above the daily limit


def test_one_intent_confirmed_five_times_at_once_executes_once(db: TestDb, signals: dict[str, int]) -> None:
    iid = create(signals["set"])
    results = confirm_in_parallel([iid] * 5)
    assert [r[0] for r in results] == [0] * 5, results
    assert sum("already" in out for _, out, _ in results) == 4
    assert trail(db, iid) == ["suggested", "sent", "filled"]


def test_what_cannot_become_an_intent(db: TestDb, signals: dict[str, int]) -> None:
    p3 = copies(db, signals["binary"], 2)[1]
    with db.connect() as conn:
        conn.execute("UPDATE signal SET level = 'P3' WHERE id = %s", (p3,))
    res = mpx("intents", "create", "--signal", str(p3))
    assert res.code == 1 and "only P1 and P2 signals become order intents" in res.stderr
    assert mpx("ingest").code == 0 and mpx("evaluate").code == 0  # the planted spike needs two passes
    spike = db.scalar("SELECT min(id) FROM signal WHERE rule_type = 'SPIKE' AND level <> 'P3'")
    res = mpx("intents", "create", "--signal", str(spike))
    assert res.code == 1 and "no executable legs" in res.stderr
    res = mpx("intents", "create", "--signal", "999999")
    assert res.code == 1 and "signal 999999 not found" in res.stderr
    iid = create(signals["dutch"])
    res = mpx("intents", "create", "--signal", str(signals["dutch"]))
    assert res.code == 1 and f"already has intent {iid} (suggested): one live intent per signal" in res.stderr
    res = mpx("intents", "confirm", str(iid), EXEC_MODE="live")
    assert res.code == 78 and "no live execution adapter" in res.stderr
    assert intent(db, iid)["status"] == "suggested"  # nothing changed
    assert mpx("intents", "confirm", "0").code == 2
    assert mpx("intents", "list", "--status", "bogus").code == 2
    res = mpx("intents", "close", str(iid), "--pnl", "lots")
    assert res.code == 2 and "--pnl must be a number" in res.stderr
    # cross-market and synonym signals are priced purchases too
    for key in ("cross", "synonym"):
        assert mpx("intents", "confirm", str(create(signals[key]))).code == 0
    assert db.scalar("SELECT count(*) FROM order_intent WHERE status = 'filled'") == 2
