"""EXEC_MODE=live end to end through the CLOB V2 stand-in (tests/stubs/clob.py): orders built and
signed by the SDK with a throwaway wallet, checked by the stand-in (HMAC headers, EIP-712 signature
against the wallet's address, order type, tick), filled or killed against its book.

The planted binary set (see test_intents.py): YES 100 @ ≤ 0.48 + NO 100 @ ≤ 0.49, the market charging
2 % × p(1 − p); NO (less depth to spare) is sent first.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from mpx.cli import main

from conftest import TestDb
from helpers import CliResult
from stubs.clob import ClobV2StandIn

Mpx = Callable[..., CliResult]
FEES_2PCT = "UPDATE market SET fees_enabled = true, fee_rate = 0.02, fee_exponent = 1 WHERE id = %s"
BINARY_SQL = "SELECT id FROM signal WHERE rule_type = 'SUM_LT_1' AND payload->>'structure' = 'binary'"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + " " + json.dumps(record.__dict__, default=str))


@pytest.fixture
def logs() -> Iterator[Collect]:
    """Every record of mpx's and the SDK's loggers (the CLI replaces the root handlers; these stay)."""
    h = Collect()
    loggers = [logging.getLogger(n) for n in ("mpx", "py_clob_client_v2", "httpx", "httpcore")]
    old = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(h)
        lg.setLevel(logging.DEBUG)
    yield h
    for lg, (level, _) in zip(loggers, old, strict=True):
        lg.removeHandler(h)
        lg.setLevel(level)


@pytest.fixture
def mpx(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Mpx:
    def run(*args: str, **env: str) -> CliResult:
        with monkeypatch.context() as m:
            m.setenv("MPX_LOG_LEVEL", "DEBUG")
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


@pytest.fixture
def wallet(tmp_path: Path) -> dict[str, str]:
    """A throwaway wallet and API credentials in a 0600 key file."""
    acct = Account.create()
    w = {"address": acct.address, "key": acct.key.hex().removeprefix("0x"),
         "api_key": "k-" + secrets.token_hex(8), "secret": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
         "passphrase": secrets.token_hex(16), "file": str(tmp_path / "wallet.yaml")}
    Path(w["file"]).write_text(f"private_key: '0x{w['key']}'\napi_key: {w['api_key']}\napi_secret: '{w['secret']}'\n"
                               f"api_passphrase: '{w['passphrase']}'\n")
    os.chmod(w["file"], 0o600)
    return w


@pytest.fixture
def clob(wallet: dict[str, str]) -> Iterator[ClobV2StandIn]:
    with ClobV2StandIn(wallet["address"], api_key=wallet["api_key"], api_secret=wallet["secret"],
                       api_passphrase=wallet["passphrase"], fee_rate=Decimal("0.02")) as server:
        yield server


def live_env(wallet: dict[str, str], clob: ClobV2StandIn) -> dict[str, str]:
    return {"EXEC_MODE": "live", "EXEC_KEY_FILE": wallet["file"], "MPX_CLOB_URL": clob.url,
            "MPX_HTTP_TIMEOUT": "0.5"}


@pytest.fixture
def binary(db: TestDb, mpx: Mpx, clob: ClobV2StandIn, wallet: dict[str, str]) -> dict[str, Any]:
    """A live intent on the planted binary set; the stand-in's books as stored: (id, yes, no)."""

    def build() -> None:
        assert mpx("seed", "--seed", "42", MPX_LOG_LEVEL="WARNING").code == 0
        assert mpx("ingest", MPX_LOG_LEVEL="WARNING").code == 0
        assert mpx("evaluate", MPX_LOG_LEVEL="WARNING").code == 0

    db.load("seed 42, ingest, evaluate", build, max_age=timedelta(seconds=30))
    sid = db.scalar(BINARY_SQL)
    market = db.scalar("SELECT market_id FROM signal WHERE id = %s", (sid,))
    with db.connect() as conn:
        conn.execute(FEES_2PCT, (market,))
    res = mpx("intents", "create", "--signal", str(sid), "--format", "json", **live_env(wallet, clob))
    assert res.code == 0, res.stderr
    iid = int(json.loads(res.stdout)[0]["id"])
    yes, no = row(db, iid)["legs"]
    clob.set_book(yes["token_id"], [("0.48", "250"), ("0.50", "500")], [("0.47", "300")])
    clob.set_book(no["token_id"], [("0.49", "220"), ("0.52", "500")], [("0.46", "300")])
    return {"id": iid, "yes": yes, "no": no, "market": market}


def row(db: TestDb, intent_id: int) -> dict[str, Any]:
    with db.connect() as conn:
        cur = conn.execute("SELECT * FROM order_intent WHERE id = %s", (intent_id,))
        cols = [d.name for d in cur.description or []]
        r = cur.fetchone()
        assert r is not None
        return dict(zip(cols, r, strict=True))


def events(db: TestDb, intent_id: int) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [{"to": r[0], "reason": r[1], "details": r[2]} for r in conn.execute(
            "SELECT to_status, reason, details FROM order_intent_event WHERE intent_id = %s ORDER BY id",
            (intent_id,))]


def stored_text(db: TestDb) -> list[str]:
    with db.connect() as conn:
        out = [str(r) for r in conn.execute("SELECT text FROM alert_outbox")]
        out += [str(r) for r in conn.execute("SELECT reason, details::text FROM order_intent_event")]
        out += [str(r) for r in conn.execute("SELECT reason, details::text FROM risk_event")]
        out += [str(r) for r in conn.execute("SELECT to_jsonb(i)::text FROM order_intent i")]
        out += [str(r) for r in conn.execute("SELECT to_jsonb(j)::text FROM job_run j")]
    return out


def assert_no_secret(wallet: dict[str, str], texts: list[str]) -> None:
    for secret in (wallet["key"], wallet["secret"], wallet["passphrase"]):
        assert not any(secret in t for t in texts), "a secret leaked"


def test_live_intent_whose_legs_all_fill_records_orders_fees_and_hashes_and_leaks_no_secret(
        db: TestDb, binary: dict[str, Any], mpx: Mpx, clob: ClobV2StandIn, wallet: dict[str, str],
        logs: Collect) -> None:
    env = live_env(wallet, clob)
    res = mpx("intents", "confirm", str(binary["id"]), **env)
    assert res.code == 0, res.stderr
    assert f"intent {binary['id']}: filled" in res.stdout
    r = row(db, binary["id"])
    assert r["status"] == "filled" and r["mode"] == "live"
    # NO 100 @ 0.49 (fee 100 × 0.02 × 0.49 × 0.51 = 0.4998) + YES 100 @ 0.48 (fee 0.4992)
    assert r["filled_cost"] == Decimal("97.99900")
    # what the stand-in received: two FOK BUYs, signed for the wallet, NO first
    assert [(p["orderType"], p["order"]["side"], p["order"]["tokenId"]) for p in clob.received] == [
        ("FOK", "BUY", binary["no"]["token_id"]), ("FOK", "BUY", binary["yes"]["token_id"])]
    assert all(p["order"]["signer"] == wallet["address"] for p in clob.received)
    filled = events(db, binary["id"])[-1]
    assert filled["to"] == "filled"
    orders = filled["details"]["venue_orders"]
    assert [(o["side"], o["type"], o["status"], o["filled"], o["fee"]) for o in orders] == [
        ("BUY", "FOK", "matched", "100", "0.49980"), ("BUY", "FOK", "matched", "100", "0.49920")]
    assert all(o["order_id"] in clob.orders and len(o["transaction_hashes"]) == 1 for o in orders)
    assert {o["transaction_hashes"][0] for o in orders} == {t["transaction_hash"] for t in clob.trades.values()}

    # reconcile: nothing open, nothing to repair
    rec = mpx("intents", "reconcile", **env)
    assert rec.code == 0, rec.stderr
    assert "nothing to repair" in rec.stdout
    shown = mpx("config", "show", **env)
    assert shown.code == 0
    assert_no_secret(wallet, [res.stdout, res.stderr, rec.stdout, rec.stderr, shown.stdout, shown.stderr,
                              *logs.lines, *stored_text(db)])
    assert logs.lines  # the session did log (DEBUG): the check above had something to check


def test_second_leg_killed_unwinds_the_first_with_a_fak_sell_and_trips_the_breaker(
        db: TestDb, binary: dict[str, Any], mpx: Mpx, clob: ClobV2StandIn, wallet: dict[str, str],
        logs: Collect) -> None:
    # after the first order (NO fills), the YES book thins: 50 @ 0.48 then 0.51 → YES FOK killed.
    clob.thin_after(1, binary["yes"]["token_id"], [("0.48", "50"), ("0.51", "500")])
    res = mpx("intents", "confirm", str(binary["id"]), **live_env(wallet, clob))
    assert res.code == 1 and f"intent {binary['id']} unwound" in res.stderr, res.stderr
    r = row(db, binary["id"])
    # as on paper: cost 49.4998, sold 100 @ 0.46 = 46.00 − fee 0.4968 → loss 3.9966 (cap 5)
    assert r["status"] == "unwound" and r["pnl"] == Decimal("-3.99660")
    assert [(p["orderType"], p["order"]["side"]) for p in clob.received] == [
        ("FOK", "BUY"), ("FOK", "BUY"), ("FAK", "SELL")]
    ev = events(db, binary["id"])
    assert [e["to"] for e in ev] == ["suggested", "sent", "unwinding", "unwound"]
    orders = ev[2]["details"]["venue_orders"]
    assert [(o["side"], o["type"], o["status"]) for o in orders] == [
        ("BUY", "FOK", "matched"), ("BUY", "FOK", "killed"), ("SELL", "FAK", "matched")]
    assert orders[2]["fee"] == "0.49680" and orders[2]["price"] == "0.45"
    assert db.scalar("SELECT breaker FROM risk_state") == "open"
    text = db.scalar("SELECT text FROM alert_outbox WHERE intent_id = %s", (binary["id"],))
    assert str(text).startswith(f"intent {binary['id']} UNWOUND (live)")
    assert_no_secret(wallet, [res.stdout, res.stderr, *logs.lines, *stored_text(db)])


def test_a_fill_we_never_heard_of_is_found_by_reconcile(
        db: TestDb, binary: dict[str, Any], mpx: Mpx, clob: ClobV2StandIn, wallet: dict[str, str],
        logs: Collect) -> None:
    env = live_env(wallet, clob)
    clob.timeout_after_accept(1.5)  # NO (first) fills at the CLOB; its answer comes after we gave up
    res = mpx("intents", "confirm", str(binary["id"]), **env)
    assert res.code == 1, res.stderr  # failed: nothing bought, as far as we know
    r = row(db, binary["id"])
    assert r["status"] == "failed"
    assert len(clob.received) == 1  # YES never sent
    [order] = events(db, binary["id"])[-1]["details"]["venue_orders"]
    assert order["status"] == "unknown" and order["order_id"] in clob.orders

    rec = mpx("intents", "reconcile", "--format", "json", **env)
    assert rec.code == 0, rec.stderr
    [finding] = json.loads(rec.stdout)
    assert finding["intent_id"] == binary["id"] and finding["status"] == "matched"
    r = row(db, binary["id"])
    assert r["status"] == "unwinding" and r["filled_cost"] == Decimal("49.49980")
    assert r["unwind"]["positions"][0]["bought"] == "100" and r["unwind"]["positions"][0]["label"] == "No"
    ev = events(db, binary["id"])
    assert [e["to"] for e in ev] == ["suggested", "sent", "failed", "unwinding"]
    [fixed] = ev[-1]["details"]["reconciled_orders"]
    assert fixed["transaction_hashes"] and fixed["fee"] == "0.49980"
    assert db.scalar("SELECT breaker FROM risk_state") == "open"
    alert = str(db.scalar("SELECT text FROM alert_outbox WHERE intent_id = %s", (binary["id"],)))
    assert db.scalar("SELECT level FROM alert_outbox WHERE intent_id = %s", (binary["id"],)) == "P1"
    assert alert.startswith(f"intent {binary['id']} RECONCILE") and "a fill we never heard of" in alert

    # a second pass finds nothing more; the naked shares are sold back as any unwind
    again = mpx("intents", "reconcile", **env)
    assert again.code == 0 and "nothing to repair" in again.stdout
    unwound = mpx("intents", "unwind", str(binary["id"]), **env)
    assert unwound.code == 0, unwound.stderr
    assert row(db, binary["id"])["status"] == "unwound"
    assert_no_secret(wallet, [res.stderr, rec.stderr, unwound.stderr, *logs.lines, *stored_text(db)])


def test_a_key_file_others_can_read_is_refused(db: TestDb, binary: dict[str, Any], mpx: Mpx, clob: ClobV2StandIn,
                                              wallet: dict[str, str]) -> None:
    os.chmod(wallet["file"], 0o644)
    res = mpx("intents", "confirm", str(binary["id"]), **live_env(wallet, clob))
    assert res.code == 78
    assert f"chmod 600 {wallet['file']}" in res.stderr and "0644" in res.stderr
    assert row(db, binary["id"])["status"] == "suggested" and clob.received == []
    assert_no_secret(wallet, [res.stdout, res.stderr])


def test_the_clob_balance_is_checked_before_anything_is_sent(
        db: TestDb, binary: dict[str, Any], mpx: Mpx, clob: ClobV2StandIn, wallet: dict[str, str]) -> None:
    # the set costs 97.00 + fees 0.999 (worst case reserved ≈ 98); the wallet holds 50.00 pUSD
    clob.balance = Decimal(50)
    res = mpx("intents", "confirm", str(binary["id"]), **live_env(wallet, clob))
    assert res.code == 1, res.stdout + res.stderr
    assert "collateral" in res.stdout + res.stderr
    assert row(db, binary["id"])["status"] == "rejected"
    assert clob.received == []  # no order left the machine


def test_canary_the_first_live_intent_of_the_day_goes_to_the_clob_at_the_minimum_order_size(
        db: TestDb, binary: dict[str, Any], mpx: Mpx, clob: ClobV2StandIn, wallet: dict[str, str]) -> None:
    env = {**live_env(wallet, clob), "EXEC_CANARY": "true", "EXEC_MAX_CONCURRENT_ORDERS": "10",
           "EXEC_RULE_MAX_OPEN_INTENTS": "10"}
    minimum = Decimal(str(db.scalar("SELECT min_order_size FROM market WHERE id = %s", (binary["market"],))))
    assert 0 < minimum < 100
    res = mpx("intents", "confirm", str(binary["id"]), **env)
    assert res.code == 0, res.stderr
    r = row(db, binary["id"])
    assert r["status"] == "filled" and r["canary"] is True and r["shares"] == minimum
    # the CLOB received both FOK BUYs at the minimum size (takerAmount: shares in 10⁻⁶ units)
    assert [(p["order"]["side"], Decimal(p["order"]["takerAmount"]) / 10**6) for p in clob.received] == [
        ("BUY", minimum), ("BUY", minimum)]
    sent = next(e for e in events(db, binary["id"]) if e["to"] == "sent")
    assert sent["reason"].startswith("canary (first live intent of ") and sent["details"]["canary"] is True
    filled = events(db, binary["id"])[-1]["details"]["venue_orders"]
    assert [Decimal(o["filled"]) for o in filled] == [minimum, minimum]

    # the second live intent of the day (another signal of the same set): the full size
    with db.connect() as conn:
        sig = conn.execute(
            """INSERT INTO signal (ts, rule_id, rule_type, level, finding_class, market_id, group_key, message,
                                   edge_score, estimated_edge_bps, executable_shares, executable_notional, measure,
                                   measure_value, payout_per_share, payload, signature)
               SELECT ts, rule_id, rule_type, level, finding_class, market_id, group_key, message, edge_score,
                      estimated_edge_bps, executable_shares, executable_notional, measure, measure_value,
                      payout_per_share, payload, signature || '-2'
               FROM signal WHERE id = (SELECT signal_id FROM order_intent WHERE id = %s) RETURNING id""",
            (binary["id"],)).fetchone()
    assert sig is not None
    created = mpx("intents", "create", "--signal", str(sig[0]), "--format", "json", **env)
    assert created.code == 0, created.stderr
    second = int(json.loads(created.stdout)[0]["id"])
    res = mpx("intents", "confirm", str(second), **env)
    assert res.code == 0, res.stderr
    r = row(db, second)
    assert r["status"] == "filled" and r["canary"] is False and r["shares"] == Decimal(100)
    assert [(p["order"]["side"], Decimal(p["order"]["takerAmount"]) / 10**6) for p in clob.received[2:]] == [
        ("BUY", Decimal(100)), ("BUY", Decimal(100))]


class Died(BaseException):
    """The confirm's process dies (kill -9, OOM, a reboot): nothing after this point runs."""


def die_during_confirm(monkeypatch: pytest.MonkeyPatch, *, after_first_order: bool) -> None:
    """The live venue's first leg: the process dies right after the CLOB accepted the order (its fill
    never recorded), or right before it is sent."""
    from mpx.adapters.execution.live import LiveVenue

    real = LiveVenue.buy_fok

    def buy_fok(self: LiveVenue, *args: Any) -> Any:
        if after_first_order:
            real(self, *args)
        raise Died()

    monkeypatch.setattr(LiveVenue, "buy_fok", buy_fok)


def backdate(db: TestDb, intent_id: int, minutes: int) -> None:
    with db.connect() as conn:
        conn.execute("""UPDATE order_intent SET confirmed_at = confirmed_at - make_interval(mins => %s),
                        updated_at = updated_at - make_interval(mins => %s) WHERE id = %s""",
                     (minutes, minutes, intent_id))


def test_an_intent_stuck_in_sent_whose_first_leg_filled_is_found_by_its_trades(
        db: TestDb, binary: dict[str, Any], mpx: Mpx, clob: ClobV2StandIn, wallet: dict[str, str],
        logs: Collect, monkeypatch: pytest.MonkeyPatch) -> None:
    env = live_env(wallet, clob)
    with monkeypatch.context() as m, pytest.raises(Died):
        die_during_confirm(m, after_first_order=True)
        mpx("intents", "confirm", str(binary["id"]), **env)
    assert row(db, binary["id"])["status"] == "sent" and len(clob.received) == 1  # NO bought, never recorded
    assert len(clob.trades) == 1

    # within the grace (EXEC_RECONCILE_GRACE, 5 minutes by default) the confirm may still be running
    young = mpx("intents", "reconcile", **env)
    assert young.code == 0 and "nothing to repair" in young.stdout, young.stderr
    assert row(db, binary["id"])["status"] == "sent"
    backdate(db, binary["id"], 10)
    assert "nothing to repair" in mpx("intents", "reconcile", **env, EXEC_RECONCILE_GRACE="15m").stdout

    rec = mpx("intents", "reconcile", "--format", "json", **env)
    assert rec.code == 0, rec.stderr
    found = json.loads(rec.stdout)
    assert sorted((f["intent_id"], f["status"], f["note"].split(":")[0]) for f in found) == [
        (binary["id"], "matched", "No"), (binary["id"], "no_trade", "Yes")]
    # the CLOB was asked for each leg's trades on its token since the confirm
    asked = [q for q in clob.trade_queries if "asset_id" in q]
    assert {q["asset_id"] for q in asked} == {binary["no"]["token_id"], binary["yes"]["token_id"]}
    assert all("after" in q for q in asked)
    r = row(db, binary["id"])
    # NO 100 @ 0.49 + fee 0.4998
    assert r["status"] == "unwinding" and r["filled_cost"] == Decimal("49.49980")
    assert [(p["label"], p["bought"]) for p in r["unwind"]["positions"]] == [("No", "100")]
    assert {f["label"]: (f["shares"], f["outcome"]) for f in r["fills"]} == {
        "No": ("100", "filled"), "Yes": ("0", "not_sent")}
    ev = events(db, binary["id"])
    assert [e["to"] for e in ev] == ["suggested", "sent", "unwinding"]
    matched = next(o for o in ev[-1]["details"]["reconciled_orders"] if o["status"] == "matched")
    assert matched["order_id"] in clob.orders and matched["fee"] == "0.49980"
    assert matched["transaction_hashes"] == [t["transaction_hash"] for t in clob.trades.values()]
    assert db.scalar("SELECT breaker FROM risk_state") == "open"
    assert db.scalar("SELECT level FROM alert_outbox WHERE intent_id = %s", (binary["id"],)) == "P1"
    alert = str(db.scalar("SELECT text FROM alert_outbox WHERE intent_id = %s", (binary["id"],)))
    assert alert.startswith(f"intent {binary['id']} RECONCILE") and "UNWINDING (naked)" in alert

    # a second pass finds nothing more; the naked shares are sold back as any unwind
    again = mpx("intents", "reconcile", **env)
    assert again.code == 0 and "nothing to repair" in again.stdout
    unwound = mpx("intents", "unwind", str(binary["id"]), **env)
    assert unwound.code == 0, unwound.stderr
    assert row(db, binary["id"])["status"] == "unwound"
    assert_no_secret(wallet, [rec.stdout, rec.stderr, unwound.stderr, *logs.lines, *stored_text(db)])


def test_an_intent_stuck_in_sent_with_no_trade_is_recorded_as_never_executed(
        db: TestDb, binary: dict[str, Any], mpx: Mpx, clob: ClobV2StandIn, wallet: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    env = live_env(wallet, clob)
    # an earlier intent's trade on the same token, before this confirm: not this intent's
    clob.trades["trade-old"] = {"id": "trade-old", "taker_order_id": "0xold", "asset_id": binary["no"]["token_id"],
                                "side": "BUY", "price": "0.49", "size": "5", "fee": "0", "status": "CONFIRMED",
                                "transaction_hash": "0xabc", "trader_side": "TAKER", "maker_address": wallet["address"],
                                "match_time": "1000"}
    with monkeypatch.context() as m, pytest.raises(Died):
        die_during_confirm(m, after_first_order=False)
        mpx("intents", "confirm", str(binary["id"]), **env)
    assert row(db, binary["id"])["status"] == "sent" and clob.received == []
    backdate(db, binary["id"], 10)
    rec = mpx("intents", "reconcile", "--format", "json", **env)
    assert rec.code == 0, rec.stderr
    assert {f["status"] for f in json.loads(rec.stdout)} == {"no_trade"}
    r = row(db, binary["id"])
    assert r["status"] == "failed" and r["filled_cost"] == 0 and r["reserved_notional"] == 0
    assert "never executed" in r["reason"]
    assert db.scalar("SELECT breaker FROM risk_state") != "open"
    alert = str(db.scalar("SELECT text FROM alert_outbox WHERE intent_id = %s", (binary["id"],)))
    assert "never executed" in alert
    assert db.scalar("SELECT level FROM alert_outbox WHERE intent_id = %s", (binary["id"],)) == "P1"
    assert "nothing to repair" in mpx("intents", "reconcile", **env).stdout
