"""``mpx evaluate``: one pass — the rules over every ingest pass newer than the watermark, signals
stored once (signature + cooldown), watermark advanced in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import signals as db_signals
from mpx.adapters.db import state, ticks
from mpx.domain.models import Book, PricePoint
from mpx.domain.rules.base import RuleSpec, Signal, Universe
from mpx.domain.rules.dsl import load_rules
from mpx.domain.rules.engine import apply_cooldown, evaluate_rules, lookback_for
from mpx.jobs.contract import Context, JobResult
from mpx.log import get_logger
from mpx.settings import Settings

log = get_logger(__name__)

WATERMARK_KEY = "evaluate:watermark"
MAX_STEPS = 500
"""At most this many ingest passes per evaluate pass; the rest wait for the next one (nothing lost)."""
MAX_BOOK_AGE = timedelta(minutes=5)


@dataclass
class EvaluateResult(JobResult):
    steps: int = 0
    signals: list[Signal] = field(default_factory=list)
    watermark: datetime | None = None
    backlog: bool = False


def load_rule_set(settings: Settings) -> list[RuleSpec]:
    """Load and validate ``MPX_RULES_DIR``; raises ConfigError (exit 78) listing every problem."""
    return load_rules([settings.mpx_rules_dir])


def run_evaluate(ctx: Context[EvaluateResult], rules: Sequence[RuleSpec]) -> EvaluateResult:
    conn = ctx.conn
    wm_raw = state.get_state(conn, WATERMARK_KEY)
    watermark = datetime.fromisoformat(wm_raw) if wm_raw else None
    if watermark is None:
        # first run: evaluate the latest state only, not the whole stored history
        last = ticks.last_pass(conn)
        passes = [] if last is None else ticks.passes_after(conn, last - timedelta(microseconds=1), 1)
    else:
        passes = ticks.passes_after(conn, watermark, MAX_STEPS + 1)
    backlog = len(passes) > MAX_STEPS
    passes = passes[:MAX_STEPS]
    if not passes:
        return EvaluateResult(details={"steps": 0, "new_signals": 0, "note": "no new ticks"})
    markets, events = db_markets.load_reference(conn)
    all_tokens = [o.token_id for m in markets.values() for o in m.outcomes]
    lookback = lookback_for(rules)
    start = watermark or passes[0][0]
    books = ticks.books_as_of(conn, start)
    history = ticks.price_history(conn, start - lookback, start)
    # (time, tokens missing in that pass, apply that pass's ticks?)
    steps = [(ts, missing, watermark is not None) for ts, missing in passes]

    observed: dict[str, datetime] = {t: b.ts for t, b in books.items() if b.ts is not None}
    universe = Universe(as_of=steps[0][0], markets=markets, events=events, books=books,
                       history=history, changed=None, max_book_age=MAX_BOOK_AGE, observed=observed)
    found: list[Signal] = []
    prev = watermark
    for ts, missing, apply in steps:
        changed: set[str] | None = None
        if apply:
            changed = set()
            _apply_ticks(conn, prev, ts, books, history, changed)
        miss = set(missing)
        for token in all_tokens:
            if token not in miss:
                observed[token] = ts
        universe.as_of = ts
        universe.changed = frozenset(changed) if changed is not None else None
        found.extend(evaluate_rules(rules, universe))
        prev = ts

    cooldowns = {r.id: r.cooldown for r in rules}
    kept = apply_cooldown(found, db_signals.last_seen(conn, [s.signature for s in found]), cooldowns)
    inserted = db_signals.insert_signals(conn, kept)
    for sig in kept:
        log.info("signal", extra={"job": "evaluate", "ruleId": sig.rule_id, "marketId": sig.market_id or sig.group_key,
                                  "level": sig.level, "edge_bps": str(sig.estimated_edge_bps)})
    new_wm = steps[-1][0]
    state.set_state(conn, WATERMARK_KEY, new_wm.isoformat())
    conn.commit()
    _metrics(ctx, conn)
    return EvaluateResult(
        rows=inserted, steps=len(steps), signals=kept, watermark=new_wm, backlog=backlog,
        details={"steps": len(steps), "found": len(found), "new_signals": inserted, "backlog": backlog},
        warnings=[f"more than {MAX_STEPS} ingest passes pending; the rest are evaluated next pass"]
        if backlog else [],
    )


def _apply_ticks(
    conn: psycopg.Connection, after: datetime | None, until: datetime, books: dict[str, Book],
    history: dict[str, list[PricePoint]], changed: set[str],
) -> None:
    start = after or until - timedelta(microseconds=1)
    for ts, token, market, book in ticks.ticks_at(conn, start, until):
        books[token] = book
        changed.add(market)
        if book.mid is not None:
            history.setdefault(token, []).append(PricePoint(ts, book.mid))


def _metrics(ctx: Context[EvaluateResult], conn: psycopg.Connection) -> None:
    g = ctx.metrics.gauge("mpx_signals_total", "Signals stored, by rule", ("rule",))
    for rule_id, n in conn.execute("SELECT rule_id, count(*) FROM signal GROUP BY rule_id"):
        g.labels(rule_id).set(n)
    conn.commit()
