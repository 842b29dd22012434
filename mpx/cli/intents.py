"""``mpx intents create | confirm | list | show | cancel | close | settle | breaker | policy``."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from mpx.adapters.db import intents as db
from mpx.adapters.db.connection import connect
from mpx.cli.common import (
    FormatOption,
    LimitOption,
    OutputFormat,
    VenueOption,
    render,
    render_mapping,
    settings,
    truncate,
)
from mpx.domain.execution import IntentStatus
from mpx.errors import NotFoundError, UsageError
from mpx.jobs import intents as jobs
from mpx.jobs.contract import Job, run_job

app = typer.Typer(
    help="Order intents from P1/P2 arbitrage signals: create, confirm under the EXEC_* risk limits (checked "
    "and reserved atomically in PostgreSQL), legs sent fill-or-kill (paper by default) and unwound when a later "
    "leg is killed, audit trail, circuit breaker. A rejected, failed or unwound confirm exits 1 with every check "
    "and its numbers.",
    no_args_is_help=True,
)


Status = IntentStatus
"""`--status` choices: the intent statuses, one enum in the domain."""


IdArg = Annotated[int, typer.Argument(help="The intent's id (`mpx intents list`).", min=1)]


def _summary(intent: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "signal_id", "status", "rule_id", "level", "mode", "shares", "notional", "max_notional",
            "expected_edge_bps", "expected_profit", "filled_cost", "pnl", "policy_version", "canary", "reason")
    return {k: intent.get(k) for k in keys}


@app.command("create")
def create(
    signal: Annotated[int, typer.Option("--signal", min=1, help="The signal's id (`mpx signals`).")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Turn a P1/P2 signal into an order intent in status `suggested`: its legs (token, side, shares,
    limit = VWAP + EXEC_SLIPPAGE_BPS rounded onto the tick), notional and expected edge. The size is
    the signal's, reduced to fit EXEC_MAX_NOTIONAL_PER_ORDER. One live intent per signal."""
    res = run_job(settings(), Job.intents, lambda ctx: jobs.create(ctx, signal), lock=False)
    intent = res.intent
    if fmt is OutputFormat.table:
        typer.echo(f"intent {intent['id']}: suggested — {intent['reason']}")
        typer.echo(f"  {intent['shares']} sets, notional {intent['notional']} USDC (at most {intent['max_notional']}"
                   f" at the limits), expected edge {intent['expected_edge_bps']} bps = "
                   f"{intent['expected_profit']} USDC")
        render(intent["legs"], fmt, ["label", "side", "shares", "vwap", "limit_price", "cost", "max_cost", "token_id"])
        typer.echo(f"confirm with: mpx intents confirm {intent['id']}")
    else:
        render([{**_summary(intent), "legs": intent["legs"]}], fmt)


FILL_COLUMNS = ["seq", "outcome", "label", "side", "requested", "shares", "vwap", "limit_price", "cost", "fee",
                "note"]
SELL_COLUMNS = ["attempt", "label", "held", "best_bid", "floor", "shares", "vwap", "proceeds", "fee", "note"]


def _render_unwind(unwind: dict[str, Any] | None, fmt: OutputFormat) -> None:
    if not unwind:
        return
    typer.echo("\nunwind (sells at the best bid and down, never below the floor that keeps the loss within "
               f"{unwind['max_loss']} USDC):")
    render(unwind["sells"], fmt, SELL_COLUMNS, empty="(no sell sent)")
    if unwind.get("realised_loss") is not None:
        typer.echo(f"realised loss {unwind['realised_loss']} USDC = cost {unwind['spent']} − proceeds "
                   f"{unwind['recovered']} (fees included)")
    else:
        held = [p for p in unwind["positions"] if Decimal(p["held"]) > 0]
        typer.echo("NAKED: " + "; ".join(f"{p['held']} {p['label']} ({p['token_id'][:16]}…) held" for p in held))


@app.command("confirm")
def confirm(intent_id: IdArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Run the risk checks, then send the legs (EXEC_MODE, paper by default), each fill-or-kill.

    Checks, every one reported with its numbers: the circuit breaker (and no naked position open);
    markets still open; every leg's fee rate known; books observed within EXEC_MAX_BOOK_AGE; every
    leg's fresh book holding its full size at or below its limit (depth_at_limit);
    EXEC_MAX_NOTIONAL_PER_ORDER; EXEC_MAX_CONCURRENT_ORDERS; EXEC_MAX_DAILY_NOTIONAL (UTC day);
    slippage of every leg re-priced against the latest book within EXEC_SLIPPAGE_BPS; every leg at its
    limit plus fees within the payout minus EXEC_MIN_EDGE_BPS (worst_case_edge); the re-priced edge
    above EXEC_MIN_EDGE_BPS. Legs go out least depth to spare first; when one is killed after others
    filled, those are sold back (unwound) within EXEC_MAX_UNWIND_LOSS, the breaker opens and a P1 alert
    is queued. Exit 0 when filled or already executed; 1 when rejected, failed, unwound or unwinding."""
    res = run_job(settings(), Job.intents, lambda ctx: jobs.confirm(ctx, intent_id), lock=False)
    intent = res.intent
    if fmt is not OutputFormat.table:
        row = {**_summary(intent), "outcome": res.outcome, "fills": intent.get("fills"),
               "unwind": intent.get("unwind"),
               "verdict": res.verdict.as_dict() if res.verdict else intent.get("verdict")}
        render([row], fmt)
    elif res.outcome == "already":
        when = intent["confirmed_at"]
        typer.echo(f"intent {intent_id} is already {intent['status']} (confirmed "
                   f"{when:%Y-%m-%d %H:%M:%S}): not executed again")
    else:
        typer.echo(f"intent {intent_id}: {res.outcome}")
        if res.verdict:
            for c in res.verdict.checks:
                typer.echo(f"  {c.line}")
        if intent.get("fills"):
            render(intent["fills"], fmt, FILL_COLUMNS)
        _render_unwind(intent.get("unwind"), fmt)
        if res.outcome in ("unwound", "unwinding"):
            typer.echo("circuit breaker opened; P1 alert queued (`mpx alerts list`)")
        for s in res.settled:
            typer.echo(f"settled intent {s['id']} on the way: PnL {s['pnl']} USDC")
    if res.outcome in ("rejected", "failed", "unwound", "unwinding"):
        raise jobs.IntentError(f"intent {intent_id} {res.outcome}: {intent['reason']}",
                               hint=f"`mpx intents unwind {intent_id}` when bids return" if res.outcome == "unwinding"
                               else None)


@app.command("unwind")
def unwind(
    intent_id: IdArg,
    max_loss: Annotated[str | None, typer.Option("--max-loss", help="USDC the whole unwind may lose, every attempt "
                                                 "included (default EXEC_MAX_UNWIND_LOSS).")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Sell back an unwinding intent's naked shares: at the best bid and down, never below the floor that
    keeps the realised loss within --max-loss. Exit 0 when everything is sold (unwound), 1 while shares
    are still held."""
    cap = _decimal(max_loss, "--max-loss")
    if cap is not None and cap <= 0:
        raise UsageError(f"--max-loss must be above 0 USDC, not {max_loss}")
    res = run_job(settings(), Job.intents, lambda ctx: jobs.unwind_intent(ctx, intent_id, cap), lock=False)
    intent = res.intent
    if fmt is not OutputFormat.table:
        render([{**_summary(intent), "outcome": res.outcome, "unwind": intent.get("unwind")}], fmt)
    else:
        typer.echo(f"intent {intent_id}: {res.outcome}")
        _render_unwind(intent.get("unwind"), fmt)
    if res.outcome != "unwound":
        raise jobs.IntentError(f"intent {intent_id} still {res.outcome}: {intent['reason']}",
                               hint="retry when bids return, raise --max-loss, or sell by hand and "
                                    f"`mpx intents close {intent_id} --pnl X`")


@app.command("list")
def list_(
    status: Annotated[list[Status] | None, typer.Option("--status", help="Only these statuses (repeatable).")] = None,
    venue: VenueOption = None,
    limit: LimitOption = 50,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Order intents, newest first (`venues`: where its legs trade)."""
    with connect(settings()) as conn:
        rows = db.list_intents(conn, [s.value for s in status] if status else None, limit,
                               venue.value if venue else None)
    if fmt is OutputFormat.table:
        for r in rows:
            r["reason"] = truncate(r["reason"], 50)
            r["message"] = truncate(r["message"], 40)
        render(rows, fmt, ["id", "signal_id", "status", "venues", "updated_at", "rule_id", "level", "shares",
                           "notional", "expected_edge_bps", "filled_cost", "pnl", "canary", "reason"],
               empty="(no intents)")
    else:
        render(rows, fmt)


@app.command("show")
def show(intent_id: IdArg, fmt: FormatOption = OutputFormat.table) -> None:
    """One intent: legs, the last risk verdict, fills and its audit trail (every state change)."""
    with connect(settings()) as conn:
        intent = db.get_intent(conn, intent_id)
        if intent is None:
            raise NotFoundError(f"intent {intent_id} not found", hint="`mpx intents list`")
        events = db.intent_events(conn, intent_id)
    if fmt is not OutputFormat.json:
        for e in events:
            e.pop("details", None)
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps({**intent, "events": events}, indent=2, default=str) + "\n")
        return
    if fmt is OutputFormat.csv:
        render(events, fmt)
        return
    render_mapping(_summary(intent).items(), fmt)
    typer.echo("\nlegs:")
    render(intent["legs"], fmt, ["label", "side", "shares", "vwap", "limit_price", "cost", "max_cost", "market_id"])
    if intent.get("verdict"):
        typer.echo("\nlast verdict:")
        for c in intent["verdict"]["checks"]:
            typer.echo(f"  {'ok  ' if c['ok'] else 'FAIL'} {c['name']}: {c['value']} (limit {c['limit']})"
                       + (f" — {c['detail']}" if c["detail"] else ""))
    if intent.get("fills"):
        typer.echo("\nfills (seq: the order the legs were sent in, each fill-or-kill):")
        render(intent["fills"], fmt, FILL_COLUMNS)
    _render_unwind(intent.get("unwind"), fmt)
    typer.echo("\naudit trail:")
    render(events, fmt, ["ts", "from_status", "to_status", "actor", "reason"])


@app.command("cancel")
def cancel(
    intent_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Recorded in the audit trail.")] = "cancelled by hand",
    nothing_filled: Annotated[bool, typer.Option("--nothing-filled", help="For an intent sent to a live venue: "
                                                 "you checked the venue and no leg filled (recorded).")] = False,
) -> None:
    """Cancel a suggested intent, or a sent one whose confirm never recorded fills (its reservation
    is released: on paper at once; sent to a live venue only with --nothing-filled, since legs may
    have filled there). Filled or unwinding intents are positions: close or unwind them instead."""
    run_job(settings(), Job.intents, lambda ctx: jobs.cancel(ctx, intent_id, reason, nothing_filled=nothing_filled),
            lock=False)
    typer.echo(f"intent {intent_id}: cancelled")


def _decimal(value: str | None, option: str = "--pnl") -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise UsageError(f"{option} must be a number of USDC, not {value!r}") from None
    if not number.is_finite():
        raise UsageError(f"{option} must be a number of USDC, not {value!r}")
    return number


@app.command("close")
def close(
    intent_id: IdArg,
    pnl: Annotated[str | None, typer.Option("--pnl", help="Realised PnL in USDC (negative: a loss); counts "
                                            "towards EXEC_BREAKER_MAX_LOSS.")] = None,
    reason: Annotated[str, typer.Option("--reason", help="Recorded in the audit trail.")] = "closed by hand",
) -> None:
    """Mark a position closed outside mpx (sold, or settled by hand) — filled, or unwinding (naked
    shares you sold yourself): it no longer counts against EXEC_MAX_CONCURRENT_ORDERS."""
    value = _decimal(pnl)
    run_job(settings(), Job.intents, lambda ctx: jobs.close(ctx, intent_id, reason, value), lock=False)
    typer.echo(f"intent {intent_id}: closed")


@app.command("settle")
def settle(fmt: FormatOption = OutputFormat.table) -> None:
    """Settle every filled (or unwinding) intent whose markets have resolved: PnL = shares held × what
    each outcome paid + what was sold back − cost incl. fees (every confirm does this too). A scheduled
    pass (jobs/mpx-settle.timer) under the job contract: the `settle` lock, a job_run row, metrics."""
    res = run_job(settings(), Job.settle, jobs.settle)
    render([{"id": s["id"], "signal_id": s["signal_id"], "pnl": s["pnl"], "filled_cost": s["filled_cost"]}
            for s in res.settled], fmt, ["id", "signal_id", "filled_cost", "pnl"], empty="(nothing to settle)")


@app.command("reconcile")
def reconcile(fmt: FormatOption = OutputFormat.table) -> None:
    """Ask the CLOB what became of every order of a live intent whose outcome is not known for sure
    (no answer came, or it was still open) and repair the record: a fill we never heard of makes a
    failed intent unwinding (naked, breaker open); an order the CLOB does not have never executed.
    Each finding is an audit-trail event and a P1 alert. A scheduled pass (jobs/mpx-reconcile.timer)
    under the job contract: the `reconcile` lock, a job_run row, metrics."""
    from mpx.jobs import reconcile as rec

    res = run_job(settings(), Job.reconcile, rec.reconcile)
    render([{"intent_id": f["intent_id"], "order_id": truncate(str(f["order_id"]), 18), "side": f["side"],
             "status": f["status"], "note": f.get("note", "")} for f in res.findings], fmt,
           ["intent_id", "order_id", "side", "status", "note"],
           empty=f"(nothing to repair: {res.checked} order(s) checked)")


@app.command("breaker")
def breaker(
    reset: Annotated[bool, typer.Option("--reset", help="Close the breaker now, zero the failure count and "
                                        "forgive the losses so far (recorded with --reason).")] = False,
    trip: Annotated[bool, typer.Option("--trip", help="Open the breaker now and keep it open until --reset "
                                       "(the kill switch: no intent executes, by command or button).")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (recorded).")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The circuit breaker: open after EXEC_BREAKER_MAX_FAILURES consecutive market rejections /
    execution failures, or a realised loss of EXEC_BREAKER_MAX_LOSS within EXEC_BREAKER_WINDOW; stays
    open for EXEC_BREAKER_COOLDOWN. Also shows the usage of every limit."""
    s = settings()
    with connect(s) as conn:
        if reset and trip:
            raise UsageError("--trip and --reset: choose one")
        if trip:
            jobs.trip_breaker(conn, reason or "tripped by hand")
            typer.echo("breaker tripped: open until `mpx intents breaker --reset`")
        if reset:
            jobs.reset_breaker(conn, reason or "reset by hand")
            typer.echo("breaker reset: closed")
        report = jobs.breaker_report(conn, s)
    recent = report.pop("recent")
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps({**report, "recent": recent}, indent=2, default=str) + "\n")
        return
    render_mapping(report.items(), fmt)
    if recent and fmt is OutputFormat.table:
        typer.echo("\nrecent:")
        render(recent, fmt, ["ts", "action", "actor", "reason"])


@app.command("policy")
def policy(fmt: FormatOption = OutputFormat.table) -> None:
    """Every version of the execution policy (the EXEC_* limits); a new one starts whenever they change."""
    with connect(settings()) as conn:
        rows = db.policies(conn)
    if fmt is OutputFormat.table:
        rows = [{"version": r["version"], "created_at": r["created_at"],
                 "params": " ".join(f"{k}={v}" for k, v in r["params"].items())} for r in rows]
    render(rows, fmt, empty="(no policy yet: the first intent stores one)")
