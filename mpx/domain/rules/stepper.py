"""The pass stepper: one ingest pass at a time, the rules then the episodes — the loop `mpx evaluate`
and `mpx backtest` share, so a backtest's hits are what evaluate would have signalled.

* :func:`advance` moves a :class:`~mpx.domain.rules.base.Universe` to a :class:`Pass` (its time, the
  markets with new ticks, the tokens the pass could not observe) and returns the markets the rules
  re-examine in that step — the ones that changed or lost a book — which is what lets an episode
  close (``None``: every market);
* a :class:`Stepper` runs one rule set over the universe and folds what it finds into that rule
  set's open opportunities (:func:`mpx.domain.rules.episodes.track`), remembering when each
  signature last alerted so a cooldown also holds across episodes within one run.

The caller applies each pass's ticks to the universe's books (and price history) first: evaluate
reads them from PostgreSQL into books, the backtest streams them into lazily parsed books.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from mpx.domain.rules.base import RuleSpec, Universe
from mpx.domain.rules.engine import evaluate_rules
from mpx.domain.rules.episodes import AlertTimes, Opportunity, StepResult, track


@dataclass(frozen=True, slots=True)
class Pass:
    """One ingest pass as the rules see it."""

    ts: datetime
    changed: frozenset[str] | None
    """Markets with a new tick in this pass; ``None``: every market counts as changed (a first step)."""
    unobserved: frozenset[str] = frozenset()
    """Tokens the pass asked for and got no book for: their stored book is stale now."""
    venue: str | None = None
    """Whose pass it is: only that venue's books were observed in it (``None``: every venue's)."""


def advance(universe: Universe, p: Pass) -> frozenset[str] | None:
    """Move ``universe`` to pass ``p``; the markets the rules re-examine in it (``None``: all).

    Unless the universe says every book was observed now (a replayed pass), every token of the
    pass's venue the pass observed is marked observed at ``p.ts``: an unchanged book is still fresh,
    and another venue's book keeps the time of its own venue's last pass (a venue that is down goes
    stale while the other keeps passing)."""
    universe.as_of = p.ts
    universe.changed = p.changed
    universe.unobserved = p.unobserved
    if p.venue is not None:
        universe.venue_seen[p.venue] = p.ts
    if not universe.observed_now:
        observed = universe.observed
        for token in universe.tokens(p.venue):
            if token not in p.unobserved:
                observed[token] = p.ts
    if p.changed is None:
        return None
    market_of = universe.market_of()
    return p.changed | {market_of[t] for t in p.unobserved if t in market_of}


class _AlertClock:
    """When each signature last alerted: what this run alerted, else what the caller knows."""

    def __init__(self, before: AlertTimes | None) -> None:
        self._before = before
        self.alerted: dict[str, datetime] = {}

    def get(self, signature: str, /) -> datetime | None:
        found = self.alerted.get(signature)
        if found is None and self._before is not None:
            found = self._before.get(signature)
        return found


class Stepper:
    """One rule set's episodes over successive passes (see the module docstring)."""

    def __init__(self, rules: Sequence[RuleSpec], *, improve_bps: Decimal,
                 open_: dict[str, Opportunity] | None = None, last_alerts: AlertTimes | None = None) -> None:
        self.rules = list(rules)
        self.open: dict[str, Opportunity] = {} if open_ is None else open_
        self.improve_bps = improve_bps
        self._cooldowns: dict[str, timedelta] = {r.id: r.cooldown for r in self.rules}
        self._active = [r.id for r in self.rules if r.enabled]
        self._clock = _AlertClock(last_alerts)

    def step(self, universe: Universe, touched: frozenset[str] | None) -> StepResult:
        """The rules on the universe as it stands, folded into the open opportunities."""
        signals = evaluate_rules(self.rules, universe)
        if touched is not None:
            # a market that stopped trading (closed, resolved, halted: metadata, not a new tick) ends
            # every open opportunity on it now, not at its next tick (it has none)
            markets = universe.markets
            halted = {mid for o in self.open.values() for mid in o.market_ids
                      if (m := markets.get(mid)) is None or not m.tradable}
            if halted:
                touched = touched | halted
        result = track(self.open, signals, as_of=universe.as_of, touched=touched, cooldowns=self._cooldowns,
                       active_rules=self._active, improve_bps=self.improve_bps, last_alerts=self._clock)
        for alert in result.alerts:
            self._clock.alerted[alert.signal.signature] = universe.as_of
        result.found = len(signals)
        return result
