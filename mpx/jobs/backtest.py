"""``mpx backtest``: replay the stored ticks of a window through the same rule code ``mpx evaluate``
runs, pass by pass, and report the hits (what evaluate would have signalled), their PnL and a
DEPLOY / NO-DEPLOY verdict per rule variant.

Reads stream in chunks of passes (:mod:`mpx.adapters.db.replay`), so memory stays bounded however
long the window; books are parsed only when a rule looks at them. Price history (for SPIKE and
TREND_BREAKOUT) is kept only as far back as the rules' lookback. Nothing is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from mpx.adapters.archive import segments as archive_segments
from mpx.adapters.db import archive as db_archive
from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import pairs as db_pairs
from mpx.adapters.db import replay, ticks
from mpx.adapters.db import synonyms as db_synonyms
from mpx.adapters.parquet_replay import LOOK_BACK_DAYS, ArchiveReader
from mpx.domain.backtest import DEFAULT_INDICATOR_SHARES, DeployBar, Summary, Trade, summarize, trade_for, variants
from mpx.domain.columns import MidHistory, Tops
from mpx.domain.models import Book, Market, PricePoint
from mpx.domain.rules.base import RuleSpec, Signal, Universe
from mpx.domain.rules.engine import lookback_for
from mpx.domain.rules.registry import get_kind
from mpx.domain.rules.stepper import Pass, Stepper, advance
from mpx.errors import UsageError
from mpx.jobs.contract import Context, JobResult
from mpx.jobs.evaluate import load_rule_set
from mpx.settings import Settings


@dataclass(frozen=True, slots=True)
class Hit:
    ts: datetime
    variant: str
    signal: Signal
    reason: str
    trade: Trade | None = None


@dataclass
class BacktestResult(JobResult):
    ticks: int = 0
    steps: int = 0
    hits: list[Hit] = field(default_factory=list)
    summaries: list[Summary] = field(default_factory=list)
    read_s: float = 0.0
    rules_s: float = 0.0
    note: str = ""


def select_rules(settings: Settings, selector: str) -> list[RuleSpec]:
    rules = load_rule_set(settings)
    chosen = [r for r in rules if r.id == selector] or [r for r in rules if r.type == selector.upper()]
    if not chosen:
        have = ", ".join(sorted({r.id for r in rules} | {r.type for r in rules}))
        raise UsageError(f"--rule {selector!r}: no rule with that id or type in {settings.mpx_rules_dir}",
                         hint=f"one of: {have}")
    return [r if r.enabled else _enabled(r) for r in chosen]


def _enabled(rule: RuleSpec) -> RuleSpec:
    from dataclasses import replace

    return replace(rule, enabled=True)  # asked for by name: a disabled rule is backtested too


def run_backtest(
    ctx: Context[BacktestResult], rules: Sequence[RuleSpec], start: datetime, end: datetime, *,
    sweep: Sequence[tuple[str, list[str]]] = (), speed: float = 0.0, pnl: bool = False,
    bar: DeployBar = DeployBar(), on_hit: Callable[[Hit], None] | None = None,
    on_progress: Callable[[int], None] | None = None, on_start: Callable[[int], None] | None = None,
    indicator_shares: Decimal = DEFAULT_INDICATOR_SHARES,
) -> BacktestResult:
    # one snapshot for the manifest and the ticks: an `mpx archive` meanwhile cannot move a day
    # between the two reads (the archived day is read from its file, the rest from this snapshot);
    # the read-only transaction ends before the run is recorded
    db_archive.begin_snapshot(ctx.conn)
    try:
        return _backtest(ctx, rules, start, end, sweep=sweep, speed=speed, pnl=pnl, bar=bar, on_hit=on_hit,
                         on_progress=on_progress, on_start=on_start, indicator_shares=indicator_shares)
    finally:
        ctx.conn.rollback()


def _backtest(
    ctx: Context[BacktestResult], rules: Sequence[RuleSpec], start: datetime, end: datetime, *,
    sweep: Sequence[tuple[str, list[str]]], speed: float, pnl: bool, bar: DeployBar,
    on_hit: Callable[[Hit], None] | None, on_progress: Callable[[int], None] | None,
    on_start: Callable[[int], None] | None, indicator_shares: Decimal,
) -> BacktestResult:
    conn, settings = ctx.conn, ctx.settings
    specs = [(f"{r.id} {label}".strip() if len(rules) > 1 or label else label or r.id, v)
             for r in rules for label, v in variants(r, sweep)]
    history_src = History(conn, settings, start, end)
    try:
        return _run(ctx, history_src, specs, start, end, speed=speed, pnl=pnl, bar=bar, on_hit=on_hit,
                    on_progress=on_progress, on_start=on_start, indicator_shares=indicator_shares)
    finally:
        history_src.close()


def _run(
    ctx: Context[BacktestResult], history_src: History, specs: Sequence[tuple[str, RuleSpec]], start: datetime,
    end: datetime, *, speed: float, pnl: bool, bar: DeployBar, on_hit: Callable[[Hit], None] | None,
    on_progress: Callable[[int], None] | None, on_start: Callable[[int], None] | None, indicator_shares: Decimal,
) -> BacktestResult:
    conn, settings = ctx.conn, ctx.settings
    total = history_src.count()
    if total == 0:
        return BacktestResult(note=f"no ticks between {start:%Y-%m-%d %H:%M:%S} and {end:%Y-%m-%d %H:%M:%S} UTC")
    if on_start:
        on_start(total)
    t0 = time.perf_counter()
    markets, events = db_markets.load_reference(conn)
    groups, relations = db_synonyms.load(conn)
    lookback = lookback_for([v for _, v in specs])
    order = list(markets.values())
    numbered = {m.id: n for n, m in enumerate(order)}
    tokens = [(o.token_id, numbered[m.id]) for m in order for o in m.outcomes]
    tops = Tops([t for t, _ in tokens], [n for _, n in tokens], [m.id for m in order])
    books = replay.LazyBooks(history_src.books_as_of(start), tops=tops,
                             levels=history_src.archive.levels if history_src.archive else None)
    priced = {m.yes.token_id for m in order if m.outcomes}
    history: MidHistory | dict[str, list[PricePoint]] = {}
    if lookback:
        history = MidHistory(tops, lookback, [get_kind(v.type).lookback(v.params) for _, v in specs])
        history.load(history_src.price_history(start - lookback, start, priced))
    universe = Universe(as_of=start, markets=markets, events=events, books=books, history=history, changed=None,
                        max_book_age=settings.mpx_max_book_age,
                        groups=groups, relations=relations, ask_at=books.ask_at, quote_at=books.quote_at,
                        observed_now=True, tops=tops,
                        venue_pairs=db_pairs.load_pairs(conn, markets),
                        max_cross_venue_skew=settings.mpx_max_cross_venue_skew)
    steppers = {label: Stepper([spec], improve_bps=settings.mpx_episode_improve_bps) for label, spec in specs}
    steps = replay.passes(conn, start, end)
    result = BacktestResult(steps=len(steps))
    setup_s = time.perf_counter() - t0
    read_s, rules_s = _replay(history_src, universe, books, steppers, steps, start, lookback, result, speed=speed,
                              on_hit=on_hit, on_progress=on_progress)
    read_s += setup_s
    result.read_s, result.rules_s = read_s, rules_s
    if pnl:
        _price(conn, result, specs, books, markets, bar, indicator_shares)
    result.rows = len(result.hits)
    result.details = {"ticks": result.ticks, "steps": result.steps, "hits": len(result.hits),
                      "read_s": round(read_s, 3), "rules_s": round(rules_s, 3)}
    return result


def _replay(source: History, universe: Universe, books: replay.LazyBooks, steppers: Mapping[str, Stepper],
            steps: Sequence[tuple[datetime, frozenset[str], str | None]], start: datetime, lookback: timedelta,
            result: BacktestResult, *, speed: float, on_hit: Callable[[Hit], None] | None,
            on_progress: Callable[[int], None] | None) -> tuple[float, float]:
    """Every pass of the window into the books (and price history) and through each variant's
    stepper; the hits into ``result``. Returns (seconds reading, seconds in the rules)."""
    history = universe.history
    tops = books.tops
    # the kinds that look back (SPIKE, TREND_BREAKOUT) price a market by its YES token: only those
    # tokens' mids are kept
    priced = np.zeros(len(tops.bid), bool)
    priced[[tops.index[m.yes.token_id] for m in universe.markets.values() if m.outcomes]] = True
    pass_at = {ts: (missing, venue) for ts, missing, venue in steps}
    read_s = rules_s = 0.0
    prev: datetime | None = None
    first = True
    t = time.perf_counter()
    for ts, tick in source.stream([s for s, _, _ in steps], start, tops):
        if isinstance(tick, replay.ColumnarPass):
            books.put_columns(ts, tick.idx, tick.bid, tick.ask, tick.code)
            n = len(tick.idx)
        else:
            books.put_pass(ts, tick.tokens, tick.bids, tick.asks, tick.rest)
            n = len(tick.tokens)
        if isinstance(history, MidHistory):
            idx = tops.last_pass
            history.put(ts, idx, tops.bid[idx], tops.ask[idx], priced)
            history.advance(ts)
        changed = None if first else tops.changed_markets()
        now = time.perf_counter()
        read_s += now - t
        t = now
        touched = advance(universe, Pass(ts, changed, *pass_at[ts]))
        for label, stepper in steppers.items():
            for a in stepper.step(universe, touched).alerts:
                hit = Hit(ts, label, a.signal, a.reason)
                result.hits.append(hit)
                if on_hit:
                    on_hit(hit)
        first = False
        result.ticks += n
        now = time.perf_counter()
        rules_s += now - t
        if speed > 0 and prev is not None:
            time.sleep((ts - prev).total_seconds() / speed)
        prev = ts
        if on_progress:
            on_progress(n)
        t = time.perf_counter()
    return read_s, rules_s


def _price(conn: Any, result: BacktestResult, specs: Sequence[tuple[str, RuleSpec]], books: replay.LazyBooks,
           markets: Mapping[str, Market], bar: DeployBar, indicator_shares: Decimal) -> None:
    """Each hit's trade (see :mod:`mpx.domain.backtest`): arbitrage locked in at entry, indicators
    valued at resolution or at the window's last best bid."""
    settle = {o.token_id: o.settle_price for h in result.hits if h.signal.entry is not None
              for m in [markets.get(h.signal.entry.market_id)] if m is not None for o in m.outcomes}
    priced = []
    for h in result.hits:
        trade = trade_for(h.signal, h.variant, settle, books, markets, indicator_shares)
        priced.append(Hit(h.ts, h.variant, h.signal, h.reason, trade))
    result.hits = priced
    for label, _ in specs:
        mine = [h for h in priced if h.variant == label]
        result.summaries.append(summarize(label, len(mine), [h.trade for h in mine if h.trade is not None], bar))


class History:
    """The ticks of a window as one history: days ``mpx archive`` moved to Parquet are read from the
    archive (DuckDB), every other day from PostgreSQL — never one day from both (the manifest
    ``tick_archive_day`` says which). Without an archive, all of it is PostgreSQL's."""

    def __init__(self, conn: Any, settings: Settings, start: datetime, end: datetime) -> None:
        self.conn = conn
        first = (start - timedelta(days=LOOK_BACK_DAYS)).date()
        self.archived = {d.day for d in db_archive.archived_days(conn) if first <= d.day <= end.date()}
        self.archive = ArchiveReader(settings.mpx_archive_dir, sorted(self.archived)) if self.archived else None
        self.start, self.end = start, end

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def _archived(self, ts: datetime) -> bool:
        return ts.astimezone(UTC).date() in self.archived

    def count(self) -> int:
        n = 0
        for kind, after, until in archive_segments(self.archived, self.start, self.end):
            n += self.archive.count(after, until) if kind == "archive" and self.archive else replay.count_ticks(
                self.conn, after, until)
        return n

    def books_as_of(self, at: datetime) -> dict[str, Book]:
        """Each token's book in force at ``at``: the newer of PostgreSQL's and the archive's."""
        books = ticks.books_as_of(self.conn, at)
        if self.archive is not None:
            for token, book in self.archive.latest_before(at).items():
                mine = books.get(token)
                if mine is None or (mine.ts is not None and book.ts is not None and book.ts > mine.ts):
                    books[token] = book
        return books

    def price_history(self, since: datetime, until: datetime, tokens: set[str]) -> dict[str, list[PricePoint]]:
        out = ticks.price_history(self.conn, since, until)
        if self.archive is None:
            return out
        archived = self.archive.price_history(since, until, tokens)
        for token, points in archived.items():  # one list per token, ascending, each time once
            merged = {p.ts: p for p in out.get(token, ())}
            merged.update((p.ts, p) for p in points)
            out[token] = sorted(merged.values(), key=lambda p: p.ts)
        return out

    def stream(self, steps: list[datetime], start: datetime, tops: Tops
               ) -> Iterator[tuple[datetime, replay.PassTicks | replay.ColumnarPass]]:
        """Each step's ticks, from the archive for archived days and from PostgreSQL otherwise."""
        prev = start
        i = 0
        while i < len(steps):
            archived = self._archived(steps[i])
            j = i
            while j < len(steps) and self._archived(steps[j]) == archived:
                j += 1
            run = steps[i:j]
            if archived and self.archive is not None:
                yield from self.archive.stream(run, prev, tops)
            else:
                yield from replay.stream(self.conn, run, prev)
            prev = run[-1]
            i = j
