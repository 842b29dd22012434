"""``mpx intents reconcile``: one pass asking the CLOB what became of every order a live intent sent
whose outcome we do not know for sure, and repairing the record.

An order is *open* for reconcile while its last known status (the venue's journal in the audit
trail, or an earlier reconcile) is ``unknown`` (posted, no answer came: it may have executed),
``live`` or ``delayed`` (resting or matching, as the CLOB last said). For each, ``GET /data/order/{id}``
and its trades:

* **a fill we never heard of** (ghost fill): the CLOB matched shares of an order we recorded as
  unknown. A ``failed`` intent (nothing bought, we thought) becomes ``unwinding``: the shares are a
  naked position to sell back (``mpx intents unwind``), the breaker opens and stays open while it is
  naked. On an intent already holding shares the finding is recorded and alerted for a trader.
* **gone**: an order we think is live or unknown that the CLOB does not have, or cancelled with
  nothing matched: it never executed; recorded as such.

An intent still ``sent`` ``EXEC_RECONCILE_GRACE`` after its confirm (a confirm that died after
sending, before recording its orders: no order id to ask about) is looked up by its trades: ``GET
/data/trades`` for each leg's token since the confirm (our taker BUYs, less the trades of orders
another intent recorded), at most the leg's shares:

* **no trade**: nothing executed — the intent becomes ``failed`` (nothing bought, nothing reserved).
* **every leg filled in full**: ``filled`` with the fills found.
* **some shares bought, not the whole set**: ``unwinding`` (naked, breaker open) like a ghost fill.

Every finding is an ``order_intent_event`` (``reconciled_orders``: order id, status, fills, fees,
transaction hashes) and a P1 alert queued in the outbox (flushed by ``mpx alerts flush``). The pass
runs under its own lock (``reconcile``) like every scheduled job (jobs/mpx-reconcile.timer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from mpx.adapters.db import intents as db
from mpx.adapters.db.reconcile import recorded_order_ids, stuck_sent, venue_order_events
from mpx.domain.execution import IntentStatus, Position, Unwind
from mpx.domain.models import ZERO
from mpx.domain.risk import Breaker
from mpx.jobs.contract import Context, JobResult
from mpx.jobs.intents import actor, policy_from_settings
from mpx.log import get_logger

log = get_logger(__name__)

OPEN_ORDER = frozenset({"unknown", "live", "delayed"})
CHECKED_INTENTS = ("sent", "filled", "failed", "unwinding")
"""Live intents whose orders can still surprise us (settled, closed, unwound, rejected, cancelled
intents are past it)."""


class OrderSource(Protocol):
    def order_status(self, order_id: str) -> dict[str, Any] | None: ...

    def trades_since(self, token_id: str, after: datetime) -> list[dict[str, Any]]: ...


@dataclass
class ReconcileResult(JobResult):
    checked: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)


def open_orders(conn: Any) -> dict[int, list[dict[str, Any]]]:
    """Every open order of each live intent (the latest status known per order id)."""
    latest: dict[int, dict[str, dict[str, Any]]] = {}
    for intent_id, details in venue_order_events(conn, CHECKED_INTENTS):
        mine = latest.setdefault(intent_id, {})
        for o in list(details.get("venue_orders") or []) + list(details.get("reconciled_orders") or []):
            if o.get("order_id"):
                mine[str(o["order_id"])] = o
    return {i: [o for o in orders.values() if str(o.get("status")) in OPEN_ORDER]
            for i, orders in latest.items() if any(str(o.get("status")) in OPEN_ORDER for o in orders.values())}


def reconcile(ctx: Context[Any], venue: OrderSource | None = None, *, grace: timedelta | None = None) \
        -> ReconcileResult:
    """One pass. ``venue`` replaces the live venue, ``grace`` ``EXEC_RECONCILE_GRACE`` (tests)."""
    conn = ctx.conn
    todo = open_orders(conn)
    grace = ctx.settings.exec_reconcile_grace if grace is None else grace
    stuck = stuck_sent(conn, datetime.now(UTC) - grace)
    conn.rollback()
    res = ReconcileResult()
    if not todo and not stuck:
        return res
    if venue is None:
        from mpx.adapters.execution.live import LiveVenue

        venue = LiveVenue({}, ctx.settings)
    for s in stuck:
        res.findings += _stuck(ctx, venue, int(s["id"]), s["sent_at"], res)
    for intent_id, orders in todo.items():
        checked = []
        for o in orders:
            try:
                state = venue.order_status(str(o["order_id"]))
            except Exception as exc:  # the CLOB could not say: ask again next pass
                res.warnings.append(f"intent {intent_id} order {o['order_id']}: {type(exc).__name__}")
                continue
            checked.append((o, state))
        res.checked += len(checked)
        if checked:
            res.findings += _repair(ctx, intent_id, checked)
    res.rows = len(res.findings)
    log.debug("reconcile pass", extra={"checked": res.checked, "stuck_sent": len(stuck)})
    ctx.metrics.gauge("mpx_reconcile_findings", "Discrepancies the last reconcile pass found").set(len(res.findings))
    return res


def _fills(state: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal, list[str]]:
    shares = cost = fee = ZERO
    hashes = []
    for t in state.get("trades") or []:
        if str(t.get("status", "")).upper() == "FAILED":
            continue
        p, s = Decimal(str(t["price"])), Decimal(str(t["size"]))
        shares, cost = shares + s, cost + p * s
        fee += Decimal(str(t.get("fee") or 0))
        if t.get("transaction_hash"):
            hashes.append(str(t["transaction_hash"]))
    return shares, cost, fee, hashes


def _repair(ctx: Context[Any], intent_id: int, checked: list[tuple[dict[str, Any], dict[str, Any] | None]]) \
        -> list[dict[str, Any]]:
    conn, who, now = ctx.conn, actor(), datetime.now(UTC)
    intent = db.lock_intent(conn, intent_id)
    if intent is None:
        conn.rollback()
        return []
    records, findings, ghosts = [], [], []
    for o, state in checked:
        rec = {k: o.get(k) for k in ("order_id", "token_id", "market_id", "side", "type", "shares", "price")}
        if state is None:
            rec.update(status="not_found", note=f"we had it {o.get('status')}; the CLOB has no such order: it never "
                                                "executed")
        else:
            shares, cost, fee, hashes = _fills(state)
            clob = str(state.get("status", "")).lower()
            rec.update(status="matched" if shares > 0 else (clob or "canceled"), clob_status=state.get("status"),
                       filled=str(shares), cost=str(cost), fee=str(fee), transaction_hashes=hashes,
                       trade_ids=[t.get("id") for t in state.get("trades") or []])
            if shares > 0:
                rec["note"] = f"a fill we never heard of: {shares} shares for {cost} + fee {fee}"
                ghosts.append(rec)
            elif clob in ("live", "delayed"):
                rec.update(status=clob, note="still open on the CLOB")
                records.append(rec)
                continue  # nothing to repair yet: ask again next pass
            else:
                rec["note"] = f"we had it {o.get('status')}; the CLOB says {state.get('status')} with nothing matched"
        records.append(rec)
        findings.append({"intent_id": intent_id, **rec})
    if not findings:
        conn.rollback()
        return []
    details = {"reconciled_orders": records}
    text = [f"intent {intent_id} RECONCILE ({intent['status']}, live)"]
    text += [f"order {str(r['order_id'])[:14]}… {r['side']} {r['type']}: {r['note']}" for r in findings]
    if ghosts and intent["status"] == IntentStatus.FAILED:
        _ghost_position(ctx, intent, ghosts, details, who, now)
        text.append(f"Now UNWINDING (naked): `mpx intents unwind {intent_id}`; the breaker is open.")
    else:
        why = "; ".join(str(r["note"]) for r in findings)
        db.record_event(conn, intent_id, intent["status"], intent["status"], f"reconcile: {why}", who, details)
        if ghosts:
            text.append(f"The record was not changed: check the position and `mpx intents close {intent_id} --pnl X`.")
    db.enqueue_execution_alert(conn, intent_id, "P1", f"intent:{intent_id}:reconcile:{now:%Y%m%d%H%M%S}",
                               "\n".join(text))
    conn.commit()
    log.warning("reconcile findings", extra={"intent": intent_id, "findings": len(findings)})
    return findings


def _ghost_position(ctx: Context[Any], intent: dict[str, Any], ghosts: list[dict[str, Any]], details: dict[str, Any],
                    who: str, now: datetime) -> None:
    """A failed intent whose unknown order did fill: it holds shares now — unwinding, breaker open."""
    conn, policy = ctx.conn, policy_from_settings(ctx.settings)
    labels = {lg["token_id"]: lg.get("label", "?") for lg in intent.get("legs") or []}
    fills = [dict(f) for f in intent.get("fills") or []]
    positions = []
    for g in ghosts:
        total = Decimal(g["cost"]) + Decimal(g["fee"])
        positions.append(Position(str(g["token_id"]), str(g["market_id"]), labels.get(str(g["token_id"]), "?"),
                                  Decimal(g["filled"]), total))
        for f in fills:
            if f.get("token_id") == g["token_id"]:
                f.update(shares=g["filled"], cost=g["cost"], fee=g["fee"], outcome="filled",
                         note=f"found by reconcile: order {g['order_id']}")
    u = Unwind(policy.max_unwind_loss, tuple(positions), (), 0)
    spent = sum((p.cost for p in positions), ZERO)
    held = "; ".join(f"{p.bought} {p.label}" for p in positions)
    db.transition(conn, intent, IntentStatus.UNWINDING,
                  f"reconcile: a fill we never heard of — {held} bought ({spent} USDC incl. fees): naked, selling "
                  f"back with `mpx intents unwind {intent['id']}`", who, details,
                  unwind=u.as_dict(), fills=fills, filled_cost=spent, reserved_notional=spent)
    b = db.lock_risk(conn)
    why = f"intent {intent['id']}: reconcile found a fill we never heard of ({held}): naked position"
    db.save_breaker(conn, Breaker("open", now, now + policy.breaker_cooldown, why, b.consecutive_failures + 1,
                                  b.loss_since))
    db.record_risk_event(conn, "opened", why, who, {"intent_id": intent["id"], "naked": [p.as_dict() for p in
                                                                                          positions]})


def _stuck(ctx: Context[Any], venue: OrderSource, intent_id: int, sent_at: datetime, res: ReconcileResult) \
        -> list[dict[str, Any]]:
    """An intent still ``sent`` past the grace: what did its legs buy since the confirm? Repair it."""
    conn, who, now = ctx.conn, actor(), datetime.now(UTC)
    intent = db.get_intent(conn, intent_id)
    known = recorded_order_ids(conn, sent_at)
    conn.rollback()
    if intent is None:
        return []
    legs = list(intent.get("legs") or [])
    found: dict[str, list[dict[str, Any]]] = {}
    for leg in legs:
        try:
            trades = venue.trades_since(str(leg["token_id"]), sent_at)
        except Exception as exc:  # the CLOB could not say: ask again next pass
            res.warnings.append(f"intent {intent_id} trades of {str(leg['token_id'])[:12]}…: {type(exc).__name__}")
            return []
        found[str(leg["token_id"])] = [t for t in trades if str(t.get("taker_order_id")) not in known]
    res.checked += 1
    intent = db.lock_intent(conn, intent_id)
    if intent is None or intent["status"] != IntentStatus.SENT:  # its confirm recorded it meanwhile
        conn.rollback()
        return []
    records, fills, positions = [], [], []
    for seq, leg in enumerate(legs, 1):
        token, want = str(leg["token_id"]), Decimal(str(leg["shares"]))
        shares = cost = fee = ZERO
        hashes: list[str] = []
        orders: list[str] = []
        for t in sorted(found[token], key=lambda t: (str(t.get("match_time", "")), str(t.get("id", "")))):
            if shares >= want:
                break
            p, size = Decimal(str(t["price"])), min(Decimal(str(t["size"])), want - shares)
            shares, cost = shares + size, cost + p * size
            fee += Decimal(str(t.get("fee") or 0))
            hashes += [str(t["transaction_hash"])] if t.get("transaction_hash") else []
            if t.get("taker_order_id") and str(t["taker_order_id"]) not in orders:
                orders.append(str(t["taker_order_id"]))
        label = str(leg.get("label", "?"))
        note = (f"{label}: {shares} of {want} shares bought since the confirm ({cost} + fee {fee})" if shares > 0 else
                f"{label}: no trade since the confirm")
        records.append({"order_id": ",".join(orders) or "-", "token_id": token, "market_id": leg["market_id"],
                        "side": "BUY", "type": "FOK", "shares": str(want), "price": str(leg.get("limit_price")),
                        "status": "matched" if shares > 0 else "no_trade", "filled": str(shares), "cost": str(cost),
                        "fee": str(fee), "transaction_hashes": hashes, "note": note})
        fills.append({"token_id": token, "market_id": leg["market_id"], "label": label, "side": "BUY",
                      "requested": str(want), "shares": str(shares),
                      "vwap": str((cost / shares).quantize(Decimal("0.000001"))) if shares > 0 else None,
                      "cost": str(cost), "fee": str(fee), "limit_price": str(leg.get("limit_price")), "seq": seq,
                      "outcome": "filled" if shares >= want else "killed" if shares > 0 else "not_sent",
                      "note": "found by reconcile" + (f": order {', '.join(orders)}" if orders else "")})
        if shares > 0:
            positions.append(Position(token, str(leg["market_id"]), label, shares, cost + fee))
    details = {"reconciled_orders": records, "stuck_since": sent_at.isoformat()}
    spent = sum((p.cost for p in positions), ZERO)
    head = f"intent {intent_id} RECONCILE (sent since {sent_at:%Y-%m-%d %H:%M:%S} UTC, live): its confirm never " \
           "recorded its orders"
    text = [head] + [str(r["note"]) for r in records]
    if not positions:
        db.transition(conn, intent, IntentStatus.FAILED,
                      "reconcile: the confirm died before recording its orders; the CLOB has no trade of its legs "
                      "since: it never executed, nothing bought", who, details,
                      reserved_notional=ZERO, executed_at=now, fills=fills, filled_cost=ZERO)
        text.append("Recorded as never executed (failed, nothing bought).")
    elif all(Decimal(f["shares"]) >= Decimal(f["requested"]) for f in fills):
        db.transition(conn, intent, IntentStatus.FILLED,
                      f"reconcile: the confirm died before recording its orders; every leg filled ({spent} USDC "
                      "incl. fees)", who, details, fills=fills, filled_cost=spent, reserved_notional=spent,
                      executed_at=now)
        text.append("Every leg filled: recorded as filled.")
    else:
        policy = policy_from_settings(ctx.settings)
        u = Unwind(policy.max_unwind_loss, tuple(positions), (), 0)
        held = "; ".join(f"{p.bought} {p.label}" for p in positions)
        db.transition(conn, intent, IntentStatus.UNWINDING,
                      f"reconcile: the confirm died before recording its orders — {held} bought ({spent} USDC incl. "
                      f"fees), not the whole set: naked, selling back with `mpx intents unwind {intent_id}`", who,
                      details, unwind=u.as_dict(), fills=fills, filled_cost=spent, reserved_notional=spent,
                      executed_at=now)
        b = db.lock_risk(conn)
        why = f"intent {intent_id}: reconcile found {held} bought by a confirm that died: naked position"
        db.save_breaker(conn, Breaker("open", now, now + policy.breaker_cooldown, why, b.consecutive_failures + 1,
                                      b.loss_since))
        db.record_risk_event(conn, "opened", why, who, {"intent_id": intent_id,
                                                        "naked": [p.as_dict() for p in positions]})
        text.append(f"Now UNWINDING (naked): `mpx intents unwind {intent_id}`; the breaker is open.")
    db.enqueue_execution_alert(conn, intent_id, "P1", f"intent:{intent_id}:reconcile:{now:%Y%m%d%H%M%S}",
                               "\n".join(text))
    conn.commit()
    log.warning("reconcile: intent stuck in sent repaired", extra={"intent": intent_id, "status": intent["status"]})
    return [{"intent_id": intent_id, **r} for r in records]
