"""``mpx intents create | confirm | list | show | cancel | close | settle | breaker | policy``."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

import typer

from mpx.adapters.db import intents as db
from mpx.adapters.db.connection import connect
from mpx.cli.common import FormatOption, OutputFormat, render, render_mapping, settings, truncate
from mpx.errors import NotFoundError, UsageError
from mpx.jobs import intents as jobs
from mpx.jobs.contract import run_job

app = typer.Typer(
    help="Order intents from P1/P2 signals: create, confirm under the EXEC_* risk limits (checked and "
    "reserved atomically in PostgreSQL), paper execution, audit trail, circuit breaker. "
    "A rejected or failed confirm exits 1 with every check and its numbers.",
    no_args_is_help=True,
)


class Status(StrEnum):
    suggested = "suggested"
    sent = "sent"
    filled = "filled"
    partially_filled = "partially_filled"
    rejected = "rejected"
    cancelled = "cancelled"
    failed = "failed"
    settled = "settled"
    closed = "closed"


IdArg = Annotated[int, typer.Argument(help="The intent's id (`mpx intents list`).", min=1)]


def _summary(intent: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "signal_id", "status", "rule_id", "level", "mode", "shares", "notional", "max_notional",
            "expected_edge_bps", "expected_profit", "filled_cost", "pnl", "policy_version", "reason")
    return {k: intent.get(k) for k in keys}


@app.command("create")
def create(
    signal: Annotated[int, typer.Option("--signal", min=1, help="The signal's id (`mpx signals`).")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Turn a P1/P2 signal into an order intent in status `suggested`: its legs (token, side, shares,
    limit = VWAP + EXEC_SLIPPAGE_BPS rounded onto the tick), notional and expected edge. The size is
    the signal's, reduced to fit EXEC_MAX_NOTIONAL_PER_ORDER. One live intent per signal."""
    res = run_job(settings(), "intents", lambda ctx: jobs.create(ctx, signal), lock=False)
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


@app.command("confirm")
def confirm(intent_id: IdArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Run the risk checks, then execute (EXEC_MODE, paper by default).

    Checks, every one reported with its numbers: the circuit breaker; markets still open; books
    observed within EXEC_MAX_BOOK_AGE; EXEC_MAX_NOTIONAL_PER_ORDER; EXEC_MAX_CONCURRENT_ORDERS;
    EXEC_MAX_DAILY_NOTIONAL (UTC day); slippage of every leg re-priced against the latest book
    within EXEC_SLIPPAGE_BPS; the re-priced edge above EXEC_MIN_EDGE_BPS. Exit 0 when executed
    (filled or partially filled) or already executed; 1 when rejected or failed."""
    res = run_job(settings(), "intents", lambda ctx: jobs.confirm(ctx, intent_id), lock=False)
    intent = res.intent
    if fmt is not OutputFormat.table:
        row = {**_summary(intent), "outcome": res.outcome, "fills": intent.get("fills"),
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
            render(intent["fills"], fmt, ["side", "requested", "shares", "vwap", "limit_price", "cost", "fee",
                                          "token_id"])
        for s in res.settled:
            typer.echo(f"settled intent {s['id']} on the way: PnL {s['pnl']} USDC")
    if res.outcome in ("rejected", "failed"):
        raise jobs.IntentError(f"intent {intent_id} {res.outcome}: {intent['reason']}")


@app.command("list")
def list_(
    status: Annotated[list[Status] | None, typer.Option("--status", help="Only these statuses (repeatable).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="At most this many rows.")] = 50,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Order intents, newest first."""
    with connect(settings()) as conn:
        rows = db.list_intents(conn, [s.value for s in status] if status else None, limit)
    if fmt is OutputFormat.table:
        for r in rows:
            r["reason"] = truncate(r["reason"], 50)
            r["message"] = truncate(r["message"], 40)
        render(rows, fmt, ["id", "signal_id", "status", "updated_at", "rule_id", "level", "shares", "notional",
                           "expected_edge_bps", "filled_cost", "pnl", "reason"], empty="(no intents)")
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
        typer.echo("\nfills:")
        render(intent["fills"], fmt, ["side", "requested", "shares", "vwap", "limit_price", "cost", "fee"])
    typer.echo("\naudit trail:")
    render(events, fmt, ["ts", "from_status", "to_status", "actor", "reason"])


@app.command("cancel")
def cancel(intent_id: IdArg, reason: Annotated[str, typer.Option("--reason", help="Recorded in the audit trail.")]
           = "cancelled by hand") -> None:
    """Cancel a suggested intent, or a sent one whose confirm never recorded fills (its reservation
    is released). Filled intents are positions: close them instead."""
    run_job(settings(), "intents", lambda ctx: jobs.cancel(ctx, intent_id, reason), lock=False)
    typer.echo(f"intent {intent_id}: cancelled")


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise UsageError(f"--pnl must be a number of USDC, not {value!r}") from None


@app.command("close")
def close(
    intent_id: IdArg,
    pnl: Annotated[str | None, typer.Option("--pnl", help="Realised PnL in USDC (negative: a loss); counts "
                                            "towards EXEC_BREAKER_MAX_LOSS.")] = None,
    reason: Annotated[str, typer.Option("--reason", help="Recorded in the audit trail.")] = "closed by hand",
) -> None:
    """Mark a filled position closed outside mpx (sold, or settled by hand): it no longer counts
    against EXEC_MAX_CONCURRENT_ORDERS."""
    value = _decimal(pnl)
    run_job(settings(), "intents", lambda ctx: jobs.close(ctx, intent_id, reason, value), lock=False)
    typer.echo(f"intent {intent_id}: closed")


@app.command("settle")
def settle(fmt: FormatOption = OutputFormat.table) -> None:
    """Settle every filled intent whose markets have resolved: PnL = shares × what each outcome
    paid − cost incl. fees (every confirm does this too)."""
    res = run_job(settings(), "intents", jobs.settle, lock=False)
    render([{"id": s["id"], "signal_id": s["signal_id"], "pnl": s["pnl"], "filled_cost": s["filled_cost"]}
            for s in res.settled], fmt, ["id", "signal_id", "filled_cost", "pnl"], empty="(nothing to settle)")


@app.command("breaker")
def breaker(
    reset: Annotated[bool, typer.Option("--reset", help="Close the breaker now, zero the failure count and "
                                        "forgive the losses so far (recorded with --reason).")] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "reset by hand",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The circuit breaker: open after EXEC_BREAKER_MAX_FAILURES consecutive market rejections /
    execution failures, or a realised loss of EXEC_BREAKER_MAX_LOSS within EXEC_BREAKER_WINDOW; stays
    open for EXEC_BREAKER_COOLDOWN. Also shows the usage of every limit."""
    s = settings()
    with connect(s) as conn:
        if reset:
            jobs.reset_breaker(conn, reason)
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
