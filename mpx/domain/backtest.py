"""Backtest math — pure: rule variants for a sweep, the PnL of a hit, per-rule summaries and the
DEPLOY / NO-DEPLOY verdict.

A hit is what ``mpx evaluate`` would have stored as a signal at that step: the same rule code
(:func:`mpx.domain.rules.engine.evaluate_rules`) and the same episode tracking
(:func:`mpx.domain.rules.episodes.track`), so an opportunity that persists is one hit, not one per
pass.

PnL of a hit depends on its class:

* **arbitrage** — the set's payout is guaranteed in every state, so its PnL is locked in at entry:
  ``(payout per set × sets) − cost incl. fees`` (:attr:`~mpx.domain.findings.Arbitrage.profit`). A
  complete set is worth its payout at any moment (it can be merged or redeemed); it is never
  marked to the legs' mids.
* **indicator** with an entry (SPIKE, TREND_BREAKOUT, ENDGAME) — what a position taken at the
  signal would have made: ``shares`` of the entry token bought at the entry price plus the taker
  fee, valued at **resolution** when the market resolved (``settle_price``) or else at the
  **window's end**, sold at the last best bid of the window minus the taker fee of that sale (0
  with no bids: nothing to sell to)::

      pnl = shares × exit price − exit fee − (shares × entry price + entry fee)

  Indicators without an entry (a possible relation's gap) are not traded.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import ValidationError

from mpx.domain.findings import FindingClass
from mpx.domain.models import NO_FEES, ZERO, Book, Market
from mpx.domain.money import taker_fee
from mpx.domain.rules.base import LEVELS, RuleSpec, Signal


class SweepError(ValueError):
    """A sweep that names an unknown key or a value the rule rejects."""


def parse_sweep(specs: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``["size=50,100", "levels.P1=100,150"]`` → ``[("size", ["50", "100"]), …]``."""
    out = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not vals:
            raise SweepError(f"--sweep {spec!r}: expected KEY=V1,V2,… (a params key, or levels.P1|P2|P3)")
        out.append((key.strip(), vals))
    return out


def variants(rule: RuleSpec, sweep: Sequence[tuple[str, list[str]]]) -> list[tuple[str, RuleSpec]]:
    """One rule spec per combination of the sweep's values (the cartesian product), each with a
    label like ``size=50 levels.P1=100``; without a sweep, the rule itself labelled ``""``."""
    if not sweep:
        return [("", rule)]
    out = []
    for combo in itertools.product(*[vals for _, vals in sweep]):
        params = rule.params.model_dump()
        levels = dict(rule.levels)
        label = " ".join(f"{k}={v}" for (k, _), v in zip(sweep, combo, strict=True))
        for (key, _), value in zip(sweep, combo, strict=True):
            name = key.removeprefix("params.")
            if name.startswith("levels."):
                level = name.removeprefix("levels.")
                if level not in LEVELS:
                    raise SweepError(f"--sweep {key}: levels are P1, P2, P3")
                try:
                    levels[level] = Decimal(value)
                except ArithmeticError:
                    raise SweepError(f"--sweep {key}={value}: not a number") from None
            elif name in params:
                params[name] = value
            else:
                raise SweepError(f"--sweep {key}: {rule.type} has no such parameter "
                                 f"(it has {', '.join(sorted(params))}, and levels.P1|P2|P3)")
        try:
            new_params = type(rule.params).model_validate(params)
        except ValidationError as exc:
            raise SweepError(f"--sweep {label}: {exc.errors()[0]['msg']}") from None
        out.append((label, replace(rule, id=f"{rule.id}[{label}]", params=new_params, levels=levels)))
    return out


ExitBasis = Literal["locked_at_entry", "resolution", "window_end"]


@dataclass(frozen=True, slots=True)
class Trade:
    ts: datetime
    variant: str
    rule_id: str
    finding_class: FindingClass
    shares: Decimal
    entry: Decimal
    """What the position cost, fees included."""
    exit_value: Decimal
    """What it paid or sold for, fees of the sale deducted."""
    exit: ExitBasis

    @property
    def pnl(self) -> Decimal:
        return self.exit_value - self.entry

    @property
    def resolved(self) -> bool:
        """The value is certain: locked in at entry (arbitrage) or paid at resolution."""
        return self.exit != "window_end"


DEFAULT_INDICATOR_SHARES = Decimal(100)


def trade_for(signal: Signal, variant: str, settle: Mapping[str, Decimal | None], last_books: Mapping[str, Book],
              markets: Mapping[str, Market], indicator_shares: Decimal = DEFAULT_INDICATOR_SHARES) -> Trade | None:
    """The trade a hit stands for (see the module docstring); ``None`` for an indicator without an
    entry."""
    arb = signal.arbitrage
    if arb is not None:
        return Trade(signal.ts, variant, signal.rule_id, "arbitrage", arb.shares, arb.cost, arb.payout,
                     "locked_at_entry")
    entry = signal.entry
    if entry is None:
        return None
    market = markets.get(entry.market_id)
    fee = market.fee if market is not None else NO_FEES
    shares = indicator_shares
    cost = shares * entry.price + taker_fee(shares, entry.price, fee)
    settled = settle.get(entry.token_id)
    if settled is not None:
        return Trade(signal.ts, variant, signal.rule_id, "indicator", shares, cost, shares * settled, "resolution")
    book = last_books.get(entry.token_id)
    bid = (book.best_bid if book is not None else None) or ZERO
    value = shares * bid - taker_fee(shares, bid, fee)
    return Trade(signal.ts, variant, signal.rule_id, "indicator", shares, cost, value, "window_end")


@dataclass(frozen=True, slots=True)
class DeployBar:
    min_trades: int = 1
    min_hit_rate: Decimal = Decimal("0.5")
    min_total_pnl: Decimal = ZERO
    max_drawdown: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    variant: str
    hits: int
    trades: int
    total_pnl: Decimal
    hit_rate: Decimal | None
    avg_pnl: Decimal | None
    worst_pnl: Decimal | None
    max_drawdown: Decimal
    verdict: str
    why: str

    def as_row(self) -> dict[str, Any]:
        return {"variant": self.variant or "(rule as written)", "hits": self.hits, "trades": self.trades,
                "total_pnl": self.total_pnl, "hit_rate": self.hit_rate, "avg_pnl": self.avg_pnl,
                "worst_pnl": self.worst_pnl, "max_drawdown": self.max_drawdown, "verdict": self.verdict,
                "why": self.why}


def max_drawdown(pnls: Sequence[Decimal]) -> Decimal:
    """The largest fall of cumulative PnL from a previous peak (0 when it never falls)."""
    peak = cum = worst = ZERO
    for p in pnls:
        cum += p
        peak = max(peak, cum)
        worst = max(worst, peak - cum)
    return worst


def summarize(variant: str, hits: int, trades: Sequence[Trade], bar: DeployBar) -> Summary:
    pnls = [t.pnl for t in sorted(trades, key=lambda t: t.ts)]
    total = sum(pnls, ZERO)
    n = len(pnls)
    rate = (Decimal(sum(1 for p in pnls if p > 0)) / n).quantize(Decimal("0.0001")) if n else None
    avg = (total / n).quantize(Decimal("0.00001")) if n else None
    worst = min(pnls) if pnls else None
    dd = max_drawdown(pnls)
    fails = []
    if n < bar.min_trades:
        fails.append(f"{n} trade(s) < {bar.min_trades}")
    if rate is not None and rate < bar.min_hit_rate:
        fails.append(f"hit rate {rate} < {bar.min_hit_rate}")
    if total <= bar.min_total_pnl:
        fails.append(f"PnL {total} <= {bar.min_total_pnl}")
    if bar.max_drawdown is not None and dd > bar.max_drawdown:
        fails.append(f"drawdown {dd} > {bar.max_drawdown}")
    return Summary(variant, hits, n, total, rate, avg, worst, dd, "NO-DEPLOY" if fails else "DEPLOY",
                   "; ".join(fails) or "clears the bar")
