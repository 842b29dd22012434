"""``mpx evaluate``: one pass — the rules over every ingest pass newer than the watermark, folded into
opportunities (episodes) that open, update and close; a signal is stored when an opportunity opens
or improves materially (see :mod:`mpx.domain.rules.episodes`). Opportunities, signals and the
watermark are written in one transaction."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import opportunities as db_opps
from mpx.adapters.db import signals as db_signals
from mpx.adapters.db import state, ticks
from mpx.domain.models import POLYMARKET, Book, PricePoint
from mpx.domain.rules.base import RuleSpec, Signal, Universe
from mpx.domain.rules.dsl import load_rules
from mpx.domain.rules.engine import lookback_for
from mpx.domain.rules.episodes import Alert, Opportunity
from mpx.domain.rules.stepper import Pass, Stepper, advance
from mpx.jobs import alerts
from mpx.jobs.contract import Context, JobResult
from mpx.jobs.pairs import refresh_pairs
from mpx.jobs.synonyms import refresh_synonyms
from mpx.log import get_logger
from mpx.settings import Settings

log = get_logger(__name__)

WATERMARK_KEY = "evaluate:watermark"
MAX_STEPS = 500
"""At most this many ingest passes per evaluate pass; the rest wait for the next one (nothing lost)."""


@dataclass
class EvaluateResult(JobResult):
    steps: int = 0
    signals: list[Signal] = field(default_factory=list)
    opened: int = 0
    closed: int = 0
    alerts: alerts.FlushResult | None = None
    watermark: datetime | None = None
    backlog: bool = False


def load_rule_set(settings: Settings) -> list[RuleSpec]:
    """Load and validate ``MPX_RULES_DIR``; raises ConfigError (exit 78) listing every problem."""
    return load_rules([settings.mpx_rules_dir])


def run_evaluate(ctx: Context[EvaluateResult], rules: Sequence[RuleSpec]) -> EvaluateResult:
    """One evaluate pass, then the alert outbox is flushed (also when there were no new ticks, so an
    alert that failed earlier goes out now). A Telegram problem is a warning, never the pass."""
    result = _evaluate(ctx, rules)
    try:
        flushed = alerts.flush(ctx.conn, ctx.settings)
    except psycopg.OperationalError:
        raise  # the database went away: the job contract reports it (75)
    except Exception as exc:  # alerts must never cost the evaluate pass
        ctx.conn.rollback()
        log.warning(f"alert flush failed: {type(exc).__name__}: {exc}", extra={"job": "evaluate"})
        result.warnings.append("alerts not flushed this pass; the next pass retries")
    else:
        result.alerts = flushed
        result.details.update(alerts_sent=flushed.sent, alerts_pending=flushed.pending, alerts_dry_run=flushed.dry_run,
                              alerts_failed=flushed.failed)
        if flushed.errors:
            result.warnings.append(f"{flushed.line} ({flushed.errors[0]})")
    ctx.metrics.gauge("mpx_telegram_failures_total", "Telegram sends that failed, since the database was created"
                      ).set(alerts.failures_total(ctx.conn))
    ctx.conn.commit()
    return result


def _evaluate(ctx: Context[EvaluateResult], rules: Sequence[RuleSpec]) -> EvaluateResult:
    """Load what the passes since the watermark need, step the rules through them, save."""
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
    clock = _Clock()
    t = time.perf_counter()
    universe, relinked = _load(ctx, rules, start=watermark or passes[0][0])
    stepper = Stepper(rules, improve_bps=ctx.settings.mpx_episode_improve_bps, open_=db_opps.load_open(conn),
                      last_alerts=_LastAlerts(conn))
    touched_opps: dict[int, Opportunity] = {id(o): o for o in stepper.open.values()}
    clock.read += time.perf_counter() - t
    found_alerts: list[Alert] = []
    found = opened = closed = 0
    prev = watermark
    for ts, missing, venue in passes:
        changed: set[str] | None = None
        t = time.perf_counter()
        if watermark is not None:  # the first run only looks at the latest state, as loaded
            changed, relinked = relinked, set()  # new or changed groups/relations: looked at again now
            _apply_ticks(conn, prev, ts, universe, changed)
        clock.read += time.perf_counter() - t
        t = time.perf_counter()
        touched = advance(universe, Pass(ts, None if changed is None else frozenset(changed), frozenset(missing),
                                         venue))
        step = stepper.step(universe, touched)
        touched_opps.update((id(o), o) for o in step.opened)
        found_alerts.extend(step.alerts)
        found += step.found
        opened += len(step.opened)
        closed += len(step.closed)
        prev = ts
        clock.evaluate += time.perf_counter() - t

    t = time.perf_counter()
    kept, inserted, queued = _save(ctx, touched_opps.values(), found_alerts)
    new_wm = passes[-1][0]
    state.set_state(conn, WATERMARK_KEY, new_wm.isoformat())
    conn.commit()
    clock.write += time.perf_counter() - t
    _metrics(ctx, conn, clock)
    return EvaluateResult(
        rows=inserted, steps=len(passes), signals=kept, watermark=new_wm, backlog=backlog, opened=opened,
        closed=closed,
        details={"steps": len(passes), "found": found, "new_signals": inserted, "alerts_queued": queued,
                 "opened": opened, "closed": closed,
                 "open": len(stepper.open), "backlog": backlog, "read_s": round(clock.read, 3),
                 "eval_s": round(clock.evaluate, 3), "write_s": round(clock.write, 3)},
        warnings=[f"more than {MAX_STEPS} ingest passes pending; the rest are evaluated next pass"]
        if backlog else [],
    )


def _load(ctx: Context[EvaluateResult], rules: Sequence[RuleSpec], start: datetime) -> tuple[Universe, set[str]]:
    """The universe as of ``start`` (markets, synonym links, books, price history), and the markets
    whose groups or relations just changed."""
    conn = ctx.conn
    markets, events = db_markets.load_reference(conn)
    links = refresh_synonyms(conn, ctx.settings, markets, events)
    pairs, repaired = refresh_pairs(conn, markets)
    lookback = lookback_for(rules)
    books = ticks.books_as_of(conn, start)
    history = ticks.price_history(conn, start - lookback, start) if lookback else {}
    observed: dict[str, datetime] = {t: b.ts for t, b in books.items() if b.ts is not None}
    universe = Universe(as_of=start, markets=markets, events=events, books=books, history=history, changed=None,
                        max_book_age=ctx.settings.mpx_max_book_age, observed=observed, groups=links.groups,
                        relations=links.relations, venue_pairs=pairs,
                        max_cross_venue_skew=ctx.settings.mpx_max_cross_venue_skew)
    return universe, set(links.relinked) | repaired


def _save(ctx: Context[EvaluateResult], opportunities: Iterable[Opportunity],
          found: Sequence[Alert]) -> tuple[list[Signal], int, int]:
    """Opportunities, the signals worth an alert and their outbox rows, in the pass's transaction."""
    conn = ctx.conn
    db_opps.save(conn, opportunities)
    how = alerts.transport(ctx.settings)
    kept = [replace(a.signal, payload={**a.signal.payload, "transport": how}) for a in found]
    last_id = db_signals.max_id(conn)
    inserted = db_signals.insert_signals(conn, kept, [(a.opportunity.id, a.reason) for a in found])
    queued = alerts.enqueue(conn, ctx.settings, last_id)
    for a in found:
        sig = a.signal
        log.info("signal", extra={"job": "evaluate", "ruleId": sig.rule_id, "marketId": sig.market_id or sig.group_key,
                                  "level": sig.level, "class": sig.finding_class, "metric": str(sig.metric),
                                  "reason": a.reason, "opportunity": a.opportunity.id})
    return kept, inserted, queued


@dataclass
class _Clock:
    """Where a pass spends its time: reading ticks into books, evaluating the rules, writing."""

    read: float = 0.0
    evaluate: float = 0.0
    write: float = 0.0


class _LastAlerts:
    """signature → time of its latest stored signal, looked up on first use (only for signatures
    that open an opportunity, which is rare)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._cache: dict[str, datetime | None] = {}

    def get(self, signature: str, default: datetime | None = None) -> datetime | None:
        if signature not in self._cache:
            self._cache[signature] = db_signals.last_seen(self._conn, [signature]).get(signature)
        return self._cache[signature] or default


def _apply_ticks(conn: psycopg.Connection, after: datetime | None, until: datetime, universe: Universe,
                 changed: set[str]) -> None:
    """The ticks of the passes in ``(after, until]`` into the universe's books and price history."""
    start = after or until - timedelta(microseconds=1)
    books, history = universe.books, universe.history
    assert isinstance(books, dict) and isinstance(history, dict)
    for ts, token, market, book in ticks.ticks_at(conn, start, until):
        books[token] = book
        changed.add(market)
        if book.mid is not None:
            history.setdefault(token, []).append(PricePoint(ts, book.mid))


def _metrics(ctx: Context[EvaluateResult], conn: psycopg.Connection, clock: _Clock) -> None:
    ctx.metrics.gauge("mpx_rule_eval_ms", "Time the rules took in the last evaluate pass").set(
        round(clock.evaluate * 1000, 3))
    ctx.metrics.gauge("mpx_evaluate_read_ms", "Time reading ticks into books in the last evaluate pass").set(
        round(clock.read * 1000, 3))
    g = ctx.metrics.gauge("mpx_signals_total", "Signals stored, by rule", ("rule",))
    for rule_id, n in db_signals.counts_by_rule(conn).items():
        g.labels(rule_id).set(n)
    conn.commit()


class LiveEvaluator:
    """The rules stepped in-process on every stream flush (``mpx stream --evaluate``).

    The universe is loaded once, as ``mpx evaluate`` loads it, then moved by the flushed books
    themselves (no re-read of the ticks just written); each flush is one step of the same episode
    logic (:class:`Stepper`), and its opportunities, signals, outbox rows and the evaluate
    watermark are written in the flush's own transaction — so a later ``mpx evaluate`` starts
    after the stream's passes, and never evaluates them twice. The caller holds the ``evaluate``
    lock for the whole stream pass."""

    def __init__(self, ctx: Context[Any], rules: Sequence[RuleSpec]) -> None:
        conn = ctx.conn
        self.ctx = ctx
        start = ticks.last_pass(conn) or datetime.now(UTC)
        self.universe, self.relinked = _load(ctx, rules, start)
        self.stepper = Stepper(rules, improve_bps=ctx.settings.mpx_episode_improve_bps, open_=db_opps.load_open(conn),
                               last_alerts=_LastAlerts(conn))
        conn.commit()
        self.depth = ctx.settings.mpx_book_depth
        self.lookback = lookback_for(rules)
        self.steps = self.opened = self.closed = self.signals = 0
        self.seconds: list[float] = []

    def step(self, ts: datetime, books: Sequence[Book], missing: Sequence[str]) -> None:
        """One pass (the flush at ``ts`` with these books; ``missing`` unobserved), inside the
        caller's transaction."""
        t = time.perf_counter()
        u = self.universe
        assert isinstance(u.books, dict) and isinstance(u.history, dict)
        market_of = u.market_of()
        changed, self.relinked = set(self.relinked), set()
        for b in books:
            market = market_of.get(b.token_id)
            if market is None:
                continue
            book = replace(b.top(self.depth), ts=ts)
            u.books[b.token_id] = book
            changed.add(market)
            if self.lookback and book.mid is not None:
                u.history.setdefault(b.token_id, []).append(PricePoint(ts, book.mid))
        if self.lookback and self.steps % 300 == 0:
            self._prune(ts - self.lookback)
        touched = advance(u, Pass(ts, frozenset(changed), frozenset(missing), POLYMARKET))
        step = self.stepper.step(u, touched)
        opps = {id(o): o for o in [*self.stepper.open.values(), *step.closed]}
        _, inserted, _ = _save(self.ctx, opps.values(), step.alerts)
        state.set_state(self.ctx.conn, WATERMARK_KEY, ts.isoformat())
        self.steps += 1
        self.opened += len(step.opened)
        self.closed += len(step.closed)
        self.signals += inserted
        self.seconds.append(time.perf_counter() - t)

    def _prune(self, since: datetime) -> None:
        """Price history older than the rules look back, but the point in force at ``since``, goes."""
        assert isinstance(self.universe.history, dict)
        for points in self.universe.history.values():
            keep = next((i for i, p in enumerate(points) if p.ts > since), len(points))
            if keep > 1:
                del points[:keep - 1]
