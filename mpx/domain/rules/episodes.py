"""Episodes: signals with the same signature form one opportunity that opens, updates and closes.

Each evaluation step the engine reports what is there *now*. :func:`track` folds a step's signals
into the open opportunities:

* a signature with no open opportunity **opens** one — an alert (a stored signal, reason
  ``opened``) unless the same signature alerted within the rule's cooldown;
* a signature with an open opportunity **updates** it (last and max edge, max executable size,
  best level, step count). It alerts again (reason ``improved``) only when it improves
  materially: its level rises (P3 → P2 → P1), or its net edge exceeds the edge it last alerted at
  by ``improve_bps`` — and never within the cooldown of its last alert;
* an open opportunity that is *not* reported in a step **closes** at that step's time — but only
  if the rule could have seen it: rules report only on markets that changed (or on every market
  when ``touched`` is ``None``), so an opportunity whose markets were neither changed nor lost
  (a token missing from the pass) is simply still there. An opportunity of a rule that is no
  longer enabled closes too.

Pure: the evaluate job and the backtest run the same code, and tests drive it directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from mpx.domain.findings import FindingClass
from mpx.domain.rules.base import LEVELS, Signal, SignalLevel

AlertReason = Literal["opened", "improved"]


class AlertTimes(Protocol):
    """signature → time of its latest stored alert (a dict will do)."""

    def get(self, signature: str, /) -> datetime | None: ...


@dataclass(slots=True)
class Opportunity:
    signature: str
    rule_id: str
    rule_type: str
    market_id: str | None
    group_key: str | None
    market_ids: frozenset[str]
    opened_at: datetime
    updated_at: datetime
    first_metric: Decimal
    """The finding's metric: the net edge (bps) of an arbitrage, the measure of an indicator."""
    last_metric: Decimal
    max_metric: Decimal
    best_level: SignalLevel
    last_message: str
    max_executable_shares: Decimal | None = None
    max_executable_notional: Decimal | None = None
    closed_at: datetime | None = None
    alerted_metric: Decimal | None = None
    alerted_level: SignalLevel | None = None
    last_alert_at: datetime | None = None
    steps: int = 1
    finding_class: FindingClass = "arbitrage"
    measure: str = "net_edge_bps"
    """What the metric columns hold: ``net_edge_bps`` for arbitrage, the indicator's measure name."""
    id: int | None = None
    """Database id once stored."""
    dirty: bool = field(default=True, compare=False)

    @property
    def duration(self) -> timedelta | None:
        return None if self.closed_at is None else self.closed_at - self.opened_at


@dataclass(frozen=True, slots=True)
class Alert:
    """A signal worth telling a trader about, and the opportunity it belongs to."""

    signal: Signal
    opportunity: Opportunity
    reason: AlertReason


@dataclass
class StepResult:
    alerts: list[Alert] = field(default_factory=list)
    opened: list[Opportunity] = field(default_factory=list)
    closed: list[Opportunity] = field(default_factory=list)
    found: int = 0
    """Signals the rules raised in the step (before episodes decided which alert)."""


def signal_markets(signal: Signal) -> frozenset[str]:
    """The markets a signal is about: its ``market_id`` and the payload's ``market_ids``/legs."""
    ids: set[str] = set()
    if signal.market_id:
        ids.add(signal.market_id)
    listed = signal.payload.get("market_ids")
    if isinstance(listed, list | tuple):
        ids.update(str(m) for m in listed)
    if signal.arbitrage is not None:
        ids.update(signal.arbitrage.market_ids)
    if signal.entry is not None:
        ids.add(signal.entry.market_id)
    return frozenset(ids)


def measure_name(signal: Signal) -> str:
    """What an opportunity's metric columns hold for this signal."""
    return "net_edge_bps" if signal.measure is None else signal.measure.name


def _higher(a: SignalLevel, b: SignalLevel | None) -> bool:
    """``a`` is a higher level than ``b`` (P1 is the highest)."""
    return b is None or LEVELS.index(a) < LEVELS.index(b)


def _max_opt(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def track(
    open_: dict[str, Opportunity],
    signals: Sequence[Signal],
    *,
    as_of: datetime,
    touched: frozenset[str] | None,
    cooldowns: Mapping[str, timedelta],
    active_rules: Iterable[str],
    improve_bps: Decimal = Decimal(25),
    last_alerts: AlertTimes | None = None,
) -> StepResult:
    """Fold one step's signals into ``open_`` (signature → open opportunity), in place.

    ``touched``: market ids the rules re-examined this step (changed, or with a token missing from
    the pass); ``None`` = all. ``last_alerts``: signature → time of its latest stored alert, so the
    cooldown also holds across episodes (an opportunity that flickers closed and open again does not
    re-alert within it). Returns the alerts, and the opportunities opened and closed.
    """
    previous: AlertTimes = last_alerts if last_alerts is not None else {}
    result = StepResult()
    reported: set[str] = set()
    for sig in signals:
        if sig.signature in reported:  # the first report of a signature in a step wins
            continue
        reported.add(sig.signature)
        cooldown = cooldowns.get(sig.rule_id, timedelta(0))
        metric = sig.metric
        opp = open_.get(sig.signature)
        if opp is None:
            opp = Opportunity(
                signature=sig.signature, rule_id=sig.rule_id, rule_type=sig.rule_type, market_id=sig.market_id,
                group_key=sig.group_key, market_ids=signal_markets(sig), opened_at=as_of, updated_at=as_of,
                first_metric=metric, last_metric=metric, max_metric=metric, best_level=sig.level,
                last_message=sig.message, max_executable_shares=sig.executable_shares,
                max_executable_notional=sig.executable_notional, finding_class=sig.finding_class,
                measure=measure_name(sig),
            )
            open_[sig.signature] = opp
            result.opened.append(opp)
            reason: AlertReason | None = "opened"
        else:
            reason = None
            material = _higher(sig.level, opp.alerted_level) or (
                opp.alerted_metric is not None and metric >= opp.alerted_metric + improve_bps
                and metric > opp.alerted_metric)
            if material:
                reason = "improved"
            opp.updated_at = as_of
            opp.last_metric = metric
            opp.max_metric = max(opp.max_metric, metric)
            opp.max_executable_shares = _max_opt(opp.max_executable_shares, sig.executable_shares)
            opp.max_executable_notional = _max_opt(opp.max_executable_notional, sig.executable_notional)
            if _higher(sig.level, opp.best_level):
                opp.best_level = sig.level
            opp.last_message = sig.message
            opp.market_ids = opp.market_ids | signal_markets(sig)
            opp.steps += 1
            opp.dirty = True
        last = opp.last_alert_at or previous.get(sig.signature)
        if reason is not None and (last is None or as_of - last >= cooldown):
            opp.alerted_metric = metric
            opp.alerted_level = sig.level
            opp.last_alert_at = as_of
            opp.dirty = True
            result.alerts.append(Alert(replace(sig, payload={**sig.payload, "alert": reason}), opp, reason))

    enabled = set(active_rules)
    for signature, opp in list(open_.items()):
        if signature in reported:
            continue
        seen = touched is None or bool(opp.market_ids & touched) or not opp.market_ids
        if seen or opp.rule_id not in enabled:
            opp.closed_at = as_of
            opp.dirty = True
            del open_[signature]
            result.closed.append(opp)
    return result
