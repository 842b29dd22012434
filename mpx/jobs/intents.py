"""``mpx intents``: order intents from P1/P2 arbitrage signals, confirmed under risk limits, executed
leg by leg fill-or-kill (paper by default), never leaving a naked leg.

States (every change is a row in ``order_intent_event`` with time, reason, who and the numbers)::

    suggested ──confirm──▶ sent ──▶ filled ──▶ settled (markets resolved) | closed (by hand)
        │                   ├──▶ failed (the first leg sent was killed or refused: nothing bought)
        │                   └──▶ unwinding (a later leg was killed after earlier ones filled)
        │                           ├──▶ unwound (everything sold back within EXEC_MAX_UNWIND_LOSS)
        │                           └── still naked ──`mpx intents unwind`──▶ unwound | unwinding
        │                                           └─ close (sold by hand) / settled (resolved)
        ├──confirm, a check fails──▶ rejected
        └──cancel──▶ cancelled       (a sent paper intent can be cancelled; a live one only once its
                                      venue was checked: --nothing-filled)

A confirm runs in three steps:

1. **check and reserve** — lock the intent's row, then the one ``risk_state`` row; settle what has
   resolved; read the usage (open intents, naked ones, today's notional, realised PnL in the loss
   window); re-price every leg against the latest stored book; run every check. Rejected: record
   it (and count it towards the breaker when the market is at fault). Passed: status ``sent`` with
   the worst-case cost reserved against today (UTC). Commit — the next confirm sees the reservation.
2. **execute**, holding no lock: :func:`mpx.domain.execution.execute` sends the legs fill-or-kill
   through the ``EXEC_MODE`` venue, least depth to spare first, and unwinds what filled if a later
   leg is killed.
3. **record** — ``filled`` (the reservation becomes what was spent), ``failed`` (released), or
   ``unwinding`` → ``unwound`` / still ``unwinding``: the realised loss becomes the intent's PnL
   (counted in the breaker's loss window), the breaker opens (recorded in ``risk_event``) and a P1
   alert is queued in the outbox in the same transaction.

Confirming an intent that is already sent or executed does nothing and says so: it executes once.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

from mpx.adapters.db import intents as db
from mpx.adapters.db.markets import load_markets
from mpx.adapters.db.ticks import books_as_of
from mpx.adapters.execution import BookSource, check_live_venues, venue_for
from mpx.adapters.execution.paper import PaperVenue
from mpx.domain.execution import (
    EXECUTED,
    HELD,
    INTENT_STATUSES,
    Execution,
    IntentStatus,
    LegFill,
    ReportsFunds,
    Unwind,
    Venue,
    execute,
    incident_text,
    send_order,
    settle_positions,
    unwind,
)
from mpx.domain.findings import Arbitrage, FindingError
from mpx.domain.models import ZERO, Book, Market
from mpx.domain.risk import (
    Breaker,
    Funds,
    Plan,
    PlanError,
    PlannedLeg,
    Policy,
    Usage,
    Verdict,
    assess,
    breaker_after,
    breaker_open_until,
    canary_legs,
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
        slippage_bps=s.exec_slippage_bps, min_edge_bps=s.exec_min_edge_bps, max_unwind_loss=s.exec_max_unwind_loss,
        max_book_age=s.exec_max_book_age,
        breaker_max_failures=s.exec_breaker_max_failures, breaker_max_loss=s.exec_breaker_max_loss,
        breaker_window=s.exec_breaker_window, breaker_cooldown=s.exec_breaker_cooldown,
        rule_max_daily_notional=s.exec_rule_max_daily_notional, rule_max_open_intents=s.exec_rule_max_open_intents,
        max_exposure=s.exec_max_exposure, max_daily_loss=s.exec_max_daily_loss, canary=s.exec_canary,
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
    """created | rejected | filled | failed | unwound | unwinding | already | cancelled | closed | …"""
    verdict: Verdict | None = None
    plan: Plan | None = None
    settled: list[dict[str, Any]] = field(default_factory=list)
    execution: Execution | None = None
    unwind: Unwind | None = None


def _set_metrics(ctx: Context[Any]) -> None:
    g = ctx.metrics.gauge("mpx_order_intents_total", "Order intents that entered each status (audit trail)",
                          ("status",))
    for status in INTENT_STATUSES:
        g.labels(status).set(0)
    for name, n in db.status_totals(ctx.conn).items():
        g.labels(name).set(n)


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
    venues = sorted({markets[leg.market_id].venue for leg in plan.legs if leg.market_id in markets})
    check_live_venues(policy.mode, venues)  # exit 78: a live order on a venue without an adapter
    version = db.current_policy(conn, policy)
    values = {
        "signal_id": signal_id, "policy_version": version, "mode": policy.mode, "rule_id": sig["rule_id"],
        "level": sig["level"], "market_ids": sorted({leg.market_id for leg in plan.legs}),
        "legs": [leg.as_dict() for leg in plan.legs], "shares": plan.shares,
        "payout_per_share": plan.payout_per_share, "notional": plan.notional, "max_notional": plan.max_notional,
        "expected_edge_bps": plan.expected_edge_bps, "expected_profit": plan.expected_profit,
        "venues": venues or ["polymarket"],
    }
    reason = f"from {sig['level']} signal {signal_id} ({sig['rule_id']})" + (f"; {plan.note}" if plan.note else "")
    values["reason"] = reason
    intent_id = db.insert_intent(conn, values, actor(), reason)
    if intent_id is None:
        other = db.live_intent_for(conn, signal_id)
        raise IntentError(f"signal {signal_id} already has intent {other['id'] if other else '?'}: "
                          "one live intent per signal") from None
    conn.commit()
    log.info("intent created", extra={"intent": intent_id, "signal": signal_id, "notional": str(plan.notional)})
    intent = db.get_intent(conn, intent_id) or {}
    _set_metrics(ctx)
    return IntentResult(rows=1, intent=intent, outcome="created", plan=plan)


# --- confirm --------------------------------------------------------------------------------


def stored_books(conn: psycopg.Connection) -> BookSource:
    """The paper venue's book source: a token's latest stored book, read when an order is sent."""

    def read(token_id: str) -> Book | None:
        return books_as_of(conn, datetime.now(UTC), [token_id]).get(token_id)

    return read


def confirm(ctx: Context[Any], intent_id: int, *, book_source: BookSource | None = None,
            venue: Venue | None = None) -> IntentResult:
    """Check, reserve, execute, record (see the module docstring). ``book_source`` / ``venue``
    replace the stored books / the ``EXEC_MODE`` venue (tests stage a book that moves between legs)."""
    conn, policy = ctx.conn, policy_from_settings(ctx.settings)
    stored = db.get_intent(conn, intent_id)
    conn.rollback()
    if stored is not None:  # a leg on a venue without a live adapter: exit 78 before anything changes
        check_live_venues(policy.mode, stored.get("venues") or ())
    factory = venue_for(policy.mode, ctx.settings)  # no adapter / no usable key: exit 78 before anything changes

    def make_venue(markets: dict[str, Market], paper_wallet: Decimal) -> Venue:
        if venue is not None:
            return venue
        source = book_source or stored_books(conn)
        if factory is PaperVenue:
            return PaperVenue(markets, source, balance=paper_wallet)
        return factory(markets, source)

    checked = _check_and_reserve(ctx, intent_id, policy, make_venue)
    if isinstance(checked, IntentResult):  # rejected, or confirmed before: nothing to execute
        return checked
    # 2. execute, holding no lock: fill-or-kill leg by leg, unwinding what filled if one is killed
    execution = execute(checked.legs, checked.order, checked.markets, checked.venue, policy.max_unwind_loss)
    conn.rollback()  # the book reads' snapshot: nothing was written
    intent = _record(conn, intent_id, checked.intent, execution, policy, venue_orders(checked.venue))
    log.info("intent executed", extra={"intent": intent_id, "status": execution.status})
    _set_metrics(ctx)
    return IntentResult(rows=1, intent=intent, outcome=execution.status, verdict=checked.verdict,
                        settled=checked.settled, execution=execution, unwind=execution.unwind)


@dataclass
class _Reserved:
    """What step 1 leaves for execution: the intent sent, its legs in sending order, its markets."""

    intent: dict[str, Any]
    legs: list[PlannedLeg]
    order: tuple[int, ...]
    markets: dict[str, Market]
    verdict: Verdict
    settled: list[dict[str, Any]]
    venue: Venue


def _funds(v: Venue) -> tuple[Funds | None, str]:
    """The venue's collateral when it reports one (account level); an error says why it could not."""
    if not isinstance(v, ReportsFunds):
        return None, ""
    try:
        return v.collateral(), ""
    except Exception as exc:  # a venue that cannot tell: the confirm is rejected, nothing sent
        return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _check_and_reserve(ctx: Context[Any], intent_id: int, policy: Policy,
                       make_venue: Callable[[dict[str, Market], Decimal], Venue]) -> _Reserved | IntentResult:
    """Step 1, under the intent's row lock and the risk lock: settle what resolved, read the usage at
    the three levels (amount, strategy, account — the venue's collateral included), size a canary,
    run every check, then either record the rejection or mark the intent sent with its worst case
    reserved; commit."""
    conn, who = ctx.conn, actor()
    intent = db.lock_intent(conn, intent_id)
    if intent is None:
        raise NotFoundError(f"intent {intent_id} not found", hint="`mpx intents list`")
    if intent["status"] != IntentStatus.SUGGESTED:
        conn.rollback()
        if intent["status"] in EXECUTED:
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
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day_since = max(day_start, breaker.loss_since) if breaker.loss_since is not None else day_start
    more = db.risk_usage(conn, str(intent["rule_id"]), now.date(), day_since)
    planned = [PlannedLeg.from_dict(d) for d in intent["legs"]]
    markets = load_markets(conn, [leg.market_id for leg in planned])
    canary = policy.canary and db.canary_due(conn, policy.mode, version, day_start)
    legs = list(canary_legs(planned, markets)) if canary else planned
    canary_note: dict[str, Any] = {}
    if canary:
        canary_note = {"canary": True, "planned_shares": str(min(leg.shares for leg in planned)),
                       "canary_shares": str(min(leg.shares for leg in legs)),
                       "why": f"first {policy.mode} intent of {now:%Y-%m-%d} UTC under policy version {version}"}
    books = books_as_of(conn, now, [leg.token_id for leg in legs])
    # the paper wallet: EXEC_PAPER_BALANCE + realised PnL − what the positions held cost
    v = make_venue(markets, ctx.settings.exec_paper_balance + Decimal(more["realised"]) - Decimal(more["held_cost"]))
    funds, funds_error = _funds(v)
    usage = Usage(open_n, day_notional, window_pnl, db.naked_intents(conn), rule_id=str(intent["rule_id"]),
                  rule_open_intents=int(more["rule_open"]), rule_day_notional=Decimal(more["rule_day"]),
                  exposure=Decimal(more["exposure"]), day_pnl=Decimal(more["day_pnl"]), funds=funds,
                  funds_error=funds_error, in_flight=Decimal(more["in_flight"]))
    verdict = assess(legs, intent["payout_per_share"], markets, books, db.observed_at(conn, books), usage, breaker,
                     policy, now)
    breaker = _apply_breaker_action(conn, breaker, verdict, policy, now, who)
    common = {"verdict": verdict.as_dict(), "policy_version": version, "confirmed_at": now}
    if not verdict.ok:
        reason = ("canary: " if canary else "") + verdict.reason
        db.transition(conn, intent, IntentStatus.REJECTED, reason, who,
                      {"checks": verdict.as_dict()["checks"], **canary_note}, **common)
        _after(conn, breaker, verdict.counts_for_breaker, False, policy, now, who, verdict.reason)
        conn.commit()
        log.warning("intent rejected", extra={"intent": intent_id, "reason": verdict.reason})
        _set_metrics(ctx)
        return IntentResult(rows=1, intent=intent, outcome="rejected", verdict=verdict, settled=settled)
    today = now.date()
    order = send_order(legs, verdict.depths)
    reserve = verdict.worst_cost
    sized: dict[str, Any] = {}
    prefix = ""
    if canary:
        shares = min(leg.shares for leg in legs)
        notional = sum((leg.cost for leg in legs), ZERO)
        sized = {"canary": True, "legs": [leg.as_dict() for leg in legs], "shares": shares, "notional": notional,
                 "max_notional": sum((leg.max_cost for leg in legs), ZERO),
                 "expected_profit": shares * Decimal(intent["payout_per_share"]) - notional}
        prefix = (f"canary ({canary_note['why']}): sent at the minimum order size {shares} instead of "
                  f"{canary_note['planned_shares']}; ")
    db.transition(conn, intent, IntentStatus.SENT,
                  f"{prefix}every check passed; {reserve} USDC reserved against {today} "
                  f"({day_notional + reserve} of {policy.max_daily_notional})",
                  who, {"edge_bps": str(verdict.edge_bps), "worst_cost": str(reserve),
                        "order": [legs[i].label + f" ({legs[i].token_id[:10]}…)" for i in order], **canary_note},
                  reserved_day=today, reserved_notional=reserve, **sized, **common)
    conn.commit()
    return _Reserved(intent, legs, order, markets, verdict, settled, v)


def venue_orders(v: Venue) -> dict[str, Any]:
    """What a live venue says it sent (order ids, statuses, fills, fees, transaction hashes), for the
    audit trail: ``{"venue_orders": [...]}``, or nothing for a venue that keeps no journal (paper)."""
    journal = getattr(v, "journal", None)
    return {"venue_orders": list(journal)} if journal else {}


def _record(conn: psycopg.Connection, intent_id: int, intent: dict[str, Any], execution: Execution,
            policy: Policy, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Step 3, under the locks again: what the venue did — failed (nothing bought), filled, or an unwind
    (breaker tripped, P1 alert) — and the breaker's failure count; commit."""
    who = actor()
    extra = extra or {}
    intent = db.lock_intent(conn, intent_id) or intent
    breaker = db.lock_risk(conn)
    done = datetime.now(UTC)
    fills = [f.as_dict() for f in execution.legs]
    spent = execution.spent
    n_legs = len(execution.legs)
    if execution.status == "failed":
        stop = execution.stopped_at
        why = (f"leg {stop.seq} of {n_legs} ({stop.label}) {stop.outcome}: {stop.note}; nothing bought"
               if stop else "nothing bought")
        db.transition(conn, intent, IntentStatus.FAILED, f"execution failed: {why}", who,
                      {"fills": fills, "order": execution.sent_labels(), **extra},
                      reserved_notional=ZERO, executed_at=done, fills=fills, filled_cost=ZERO)
        _after(conn, breaker, True, False, policy, done, who, f"execution failed: {why}")
    elif execution.status == "filled":
        filled = sum((f.shares for f in execution.legs), ZERO)
        db.transition(conn, intent, IntentStatus.FILLED,
                      f"{execution.venue}: {filled} shares over {len(fills)} leg(s), each fill-or-kill, "
                      f"{spent} USDC incl. fees",
                      who, {"fills": fills, "order": execution.sent_labels(), **extra}, fills=fills, filled_cost=spent,
                      reserved_notional=spent, executed_at=done)
        _after(conn, breaker, False, True, policy, done, who, "")
    else:
        assert execution.unwind is not None
        stop = execution.stopped_at
        bought = "; ".join(f"{p.bought} {p.label}" for p in execution.unwind.positions)
        db.transition(conn, intent, IntentStatus.UNWINDING,
                      f"leg {stop.seq if stop else '?'} of {n_legs} ({stop.label if stop else '?'}) "
                      f"{stop.outcome if stop else 'failed'} after {bought} filled: selling back", who,
                      {"fills": fills, "order": execution.sent_labels(),
                       "stopped_at": stop.as_dict() if stop else None, **extra},
                      fills=fills, filled_cost=spent, reserved_notional=spent, executed_at=done)
        _record_unwind(conn, intent, execution.unwind, who, done)
        _trip_breaker(conn, breaker, intent, execution.unwind, policy, done, who, execution.legs)
    conn.commit()
    return intent


def _record_unwind(conn: psycopg.Connection, intent: dict[str, Any], u: Unwind, who: str, now: datetime,
                   extra: dict[str, Any] | None = None) -> None:
    """The end of an unwind attempt: ``unwound`` with the realised loss as the intent's PnL (closed:
    it counts in the breaker's loss window), or still ``unwinding`` with what is held."""
    sells = [s.as_dict() for s in u.sells if s.attempt == u.attempts]
    details = {"attempt": u.attempts, "unwind_sells": sells, "max_loss": str(u.max_loss),
               "spent": str(u.spent), "recovered": str(u.recovered), **(extra or {})}
    loss = u.realised_loss
    if loss is not None:
        db.transition(conn, intent, IntentStatus.UNWOUND,
                      f"sold back every share: realised loss {loss} USDC = cost {u.spent} − proceeds {u.recovered} "
                      f"(fees included; cap {u.max_loss})", who,
                      {**details, "realised_loss": str(loss)}, unwind=u.as_dict(), pnl=-loss, closed_at=now)
    else:
        held = "; ".join(f"{p.held} {p.label} ({p.token_id[:10]}…)" for p in u.naked)
        db.transition(conn, intent, IntentStatus.UNWINDING,
                      f"naked: {held} still held — could not sell within a loss of {u.max_loss} USDC "
                      f"(attempt {u.attempts}); `mpx intents unwind {intent['id']}`", who,
                      {**details, "naked": [p.as_dict() for p in u.naked]}, unwind=u.as_dict())


def _trip_breaker(conn: psycopg.Connection, b: Breaker, intent: dict[str, Any], u: Unwind, policy: Policy,
                  now: datetime, who: str, legs: tuple[LegFill, ...]) -> None:
    """A leg killed after others filled: open the breaker, record why, queue the P1 alert."""
    iid = int(intent["id"])
    loss = u.realised_loss
    why = (f"intent {iid} unwound after a leg was killed: realised loss {loss} USDC" if loss is not None else
           f"intent {iid} unwinding: naked position " + "; ".join(f"{p.held} {p.label}" for p in u.naked))
    until = now + policy.breaker_cooldown
    db.save_breaker(conn, Breaker("open", now, until, why, b.consecutive_failures + 1, b.loss_since))
    db.record_risk_event(conn, "opened", why, who, {
        "intent_id": iid, "status": intent["status"], "realised_loss": None if loss is None else str(loss),
        "naked": [p.as_dict() for p in u.naked]})
    log.warning("circuit breaker opened", extra={"reason": why})
    note = (f"Circuit breaker opened until {until:%Y-%m-%d %H:%M:%S}Z"
            + ("." if loss is not None else ", and held open while the position is naked."))
    db.enqueue_execution_alert(conn, iid, "P1", f"intent:{iid}:{intent['status']}",
                               incident_text(iid, str(intent["mode"]), legs, u, note))


def _apply_breaker_action(conn: psycopg.Connection, b: Breaker, verdict: Verdict, policy: Policy, now: datetime,
                          who: str) -> Breaker:
    if verdict.breaker_action == "close":
        b = Breaker("closed", None, None, None, 0, b.loss_since)
        db.save_breaker(conn, b)
        db.record_risk_event(conn, "closed", verdict.breaker_reason or "cooldown elapsed", who)
    elif verdict.breaker_action == "open":
        until = breaker_open_until(verdict.breaker_reason, policy, now)
        b = Breaker("open", now, until, verdict.breaker_reason, b.consecutive_failures, b.loss_since)
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
    """Settle every intent holding shares (filled, or unwinding) whose held outcomes have all
    resolved (caller holds the risk lock or accepts that a confirm may not yet see these as closed)."""
    out = []
    for intent in db.open_intents(conn):
        if intent["status"] == IntentStatus.UNWINDING and intent.get("unwind"):
            positions = Unwind.from_dict(intent["unwind"]).positions
            prices = db.settle_prices(conn, [p.token_id for p in positions if p.held > 0])
            pnl = settle_positions(positions, prices)
        else:
            fills = [f for f in intent["fills"] or [] if Decimal(f["shares"]) > 0]
            prices = db.settle_prices(conn, [f["token_id"] for f in fills])
            pnl = settle_pnl(fills, prices)
        if pnl is None:
            continue
        locked = db.lock_intent(conn, intent["id"], skip_locked=True)  # busy elsewhere: settle it next time
        if locked is None or locked["status"] != intent["status"]:
            continue
        db.transition(conn, locked, IntentStatus.SETTLED, f"markets resolved: PnL {pnl} USDC", who,
                      {"settle_prices": {t: str(p) for t, p in prices.items()}}, closed_at=now, pnl=pnl)
        out.append(locked)
    return out


def settle(ctx: Context[Any]) -> IntentResult:
    db.lock_risk(ctx.conn)
    settled = _settle(ctx.conn, actor(), datetime.now(UTC))
    ctx.conn.commit()
    _set_metrics(ctx)
    return IntentResult(rows=len(settled), outcome="settled", settled=settled)


def cancel(ctx: Context[Any], intent_id: int, reason: str, *, nothing_filled: bool = False) -> IntentResult:
    """Cancel a suggested intent, or a sent one whose confirm never recorded its fills. On paper a
    sent intent filled nothing real, so its reservation is released; an intent sent to a live venue
    may hold shares there, so it is released only when the trader says the venue shows no fill
    (``nothing_filled``, recorded)."""
    conn = ctx.conn
    intent = db.lock_intent(conn, intent_id)
    if intent is None:
        raise NotFoundError(f"intent {intent_id} not found", hint="`mpx intents list`")
    if intent["status"] == IntentStatus.SUGGESTED:
        db.transition(conn, intent, IntentStatus.CANCELLED, reason, actor())
    elif intent["status"] == IntentStatus.SENT and (intent["mode"] == "paper" or nothing_filled):
        # a confirm that died between reserving and recording (the database went away)
        note = ("paper: nothing real was filled" if intent["mode"] == "paper" else
                f"{intent['mode']}: the trader checked the venue and nothing filled")
        db.transition(conn, intent, IntentStatus.CANCELLED, f"{reason} (was sent; {note}; reservation released)",
                      actor(),
                      {"was": "sent", "mode": intent["mode"], "nothing_filled_confirmed": nothing_filled},
                      reserved_notional=ZERO)
    elif intent["status"] == IntentStatus.SENT:
        conn.rollback()
        raise IntentError(
            f"intent {intent_id} was sent to the {intent['mode']} venue and its fills were never recorded: legs may "
            "have filled there, so cancelling would release a live position's reservation",
            hint=f"check the venue: if nothing filled, `mpx intents cancel {intent_id} --nothing-filled`; if legs "
                 f"filled, sell them and `mpx intents close {intent_id} --pnl X`")
    else:
        conn.rollback()
        hint = {"filled": "a filled intent is a position: `mpx intents close` it",
                "partially_filled": "a filled intent is a position: `mpx intents close` it",
                "unwinding": f"it holds naked shares: `mpx intents unwind {intent_id}`, or sell them and "
                             f"`mpx intents close {intent_id} --pnl X`"}.get(intent["status"])
        raise IntentError(f"intent {intent_id} is {intent['status']}: only a suggested or sent intent can be "
                          "cancelled", hint=hint)
    conn.commit()
    _set_metrics(ctx)
    return IntentResult(rows=1, intent=intent, outcome="cancelled")


CLOSABLE = HELD


def close(ctx: Context[Any], intent_id: int, reason: str, pnl: Decimal | None) -> IntentResult:
    """A position closed outside mpx (sold, or settled by hand) — also a naked ``unwinding`` one, or a
    live intent stuck in ``sent`` whose legs filled: it stops counting as open; its PnL, when given,
    counts towards the breaker's loss limit."""
    conn = ctx.conn
    intent = db.lock_intent(conn, intent_id)
    if intent is None:
        raise NotFoundError(f"intent {intent_id} not found", hint="`mpx intents list`")
    if intent["status"] not in CLOSABLE and not (intent["status"] == IntentStatus.SENT and intent["mode"] != "paper"):
        conn.rollback()
        raise IntentError(f"intent {intent_id} is {intent['status']}: only a filled, partially filled or unwinding "
                          "intent (or a live one stuck in sent) can be closed")
    db.lock_risk(conn)
    db.transition(conn, intent, IntentStatus.CLOSED, reason + ("" if pnl is None else f"; PnL {pnl} USDC"), actor(),
                  closed_at=datetime.now(UTC), pnl=pnl)
    conn.commit()
    _set_metrics(ctx)
    return IntentResult(rows=1, intent=intent, outcome="closed")


def unwind_intent(ctx: Context[Any], intent_id: int, max_loss: Decimal | None = None, *,
                  book_source: BookSource | None = None, venue: Venue | None = None) -> IntentResult:
    """Another attempt to sell back an ``unwinding`` intent's shares: at the best bid and down, never
    below the floor that keeps the whole unwind's realised loss (every attempt included) within
    ``max_loss`` (default ``EXEC_MAX_UNWIND_LOSS``). Holds the intent's row lock throughout, so two
    attempts never sell the same shares."""
    conn, policy, who = ctx.conn, policy_from_settings(ctx.settings), actor()
    cap = policy.max_unwind_loss if max_loss is None else max_loss
    if cap <= 0:
        raise IntentError(f"--max-loss must be above 0 USDC, not {cap}")
    intent = db.lock_intent(conn, intent_id)
    if intent is None:
        raise NotFoundError(f"intent {intent_id} not found", hint="`mpx intents list --status unwinding`")
    if intent["status"] != IntentStatus.UNWINDING or not intent.get("unwind"):
        conn.rollback()
        raise IntentError(f"intent {intent_id} is {intent['status']}: only an unwinding intent holds shares to sell "
                          "back")
    factory = venue_for(str(intent["mode"]), ctx.settings)
    before = Unwind.from_dict(intent["unwind"])
    markets = load_markets(conn, [p.market_id for p in before.positions])
    v = venue or factory(markets, book_source or stored_books(conn))
    u = unwind(before.positions, markets, v, cap, attempt=before.attempts + 1, history=before.sells)
    _record_unwind(conn, intent, u, who, datetime.now(UTC), venue_orders(v))
    conn.commit()
    log.info("unwind attempt", extra={"intent": intent_id, "status": intent["status"]})
    _set_metrics(ctx)
    return IntentResult(rows=1, intent=intent, outcome=str(intent["status"]), unwind=u)


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
    naked = db.naked_intents(conn)
    if naked:
        state = "open: naked position (unwinding intents) — nothing executes until they end"
    elif state == "open" and b.open_until is None:
        state = "open: tripped by hand — nothing executes until `mpx intents breaker --reset`"
    elif state == "open" and b.open_until is not None and now >= b.open_until:
        state = "open (cooldown elapsed: closes at the next confirm)"
    return {
        "state": state, "reason": b.reason, "opened_at": b.opened_at, "open_until": b.open_until,
        "consecutive_failures": f"{b.consecutive_failures} of {policy.breaker_max_failures}",
        "window_pnl": f"{pnl} USDC since {since:%Y-%m-%d %H:%M:%S}Z (opens at -{policy.breaker_max_loss})",
        "open_intents": f"{open_n} of {policy.max_concurrent_orders}",
        "unwinding": ", ".join(str(i) for i in naked) or "none",
        "daily_notional": f"{day} of {policy.max_daily_notional} USDC ({now.date()} UTC)",
        "daily_loss": _daily_loss_line(conn, policy, b, now),
        "recent": db.risk_events(conn, 5),
    }


def _daily_loss_line(conn: psycopg.Connection, policy: Policy, b: Breaker, now: datetime) -> str:
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    since = max(day_start, b.loss_since) if b.loss_since is not None else day_start
    day_pnl = Decimal(db.risk_usage(conn, "", now.date(), since)["day_pnl"])
    return (f"{day_pnl} USDC realised since {since:%Y-%m-%d %H:%M:%S}Z (opens until the next UTC day at "
            f"-{policy.max_daily_loss})")


def trip_breaker(conn: psycopg.Connection, reason: str) -> None:
    """Open the breaker by hand, with no cooldown: nothing executes until ``--reset`` (the kill switch)."""
    b = db.lock_risk(conn)
    now = datetime.now(UTC)
    db.save_breaker(conn, Breaker("open", now, None, reason, b.consecutive_failures, b.loss_since))
    db.record_risk_event(conn, "opened", reason, actor(), {"was": b.state, "by_hand": True})
    conn.commit()


def reset_breaker(conn: psycopg.Connection, reason: str) -> None:
    b = db.lock_risk(conn)
    now = datetime.now(UTC)
    db.save_breaker(conn, Breaker("closed", None, None, None, 0, now))
    db.record_risk_event(conn, "reset", reason, actor(), {"was": b.state, "reason": b.reason,
                                                          "consecutive_failures": b.consecutive_failures})
    conn.commit()
