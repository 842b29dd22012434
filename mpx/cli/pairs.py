"""``mpx pairs propose | list | confirm | reject``: cross-venue pairs, proven by a person."""

from __future__ import annotations

import json
import sys
import textwrap
from enum import StrEnum
from typing import Annotated, Any

import typer

from mpx.adapters.db.connection import connect
from mpx.cli.common import FormatOption, OutputFormat, render, settings, truncate
from mpx.jobs.contract import Job, run_job
from mpx.jobs.pairs import decide, listing, run_propose

app = typer.Typer(help="Cross-venue pairs: the same question on two venues (Polymarket and Kalshi). The matcher "
                       "proposes pairs (same subject words, same numbers, close times within MPX_PAIR_MAX_DATE_GAP); "
                       "a person reads both sides and confirms with an orientation, or rejects. Only a confirmed "
                       "pair can be arbitrage (CROSS_VENUE, P1/P2); a candidate is at most a P3 indicator. A verdict "
                       "lapses when either market's question, close time, resolution source or rules change.",
                  no_args_is_help=True)

WIDTH = 46


class State(StrEnum):
    all = "all"
    candidate = "candidate"
    confirmed = "confirmed"
    rejected = "rejected"
    lapsed = "lapsed"


class OrientationChoice(StrEnum):
    same = "same"
    inverted = "inverted"


IdArg = Annotated[int, typer.Argument(help="The pair's id (`mpx pairs list`).", min=1)]
NoteOption = Annotated[str, typer.Option("--note", help="Why (kept with the verdict, shown in its basis).")]


def _wrap(value: Any, width: int = WIDTH, lines: int = 8) -> str:
    text = value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else str(value or "-")
    wrapped = textwrap.wrap(text, width) or ["-"]
    return "\n".join(wrapped[:lines] + (["…"] if len(wrapped) > lines else []))


def _side_by_side(entry: dict[str, Any]) -> None:
    from tabulate import tabulate

    a, b = entry["a"], entry["b"]
    rows = [[k, _wrap(a.get(k)), _wrap(b.get(k))] for k in
            ("venue", "market", "question", "outcome_0", "outcome_1", "status", "closes", "resolution_source",
             "rules")]
    typer.echo(f"pair {entry['id']}  [{entry['state']}]  {entry['reason']}")
    if entry["state"] != "candidate":
        typer.echo(f"  {entry['basis']}")
    typer.echo(tabulate(rows, headers=["", "first (a)", "second (b)"], tablefmt="simple", disable_numparse=True))
    typer.echo(f"  same: b's YES is a's outcome 0 ({a.get('outcome_0') or '?'}); inverted: b's YES is a's outcome 1 "
               f"({a.get('outcome_1') or '?'}).  mpx pairs confirm {entry['id']} --orientation same|inverted  |  "
               f"mpx pairs reject {entry['id']}\n")


@app.command("propose")
def propose_(fmt: FormatOption = OutputFormat.table) -> None:
    """Run the matcher over the stored markets of every venue and list each pair that waits for a
    verdict, both markets side by side: venue, id, question, outcomes, status, close time, resolution
    source and rules. Read both rules (who resolves it, cut-off times, postponement, ties), then
    `mpx pairs confirm ID --orientation same|inverted` or `mpx pairs reject ID`. A pass under the job
    contract (the `pairs` lock, a job_run row, metrics)."""
    res = run_job(settings(), Job.pairs, run_propose)
    for w in res.warnings:
        typer.echo(f"warning: {w}", err=True)
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(res.pairs, indent=2, default=str, ensure_ascii=False) + "\n")
        return
    if fmt is OutputFormat.csv:
        render([_flat(e) for e in res.pairs], fmt)
        return
    for entry in res.pairs:
        _side_by_side(entry)
    typer.echo(f"pairs: {res.proposed} proposed ({res.new} new); {len(res.pairs)} waiting for a verdict")


def _flat(e: dict[str, Any]) -> dict[str, Any]:
    out = {k: e[k] for k in ("id", "state", "orientation", "proposed", "reason", "basis")}
    for side in ("a", "b"):
        for k, v in e[side].items():
            out[f"{k}_{side}"] = v
    return out


@app.command("list")
def list_(
    state: Annotated[State, typer.Option("--state", help="Only pairs in this state.")] = State.all,
    venue: Annotated[list[str] | None, typer.Option("--venue", help="Only pairs with a market on this venue "
                                                                     "(repeatable).")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Every stored pair, one a row: id, state (candidate, confirmed, rejected, lapsed — a verdict whose
    markets changed since), orientation, both questions and close times, and the basis (who confirmed
    it and when, or why it lapsed). csv/json carry both sides in full."""
    with connect(settings()) as conn:
        rows = listing(conn, frozenset(venue) if venue else None)
    if state is not State.all:
        rows = [r for r in rows if r["state"] == state.value]
    if fmt is not OutputFormat.table:
        render([_flat(r) for r in rows], fmt)
        return
    table = [{"id": r["id"], "state": r["state"], "orientation": r["orientation"],
              "a": f"{r['a']['venue']}: {truncate(r['a']['question'], 40)}",
              "b": f"{r['b']['venue']}: {truncate(r['b']['question'], 40)}",
              "closes_a": _wrap(r["a"].get("closes")), "closes_b": _wrap(r["b"].get("closes")),
              "basis": truncate(r["basis"], 60)} for r in rows]
    render(table, fmt, empty="(no pairs; `mpx pairs propose` finds candidates)")


@app.command("confirm")
def confirm(
    pair_id: IdArg,
    orientation: Annotated[OrientationChoice, typer.Option(
        "--orientation", help="same: the second market's YES is the first market's outcome 0; inverted: its "
                              "outcome 1.")],
    note: NoteOption = "",
) -> None:
    """Confirm a pair after reading both markets' rules: from the next `mpx evaluate` CROSS_VENUE prices
    it as arbitrage (P1/P2), until either market's question, close time, resolution source or rules
    change (the verdict then lapses). Recorded with who (user@host) and when. Exit 1 for an unknown id."""
    _decide(pair_id, "confirmed", orientation.value, note)


@app.command("reject")
def reject(pair_id: IdArg, note: NoteOption = "") -> None:
    """Reject a pair: it is never priced, not even as an indicator (until either market changes).
    Recorded with who and when. Exit 1 for an unknown id."""
    _decide(pair_id, "rejected", None, note)


def _decide(pair_id: int, decision: str, orientation: Any, note: str) -> None:
    with connect(settings()) as conn:
        done = decide(conn, pair_id, decision, orientation, note)
        conn.commit()
    if decision == "rejected":
        typer.echo(f"pair {pair_id} rejected: {done.a.question!r} ({done.a.venue}) and {done.b.question!r} "
                   f"({done.b.venue}) are not priced together (by {done.actor})")
        return
    yes_is = done.a.outcomes[0 if orientation == "same" else 1].label if done.a.outcomes else "?"
    typer.echo(f"pair {pair_id} confirmed {orientation}: {done.b.venue} {done.b.id} YES ≡ {done.a.venue} "
               f"{done.a.id} outcome {yes_is!r} (by {done.actor}); priced by CROSS_VENUE from the next `mpx evaluate`")
