"""``mpx markets list | show``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import synonyms as db_synonyms
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
from mpx.domain.books import sparkline
from mpx.domain.models import Event, Market
from mpx.domain.rules.sets import incomplete_reason
from mpx.errors import NotFoundError

app = typer.Typer(help="Inspect stored markets.", no_args_is_help=True)


class MarketStatus(StrEnum):
    active = "active"
    closed = "closed"
    resolved = "resolved"


@app.command("list")
def list_(
    status: Annotated[MarketStatus | None, typer.Option("--status", help="Only markets in this status.")] = None,
    search: Annotated[str | None, typer.Option("--search", "-s", help="Text in the question (literally: % and _ "
                                                                      "are not wildcards), or an id/slug.")]
    = None,
    venue: VenueOption = None,
    limit: LimitOption = 50,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List markets with their YES token's latest bid, ask and mid, most recently ticked first.

    `book` says how the YES book stands: ok, no bids, no asks, empty, missing (not fetched in the
    latest pass) or no book (closed, resolved or not accepting orders)."""
    with connect(settings()) as conn:
        rows = db_markets.list_markets(conn, status=status.value if status else None, search=search,
                                       venue=venue.value if venue else None, limit=limit)
        stored = db_markets.count_markets(conn) if not rows else None
    if fmt is OutputFormat.table:
        for r in rows:
            r["question"] = truncate(r["question"], 60)
            r["id"] = r["id"][:12] + "…" if len(r["id"]) > 13 else r["id"]
        render(rows, fmt, ["venue", "id", "question", "status", "book", "yes_bid", "yes_ask", "yes_mid", "end_date",
                           "last_tick"], empty=_no_markets(stored, search, status))
    else:
        render(rows, fmt)


def _no_markets(stored: int | None, search: str | None, status: MarketStatus | None) -> str:
    """Why the list is empty: nothing stored yet, or nothing matches the filters."""
    if not stored:
        return "(no markets: run `mpx seed` or `mpx ingest`)"
    what = " and ".join(f for f in (f"--search {search!r}" if search is not None else "",
                                    f"--status {status.value}" if status else "") if f)
    return f"(no market matches {what}; {stored} market(s) stored)"


def _outcome_set(loaded: tuple[Event, dict[str, Market]] | None) -> str:
    """For a market of a negRisk event: whether the event is a complete outcome set (exactly one of its
    markets resolves YES: what SUM_LT_1 and DUTCH_BOOK_DETECT rely on), and if not, why."""
    if loaded is None:
        return "-"
    event, markets = loaded
    if not event.neg_risk:
        return "-"
    why = incomplete_reason(event, [markets[i] for i in event.market_ids if i in markets])
    if why is None:
        return f"complete: exactly one of the event's {len(event.market_ids)} markets resolves YES"
    return f"INCOMPLETE (never priced as a set): {why}"


@app.command("show")
def show(
    market: Annotated[str, typer.Argument(help="Condition id (or a unique prefix of it) or slug.")],
    points: Annotated[int, typer.Option("--points", min=2, max=500, help="Sparkline length in ticks.")] = 40,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """One market: its event, fees and limits, and each outcome's latest book, spread and a sparkline
    of recent mid prices."""
    with connect(settings()) as conn:
        m = db_markets.find_market(conn, market)
        if m is None:
            raise NotFoundError(f"no market matches {market!r}", hint="see `mpx markets list --search TEXT`")
        outcomes = db_markets.market_outcomes(conn, m["id"], points)
        groups, relations = db_synonyms.of_market(conn, m["id"])
        loaded = db_markets.load_event(conn, m["event_id"]) if m["event_id"] else None
        group_rows = db_synonyms.groups_of_market(conn, m["id"]) if fmt is OutputFormat.json else []
    fee = "disabled" if not m["fees_enabled"] else (
        f"rate {m['fee_rate']} exponent {m['fee_exponent']}"
        + ("" if m["fee_taker_only"] else ", makers pay too")
        + (f", maker rebate {m['fee_rebate_rate']}" if m["fee_rebate_rate"] is not None else "")
        if m["fee_rate"] is not None else "enabled, rate unknown")
    if m["fees_enabled"] and m["fee_type"]:
        fee += f" ({m['fee_type']})"
    rows = []
    for o in outcomes:
        spread = (o["best_ask"] - o["best_bid"]) if o["best_ask"] is not None and o["best_bid"] is not None else None
        rows.append({"outcome": o["label"], "book": o["book"], "bid": o["best_bid"], "ask": o["best_ask"],
                     "mid": o["price"],
                     "spread": spread, "bid_size": o["bid_size"], "ask_size": o["ask_size"],
                     "last_tick": o["ts"], "recent": sparkline(o["history"] or []),
                     "token_id": o["token_id"]})
    header = [
        ("id", m["id"]), ("question", m["question"]), ("event", m["event_title"] or "-"),
        ("status", m["status"]), ("end_date", m["end_date"]), ("category", m["category"]),
        ("neg_risk", m["neg_risk"]), ("version", m["protocol_version"] or "-"), ("fees", fee),
        ("tick_size", m["tick_size"]),
        ("min_order_size", m["min_order_size"]),
        ("outcome_set", _outcome_set(loaded)),
        ("resolution_source", m["resolution_source"] or "-"),
        ("rules", truncate(m["description"], 300) if fmt is OutputFormat.table else m["description"]),
        ("groups", ", ".join(groups) or "-"),
        ("relations", "; ".join(f"{r['role']} {r['other']} ({r['kind']}{'' if r['proven'] else ', candidate'})"
                                for r in relations) or "-"),
    ]
    if fmt is OutputFormat.json:
        import json

        typer.echo(json.dumps({**{k: v for k, v in header}, "synonym_groups": group_rows,
                               "market_relations": relations, "outcomes": rows}, indent=2, default=str))
        return
    render_mapping(header, fmt)
    typer.echo("")
    render(rows, fmt, ["outcome", "book", "bid", "ask", "mid", "spread", "bid_size", "ask_size", "last_tick", "recent"]
           + ([] if fmt is OutputFormat.table else ["token_id"]))
