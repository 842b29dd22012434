"""The three levels of risk (#16) and the canary end to end: real PostgreSQL, the planted universe
of ``test_intents`` (the ``set`` signal: four YES legs of 100 shares at limits 0.27 + 0.31 + 0.22 +
0.15 — a worst case of 95.0000 USDC, minimum order size 5 on every market), the commands in-process,
the paper venue. Every rejection is read back from ``mpx intents show`` and the audit trail."""

# ruff: noqa: F811  (the fixtures `mpx` and `signals` are imported from test_intents and requested by name)
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from test_intents import Mpx, copies, create, events, intent, mpx, signals  # noqa: F401  (fixtures)

from mpx.jobs import intents as jobs
from mpx.jobs.contract import run_job
from mpx.settings import load_settings

from conftest import TestDb

ROOM = {"EXEC_MAX_CONCURRENT_ORDERS": "10", "EXEC_RULE_MAX_OPEN_INTENTS": "10"}
"""Room for several filled intents at once, so only the limit under test binds."""


def confirmed(mpx: Mpx, iid: int, code: int, **env: str) -> str:
    res = mpx("intents", "confirm", str(iid), **{**ROOM, **env})
    assert res.code == code, (res.stdout, res.stderr)
    return res.stdout


def rejected_by(db: TestDb, mpx: Mpx, iid: int, check: str) -> dict[str, Any]:
    """The rejection is visible in the intent's reason, `mpx intents show` and its audit row."""
    row = intent(db, iid)
    assert row["status"] == "rejected" and row["reason"].startswith(f"{check}: "), row["reason"]
    show = mpx("intents", "show", str(iid))
    assert show.code == 0 and f"FAIL {check}:" in show.stdout
    last = events(db, iid)[-1]
    assert last["to"] == "rejected" and last["reason"] == row["reason"]
    assert [c["name"] for c in last["details"]["checks"] if not c["ok"]] == [check]
    listed = json.loads(mpx("intents", "list", "--status", "rejected", "--format", "json").stdout)
    assert any(r["id"] == iid and r["reason"] == row["reason"] for r in listed)
    return row


def test_strategy_level_limits_one_rule_not_the_others(db: TestDb, signals: dict[str, int], mpx: Mpx) -> None:
    first, second = (create(mpx, s) for s in copies(db, signals["set"], 2))
    env = {"EXEC_RULE_MAX_OPEN_INTENTS": "1"}
    assert "filled" in confirmed(mpx, first, 0, **env)
    out = confirmed(mpx, second, 1, **env)
    assert "FAIL rule_open_intents: 1 open + 1 (limit 1)" in out
    row = rejected_by(db, mpx, second, "rule_open_intents")
    assert "rule sum-lt-1" in row["reason"]
    # another rule (DUTCH_BOOK_DETECT) still has its own room
    dutch = create(mpx, signals["dutch"])
    assert "filled" in confirmed(mpx, dutch, 0, **env)


def test_strategy_daily_notional_per_rule(db: TestDb, signals: dict[str, int], mpx: Mpx) -> None:
    first, second = (create(mpx, s) for s in copies(db, signals["set"], 2))
    env = {"EXEC_RULE_MAX_DAILY_NOTIONAL": "150"}
    assert "filled" in confirmed(mpx, first, 0, **env)
    # 95.0000 spent today by sum-lt-1 + 95.0000 = 190.0000 > 150
    out = confirmed(mpx, second, 1, **env)
    assert "FAIL rule_daily_notional: 95.0000 used + 95.0000 = 190.0000 USDC (limit 150 USDC)" in out
    rejected_by(db, mpx, second, "rule_daily_notional")


def test_account_exposure_across_open_positions(db: TestDb, signals: dict[str, int], mpx: Mpx) -> None:
    first, second = (create(mpx, s) for s in copies(db, signals["set"], 2))
    env = {"EXEC_MAX_EXPOSURE": "189.99"}
    assert "filled" in confirmed(mpx, first, 0, **env)
    out = confirmed(mpx, second, 1, **env)
    assert "FAIL exposure: 95.0000 open + 95.0000 = 190.0000 USDC (limit 189.99 USDC)" in out
    rejected_by(db, mpx, second, "exposure")


def test_account_paper_balance(db: TestDb, signals: dict[str, int], mpx: Mpx) -> None:
    first, second = (create(mpx, s) for s in copies(db, signals["set"], 2))
    env = {"EXEC_PAPER_BALANCE": "150"}
    out = confirmed(mpx, first, 0, **env)
    assert "ok   collateral: 150 USDC available = balance 150 − 0 in flight (limit ≥ 95.0000 USDC)" in out
    # the paper wallet after the fill: 150 − 95.0000 held = 55.0000
    out = confirmed(mpx, second, 1, **env)
    assert "FAIL collateral: 55.0000 USDC available = balance 55.0000 − 0 in flight (limit ≥ 95.0000 USDC)" in out
    rejected_by(db, mpx, second, "collateral")


def test_daily_realised_loss_trips_the_breaker_until_the_next_utc_day(db: TestDb, signals: dict[str, int],
                                                                      mpx: Mpx) -> None:
    first, second = (create(mpx, s) for s in copies(db, signals["set"], 2))
    env = {"EXEC_MAX_DAILY_LOSS": "30", "EXEC_BREAKER_MAX_LOSS": "1000"}
    assert "filled" in confirmed(mpx, first, 0, **env)
    assert mpx("intents", "close", str(first), "--pnl", "-30").code == 0
    out = confirmed(mpx, second, 1, **env)
    today = datetime.now(UTC).date()
    assert f"FAIL breaker: open (limit closed) — daily realised loss 30 USDC on {today:%Y-%m-%d} UTC " \
           "(limit EXEC_MAX_DAILY_LOSS=30)" in out
    rejected_by(db, mpx, second, "breaker")
    br = json.loads(mpx("intents", "breaker", "--format", "json").stdout)
    assert br["state"] == "open" and br["daily_loss"].startswith("-30 USDC realised since")
    with db.connect() as conn:
        row = conn.execute("SELECT breaker, open_until FROM risk_state WHERE id = 1").fetchone()
        assert row is not None
        assert row[0] == "open" and row[1] == datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
        assert conn.execute("SELECT action FROM risk_event ORDER BY id DESC LIMIT 1").fetchone() == ("opened",)


def test_canary_first_of_the_day_and_after_a_policy_change(db: TestDb, signals: dict[str, int], mpx: Mpx) -> None:
    ids = [create(mpx, s) for s in copies(db, signals["set"], 5)]
    env = {"EXEC_CANARY": "true"}
    # the first paper intent of the day under this policy: 5 sets (the minimum order size), not 100
    out = confirmed(mpx, ids[0], 0, **env)
    assert "filled" in out
    row = intent(db, ids[0])
    assert row["canary"] is True and row["shares"] == Decimal(5)
    assert row["reserved_notional"] == Decimal("4.75") and row["filled_cost"] == Decimal("4.75")  # 0.95 × 5
    assert [Decimal(f["shares"]) for f in row["fills"]] == [Decimal(5)] * 4
    sent = next(e for e in events(db, ids[0]) if e["to"] == "sent")
    assert sent["reason"].startswith(f"canary (first paper intent of {datetime.now(UTC):%Y-%m-%d} UTC under policy "
                                     f"version {row['policy_version']}): sent at the minimum order size 5")
    assert sent["details"]["canary"] is True and sent["details"]["planned_shares"] == "100.00"
    show = mpx("intents", "show", str(ids[0]))
    assert "canary (first paper intent" in show.stdout
    # the next one: the full size
    confirmed(mpx, ids[1], 0, **env)
    row = intent(db, ids[1])
    assert row["canary"] is False and row["shares"] == Decimal(100) and row["filled_cost"] == Decimal("95.0000")
    # a change of the execution policy (a new version): a canary again, then the full size
    changed = {**env, "EXEC_MAX_UNWIND_LOSS": "4"}
    confirmed(mpx, ids[2], 0, **changed)
    assert intent(db, ids[2])["canary"] is True and intent(db, ids[2])["shares"] == Decimal(5)
    assert intent(db, ids[2])["policy_version"] == row["policy_version"] + 1
    # a new UTC day (yesterday's confirms moved back a day): a canary again
    with db.connect() as conn:
        conn.execute("UPDATE order_intent SET confirmed_at = confirmed_at - interval '1 day'")
    confirmed(mpx, ids[3], 0, **changed)
    assert intent(db, ids[3])["canary"] is True
    confirmed(mpx, ids[4], 0, **changed)
    assert intent(db, ids[4])["canary"] is False
    listed = json.loads(mpx("intents", "list", "--format", "json").stdout)
    assert [r["canary"] for r in sorted(listed, key=lambda r: r["id"])][-5:] == [True, False, True, True, False]


def test_no_canary_by_default(db: TestDb, signals: dict[str, int], mpx: Mpx) -> None:
    iid = create(mpx, signals["set"])
    confirmed(mpx, iid, 0)
    assert intent(db, iid)["canary"] is False and intent(db, iid)["shares"] == Decimal(100)


class NoBalance:
    """A venue whose balance cannot be read (a live CLOB down): the confirm is rejected, nothing sent."""

    name = "flaky"
    sent = 0

    def collateral(self) -> Any:
        raise ConnectionError("GET /balance-allowance: 503")

    def buy_fok(self, *a: Any) -> Any:
        self.sent += 1
        raise AssertionError("nothing may be sent")

    sell = buy_fok

    def best_bid(self, token_id: str) -> None:
        return None


def test_a_venue_that_cannot_report_its_balance_sends_nothing(db: TestDb, signals: dict[str, int], mpx: Mpx,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    iid = create(mpx, signals["set"])
    venue = NoBalance()
    with monkeypatch.context() as m:
        m.setenv("MPX_LOG_LEVEL", "WARNING")
        res = run_job(load_settings(), "intents", lambda ctx: jobs.confirm(ctx, iid, venue=venue), lock=False)
    assert res.outcome == "rejected" and venue.sent == 0
    row = rejected_by(db, mpx, iid, "collateral")
    assert "the venue could not report its balance: ConnectionError: GET /balance-allowance: 503" in row["reason"]


def test_config_show_lists_the_risk_settings(mpx: Mpx) -> None:
    shown = json.loads(mpx("config", "show", "--format", "json").stdout)
    assert {k: shown[k] for k in ("EXEC_RULE_MAX_OPEN_INTENTS", "EXEC_RULE_MAX_DAILY_NOTIONAL", "EXEC_MAX_EXPOSURE",
                                  "EXEC_PAPER_BALANCE", "EXEC_MAX_DAILY_LOSS", "EXEC_CANARY")} == {
        "EXEC_RULE_MAX_OPEN_INTENTS": 3, "EXEC_RULE_MAX_DAILY_NOTIONAL": "1000", "EXEC_MAX_EXPOSURE": "1000",
        "EXEC_PAPER_BALANCE": "10000", "EXEC_MAX_DAILY_LOSS": "50", "EXEC_CANARY": False}
