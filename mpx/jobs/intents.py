"""``mpx intents``: order intents from P1/P2 signals, confirmed under risk limits, executed on paper.

States (every change is a row in ``order_intent_event`` with time, reason and who)::

    suggested ──confirm──▶ sent ──▶ filled | partially_filled ──▶ settled (markets resolved)
        │                   │  └──▶ failed (the venue raised: nothing spent)     └▶ closed (by hand)
        │                   └──cancel──▶ cancelled
        ├──confirm, a check fails──▶ rejected
        └──cancel──▶ cancelled

A confirm runs in three steps:

1. **check and reserve** — lock the intent's row, then the one ``risk_state`` row; settle what has
   resolved; read the usage (open intents, today's notional, realised PnL in the loss window);
   re-price every leg against the latest stored book; run every check. Rejected: record it (and
   count it towards the breaker when the market is at fault). Passed: status ``sent`` with
   ``max_notional`` reserved against today (UTC). Commit — the next confirm sees the reservation.
2. **execute** through the ``EXEC_MODE`` adapter, holding no lock.
3. **record** the fills: ``filled`` / ``partially_filled`` (the reservation becomes what was spent)
   or ``failed`` (released); the breaker's failure count is reset or advanced.

Confirming an intent that is already sent or executed does nothing and says so: it executes once.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import psycopg.errors

from mpx.adapters.db import intents as db
from mpx.adapters.db.markets import load_markets
from mpx.adapters.db.ticks import books_as_of
from mpx.adapters.execution import adapter_for
from mpx.domain.findings import Arbitrage, FindingError
from mpx.domain.models import ZERO
from mpx.domain.risk import (
    Breaker,
    Plan,
    PlanError,
    PlannedLeg,
    Policy,
    Usage,
    Verdict,
    assess,
    breaker_after,
    plan_intent,
    settle_pnl,
)
from mpx.errors import MpxError, NotFoundError
from mpx.jobs.contract import Context, JobResult
from mpx.log import get_logger
from mpx.settings import Settings

log = get_logger(__name__)


def policy_from_settings(s: Settings) -> Policy:
    return Policy(
        mode=s.exec_mode, max_notional_per_order=s.exec_max_notional_per_order,
        max_concurrent_orders=s.exec_max_concurrent_orders, max_daily_notional=s.exec_max_daily_notional,
        slippage_bps=s.exec_slippage_bps, min_edge_bps=s.exec_min_edge_bps, max_book_age=s.exec_max_book_age,
        breaker_max_failures=s.exec_breaker_max_failures, breaker_max_loss=s.exec_breaker_max_loss,
        breaker_window=s.exec_breaker_window, breaker_cooldown=s.exec_breaker_cooldown,
    )


def actor() -> str:
    """Who made a change, for the audit trail: OS user @ host."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry (containers)
        user = "?"
    return f"{user}@{socket.gethostname()}"


class IntentError(MpxError):
    """An intent command that cannot be done (exit 1): the message says why."""


@dataclass
class IntentResult(JobResult):
    intent: dict[str, Any] = field(default_factory=dict)
    outcome: str = ""
    """created | rejected | filled | partially_filled | failed | already | cancelled | closed | …"""
    verdict: Verdict | None = None
    plan: Plan | None = None
    settled: list[dict[str, Any]] = field(default_factory=list)


def _set_metrics(ctx: Context[Any]) -> None:
    g = ctx.metrics.gauge("mpx_order_intents_total", "Order intents that entered each status (audit trail)",
                          ("status",))
    for status in ("suggested", "sent", "filled", "partially_filled", "rejected", "cancelled", "failed", "settled",
                   "closed"):
        g.labels(status).set(0)
    for status, n in db.status_totals(ctx.conn).items():
        g.labels(status).set(n)


# --- create ---------------------------------------------------------------------------------


def create(ctx: Context[Any], signal_id: int) -> IntentResult:
    conn, policy = ctx.conn, policy_from_settings(ctx.settings)
    sig = db.get_signal(conn, signal_id)
    if sig is None:
        raise NotFoundError(f"signal {signal_id} not found", hint="`mpx signals` lists them with their ids")
    if sig["finding_class"] != "arbitrage":
        measure = f" ({sig['measure']} {sig['measure_value']})" if sig.get("measure") else ""
        raise IntentError(f"signal {signal_id} ({sig['rule_type']}) is an indicator{measure}, not an arbitrage: only "
                          "legs whose payout is guaranteed in every state of the world can become an order",
                          hint="an indicator is information for a trader; `mpx signals --format json` shows it")
    if sig["level"] not in ("P1", "P2"):
        raise IntentError(f"signal {signal_id} is {sig['level']}: only P1 and P2 signals become order intents")
    existing = db.live_intent_for(conn, signal_id)
    if existing is not None:
        raise IntentError(f"signal {signal_id} already has intent {existing['id']} ({existing['status']}): "
                          "one live intent per signal",
                          hint=f"`mpx intents show {existing['id']}`; cancel it first to start over")
    payload = sig["payload"] if isinstance(sig["payload"], dict) else {}
    try:
        arb = Arbitrage.from_dict(payload.get("arbitrage"))
    except FindingError as exc:
        raise IntentError(f"signal {signal_id} ({sig['rule_type']}): {exc}",
                          hint="signals stored before typed findings carry no payout table; wait for a new one") \
            from None
    markets = load_markets(conn, list(arb.market_ids))
    try:
        plan = plan_intent(arb, markets, policy)
    except PlanError as exc:
        raise IntentError(f"signal {signal_id} ({sig['rule_type']}): {exc}") from None
    version = db.current_policy(conn, policy)
    values = {
        "signal_id": signal_id, "policy_version": version, "mode": policy.mode, "rule_id": sig["rule_id"],
        "level": sig["level"], "market_ids": sorted({leg.market_id for leg in plan.legs}),
        "legs": [leg.as_dict() for leg in plan.legs], "shares": plan.shares,
        "payout_per_share": plan.payout_per_share, "notional": plan.notional, "max_notional": plan.max_notional,
        "expected_edge_bps": plan.expected_edge_bps, "expected_profit": plan.expected_profit,
    }
    reason = f"from {sig['level']} signal {signal_id} ({sig['rule_id']})" + (f"; {plan.note}" if plan.note else "")
    values["reason"] = reason
    try:
        intent_id = db.insert_intent(conn, values, actor(), reason)
    except psycopg.errors.UniqueViolation:
        conn.rollback()
        other = db.live_intent_for(conn, signal_id)
        raise IntentError(f"signal {signal_id} already has intent {other['id'] if other else '?'}: "
                          "one live intent per signal") from None
    conn.commit()
    log.info("intent created", extra={"intent": intent_id, "signal": signal_id, "notional": str(plan.notional)})
    intent = db.get_intent(conn, intent_id) or {}
    _set_metrics(ctx)
    return IntentResult(rows=1, intent=intent, outcome="created", plan=plan)


# --- confirm --------------------------------------------------------------------------------


def confirm(ctx: Context[Any], intent_id: int) -> IntentResult:
    conn, policy, who = ctx.conn, policy_from_settings(ctx.settings), actor()
    adapter = adapter_for(policy.mode)  # EXEC_MODE without an adapter: exit 78 before anything changes

    # 1. check and reserve, under the intent's row lock and the risk lock
    intent = db.lock_intent(conn, intent_id)
    if intent is None:
        raise NotFoundError(f"intent {intent_id} not found", hint="`mpx intents list`")
    if intent["status"] != "suggested":
        conn.rollback()
        if intent["status"] in ("sent", "filled", "partially_filled", "settled", "closed"):
            return IntentResult(intent=intent, outcome="already")
        raise IntentError(f"intent {intent_id} is {intent['status']} ({intent['reason']}): it cannot be confirmed",
                          hint=f"create a new one: `mpx intents create --signal {intent['signal_id']}`")
    version = db.current_policy(conn, policy)
    breaker = db.lock_risk(conn)
    now = datetime.now(UTC)
    settled = _settle(conn, who, now)
    loss_since = now - policy.breaker_window
    if breaker.loss_since is not None and breaker.loss_since > loss_since:
        loss_since = breaker.loss_since
    open_n, day_notional, window_pnl = db.usage(conn, now.date(), loss_since)
    legs = [PlannedLeg.from_dict(d) for d in intent["legs"]]
    markets = load_markets(conn, [leg.market_id for leg in legs])
    books = books_as_of(conn, now, [leg.token_id for leg in legs])
    verdict = assess(legs, intent["payout_per_share"], intent["max_notional"], markets, books,
                     db.observed_at(conn, books), Usage(open_n, day_notional, window_pnl), breaker, policy, now)
    breaker = _apply_breaker_action(conn, breaker, verdict, policy, now, who)
    common = {"verdict": verdict.as_dict(), "policy_version": version, "confirmed_at": now}
    if not verdict.ok:
        db.transition(conn, intent, "rejected", verdict.reason, who, {"checks": verdict.as_dict()["checks"]}, **common)
        _after(conn, breaker, verdict.counts_for_breaker, False, policy, now, who, verdict.reason)
        conn.commit()
        log.warning("intent rejected", extra={"intent": intent_id, "reason": verdict.reason})
        _set_metrics(ctx)
        return IntentResult(rows=1, intent=intent, outcome="rejected", verdict=verdict, settled=settled)
    today = now.date()
    db.transition(conn, intent, "sent",
                  f"every check passed; {intent['max_notional']} USDC reserved against {today} "
                  f"({day_notional + intent['max_notional']} of {policy.max_daily_notional})",
                  who, {"edge_bps": str(verdict.edge_bps)}, reserved_day=today,
                  reserved_notional=intent["max_notional"], **common)
    conn.commit()

    # 2. execute, holding no lock
    try:
        report = adapter.execute(intent_id, legs, markets, books)
        error = None
    except Exception as exc:  # the venue could not be reached: nothing was spent
        report, error = None, f"{type(exc).__name__}: {exc}"

    # 3. record
    intent = db.lock_intent(conn, intent_id) or intent
    breaker = db.lock_risk(conn)
    done = datetime.now(UTC)
    if report is None or report.status == "failed":
        why = error or "nothing filled within the limit prices"
        db.transition(conn, intent, "failed", f"execution failed: {why}", who,
                      {"fills": [f.as_dict() for f in report.fills] if report else []},
                      reserved_notional=ZERO, executed_at=done,
                      fills=[f.as_dict() for f in report.fills] if report else None)
        _after(conn, breaker, True, False, policy, done, who, f"execution failed: {why}")
        outcome = "failed"
    else:
        fills = [f.as_dict() for f in report.fills]
        spent = report.total
        filled = sum((f.shares for f in report.fills), ZERO)
        requested = sum((f.requested for f in report.fills), ZERO)
        db.transition(conn, intent, report.status,
                      f"{report.venue}: {filled} of {requested} shares over {len(fills)} leg(s), "
                      f"{spent} USDC incl. fees",
                      who, {"fills": fills}, fills=fills, filled_cost=spent, reserved_notional=spent, executed_at=done)
        _after(conn, breaker, False, True, policy, done, who, "")
        outcome = report.status
    conn.commit()
    log.info("intent executed", extra={"intent": intent_id, "status": outcome})
    _set_metrics(ctx)
    return IntentResult(rows=1, intent=intent, outcome=outcome, verdict=verdict, settled=settled)


def _apply_breaker_action(conn: psycopg.Connection, b: Breaker, verdict: Verdict, policy: Policy, now: datetime,
                          who: str) -> Breaker:
    if verdict.breaker_action == "close":
        b = Breaker("closed", None, None, None, 0, b.loss_since)
        db.save_breaker(conn, b)
        db.record_risk_event(conn, "closed", verdict.breaker_reason or "cooldown elapsed", who)
    elif verdict.breaker_action == "open":
        b = Breaker("open", now, now + policy.breaker_cooldown, verdict.breaker_reason, b.consecutive_failures,
                    b.loss_since)
        db.save_breaker(conn, b)
        db.record_risk_event(conn, "opened", verdict.breaker_reason, who)
    return b


def _after(conn: psycopg.Connection, b: Breaker, counted: bool, succeeded: bool, policy: Policy, now: datetime,
           who: str, reason: str) -> None:
    new, opened = breaker_after(b, counted, succeeded, policy, now, reason)
    if new != b:
        db.save_breaker(conn, new)
    if opened:
        db.record_risk_event(conn, "opened", opened, who, {"consecutive_failures": new.consecutive_failures})
        log.warning("circuit breaker opened", extra={"reason": opened})


# --- settle, cancel, close ------------------------------------------------------------------


def _settle(conn: psycopg.Connection, who: str, now: datetime) -> list[dict[str, Any]]:
    """Settle every executed intent whose leg outcomes have all resolved (caller holds the risk lock
    or accepts that a confirm may not yet see these as closed)."""
    out = []
    for intent in db.open_intents(conn):
        fills = intent["fills"] or []
        prices = db.settle_prices(conn, [f["token_id"] for f in fills])
        pnl = settle_pnl(fills, prices)
        if pnl is None:
            continue
        locked = db.lock_intent(conn, intent["id"], skip_locked=True)  # busy elsewhere: settle it next time
        if locked is None or locked["status"] not in ("filled", "partially_filled"):
            continue
        db.transition(conn, locked, "settled", f"markets resolved: PnL {pnl} USDC", who,
                      {"settle_prices": {t: str(p) for t, p in prices.items()}}, closed_at=now, pnl=pnl)
        out.append(locked)
    return out


def settle(ctx: Context[Any]) -> IntentResult:
    db.lock_risk(ctx.conn)
    settled = _settle(ctx.conn, actor(), datetime.now(UTC))
    ctx.conn.commit()
    _set_metrics(ctx)
    return IntentResult(rows=len(settled), outcome="settled", settled=settled)


def cancel(ctx: Context[Any], intent_id: int, reason: str) -> IntentResult:
    conn = ctx.conn
    intent = db.lock_intent(conn, intent_id)
    if intent is None:
        raise NotFoundError(f"intent {intent_id} not found", hint="`mpx intents list`")
    if intent["status"] == "suggested":
        db.transition(conn, intent, "cancelled", reason, actor())
    elif intent["status"] == "sent":
        # a confirm that died between reserving and recording (the database went away): on paper
        # nothing was filled; with a live venue, check it first
        db.transition(conn, intent, "cancelled", f"{reason} (was sent; reservation released)", actor(),
                      reserved_notional=ZERO)
    else:
        hint = "a filled intent is a position: `mpx intents close` it" if intent["status"] in (
            "filled", "partially_filled") else None
        raise IntentError(f"intent {intent_id} is {intent['status']}: only a suggested or sent intent can be "
                          "cancelled", hint=hint)
    conn.commit()
    _set_metrics(ctx)
    return IntentResult(rows=1, intent=intent, outcome="cancelled")


def close(ctx: Context[Any], intent_id: int, reason: str, pnl: Decimal | None) -> IntentResult:
    """A position closed outside mpx (sold, or settled by hand): it stops counting as open; its PnL,
    when given, counts towards the breaker's loss limit."""
    conn = ctx.conn
    intent = db.lock_intent(conn, intent_id)
    if intent is None:
        raise NotFoundError(f"intent {intent_id} not found", hint="`mpx intents list`")
    if intent["status"] not in ("filled", "partially_filled"):
        raise IntentError(f"intent {intent_id} is {intent['status']}: only a filled or partially filled intent "
                          "can be closed")
    db.lock_risk(conn)
    db.transition(conn, intent, "closed", reason + ("" if pnl is None else f"; PnL {pnl} USDC"), actor(),
                  closed_at=datetime.now(UTC), pnl=pnl)
    conn.commit()
    _set_metrics(ctx)
    return IntentResult(rows=1, intent=intent, outcome="closed")


# --- the breaker ----------------------------------------------------------------------------


def breaker_report(conn: psycopg.Connection, settings: Settings) -> dict[str, Any]:
    policy = policy_from_settings(settings)
    b = db.read_breaker(conn)
    now = datetime.now(UTC)
    since = now - policy.breaker_window
    if b.loss_since is not None and b.loss_since > since:
        since = b.loss_since
    open_n, day, pnl = db.usage(conn, now.date(), since)
    state: str = b.state
    if state == "open" and b.open_until is not None and now >= b.open_until:
        state = "open (cooldown elapsed: closes at the next confirm)"
    return {
        "state": state, "reason": b.reason, "opened_at": b.opened_at, "open_until": b.open_until,
        "consecutive_failures": f"{b.consecutive_failures} of {policy.breaker_max_failures}",
        "window_pnl": f"{pnl} USDC since {since:%Y-%m-%d %H:%M:%S}Z (opens at -{policy.breaker_max_loss})",
        "open_intents": f"{open_n} of {policy.max_concurrent_orders}",
        "daily_notional": f"{day} of {policy.max_daily_notional} USDC ({now.date()} UTC)",
        "recent": db.risk_events(conn, 5),
    }


def reset_breaker(conn: psycopg.Connection, reason: str) -> None:
    b = db.lock_risk(conn)
    now = datetime.now(UTC)
    db.save_breaker(conn, Breaker("closed", None, None, None, 0, now))
    db.record_risk_event(conn, "reset", reason, actor(), {"was": b.state, "reason": b.reason,
                                                          "consecutive_failures": b.consecutive_failures})
    conn.commit()
