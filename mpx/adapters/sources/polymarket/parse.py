"""Parsing of Gamma and CLOB responses into domain objects (API_NOTES.md has the traps).

- ``outcomes``, ``outcomePrices`` and ``clobTokenIds`` are JSON arrays *inside strings*;
- token ids are 75–78 digit decimal strings: kept as text, never numbers;
- every field is optional; two timestamp formats; numbers arrive as strings or as floats with
  binary noise (the caller decodes JSON floats straight to ``Decimal``);
- books list bids ascending and asks descending (best level LAST): normalised to best-first;
- ``takerBaseFee``/``base_fee`` are basis-point caps, not the fee rate: the rate comes only from
  ``feeSchedule``; fees enabled without a schedule → rate unknown (never P1).

Nothing is guessed: an unusable market or level is dropped and counted, with a reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mpx.domain.models import Book, Event, FeeSchedule, Level, Market, MarketStatus, Outcome

DEFAULT_TICK = Decimal("0.01")
DEFAULT_MIN_ORDER = Decimal("5")


@dataclass
class ParseReport:
    problems: list[str] = field(default_factory=list)
    dropped_markets: int = 0
    dropped_events: int = 0
    dropped_levels: int = 0
    dropped_books: int = 0
    duplicates: int = 0  # events listed twice (offset paging over a shifting list does this)

    def note(self, message: str) -> None:
        if len(self.problems) < 50:  # keep logs readable on a bad day
            self.problems.append(message)


def _dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _json_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, list) else None
    return None


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 with ``Z`` or the space form ``2025-08-21 19:44:00+00``; naive → UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    if text.endswith(("+00", "-00")) and text[-3] in "+-":
        text += ":00"
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _fee(m: dict[str, Any]) -> FeeSchedule:
    enabled = m.get("feesEnabled")
    schedule = m.get("feeSchedule")
    if enabled is True:
        if isinstance(schedule, dict):
            rate = _dec(schedule.get("rate"))
            exponent = _dec(schedule.get("exponent"))
            exp = int(exponent) if exponent is not None and exponent == exponent.to_integral_value() else 1
            return FeeSchedule(True, rate if rate is not None and rate >= 0 else None, exp)
        return FeeSchedule(True, None, 1)
    if enabled is None:
        # pre-2026 objects have no feesEnabled: a non-zero base fee (a bps cap) means "some fee, rate unknown"
        base = _dec(m.get("takerBaseFee"))
        if base is not None and base > 0:
            return FeeSchedule(True, None, 1)
    return FeeSchedule()


def _category(event: dict[str, Any]) -> str | None:
    if isinstance(event.get("category"), str) and event["category"]:
        return str(event["category"])
    tags = event.get("tags")
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict) and isinstance(tag.get("label"), str) and tag["label"]:
                return str(tag["label"])
    return None


def parse_market(m: Any, event: dict[str, Any], report: ParseReport,
                 reasons: list[str] | None = None) -> Market | None:
    """One Gamma market object (nested in an event) → Market, or None with a reason noted (and
    appended to ``reasons`` when given: the event's own record of what it lost)."""

    def drop(why: str) -> None:
        report.dropped_markets += 1
        report.note(why)
        if reasons is not None:
            reasons.append(why)

    if not isinstance(m, dict):
        drop(f"event {event.get('id')}: market is not an object")
        return None
    cid = m.get("conditionId")
    question = m.get("question")
    where = f"market {cid or m.get('id') or '?'}"
    if not isinstance(cid, str) or not cid:
        drop(f"{where}: missing conditionId")
        return None
    if not isinstance(question, str) or not question.strip():
        drop(f"{where}: missing question")
        return None
    tokens = _json_list(m.get("clobTokenIds"))
    if not tokens or len(tokens) < 2 or not all(isinstance(t, str) and t.isdigit() for t in tokens):
        drop(f"{where}: clobTokenIds is not a list of decimal token ids")
        return None
    labels = _json_list(m.get("outcomes")) or []
    if len(labels) != len(tokens) or not all(isinstance(x, str) for x in labels):
        labels = ["Yes", "No"] if len(tokens) == 2 else [f"Outcome {i}" for i in range(len(tokens))]
    tick = _dec(m.get("orderPriceMinTickSize"))
    if tick is None or not Decimal(0) < tick < 1:
        tick = DEFAULT_TICK
    min_size = _dec(m.get("orderMinSize"))
    if min_size is None or min_size < 0:
        min_size = DEFAULT_MIN_ORDER
    status: MarketStatus = "active"
    if m.get("closed") is True:
        status = "resolved" if m.get("umaResolutionStatus") == "resolved" else "closed"
    accepting = m.get("acceptingOrders") is not False and m.get("enableOrderBook") is not False
    settle = _settle_prices(m, len(tokens)) if status == "resolved" else None
    return Market(
        id=cid,
        question=question.strip(),
        outcomes=tuple(Outcome(str(t), cid, str(label), i, settle[i] if settle else None)
                       for i, (t, label) in enumerate(zip(tokens, labels, strict=True))),
        event_id=str(event.get("id")) if event.get("id") is not None else None,
        slug=str(m.get("slug") or ""),
        end_date=parse_time(m.get("endDate")) or parse_time(event.get("endDate")),
        status=status,
        accepting_orders=accepting,
        active=m.get("active") is not False,
        fee=_fee(m),
        tick_size=tick,
        min_order_size=min_size,
        category=_category(event),
        neg_risk=m.get("negRisk") is True or (m.get("negRisk") is None and event.get("negRisk") is True),
        neg_risk_other=m.get("negRiskOther") is True,
        liquidity=_dec(m.get("liquidityNum")) if m.get("liquidityNum") is not None else _dec(m.get("liquidity")),
        description=m["description"].strip() if isinstance(m.get("description"), str) else "",
        resolution_source=m["resolutionSource"].strip() if isinstance(m.get("resolutionSource"), str) else "",
    )


def _settle_prices(m: dict[str, Any], n: int) -> list[Decimal] | None:
    """A resolved market's payout per share of each outcome, from ``outcomePrices`` (a JSON list
    inside a string): only when every price is in [0, 1] and they sum to 1 (``["0", "1"]``, or a
    50-50 ``["0.5", "0.5"]``); anything else is not a resolution we can trust."""
    prices = [_dec(x) for x in _json_list(m.get("outcomePrices")) or []]
    if len(prices) != n or any(p is None or not Decimal(0) <= p <= 1 for p in prices):
        return None
    vals = [p for p in prices if p is not None]
    return vals if sum(vals) == 1 else None


def parse_events(payload: Any, report: ParseReport) -> tuple[list[Event], list[Market]]:
    """A Gamma ``/events`` page (a JSON list) → events and their markets. Raises ValueError when the
    page itself is not a list (the whole response is unusable)."""
    if not isinstance(payload, list):
        raise ValueError(f"events response is a JSON {type(payload).__name__}, not a list")
    by_id: dict[str, tuple[Event, list[Market]]] = {}
    for ev in payload:
        if not isinstance(ev, dict) or ev.get("id") is None:
            report.dropped_events += 1
            report.note("event without an id dropped")
            continue
        title = ev.get("title")
        nested = ev.get("markets")
        listed = nested if isinstance(nested, list) else []
        reasons: list[str] = []
        parsed = [mk for mk in (parse_market(x, ev, report, reasons) for x in listed) if mk is not None]
        event = Event(
            id=str(ev["id"]),
            title=str(title) if isinstance(title, str) and title else (parsed[0].question if parsed else str(ev["id"])),
            market_ids=tuple(mk.id for mk in parsed),
            neg_risk=ev.get("negRisk") is True,
            neg_risk_augmented=ev.get("negRiskAugmented") is True,
            end_date=parse_time(ev.get("endDate")),
            category=_category(ev),
            listed_markets=len(listed),
            dropped=tuple(reasons),
        )
        if event.id in by_id:  # the same event on two pages: the later copy wins
            report.duplicates += 1
            del by_id[event.id]
        by_id[event.id] = (event, parsed)
    events: list[Event] = []
    markets: dict[str, Market] = {}
    for event, parsed in by_id.values():
        events.append(event)
        for mk in parsed:
            markets.pop(mk.id, None)
            markets[mk.id] = mk
    return events, list(markets.values())


def _levels(raw: Any, report: ParseReport, *, descending: bool) -> tuple[Level, ...]:
    if not isinstance(raw, list):
        return ()
    out: list[Level] = []
    for entry in raw:
        price = _dec(entry.get("price")) if isinstance(entry, dict) else None
        size = _dec(entry.get("size")) if isinstance(entry, dict) else None
        if price is None or size is None or not Decimal(0) < price < 1 or size <= 0:
            report.dropped_levels += 1
            continue
        out.append(Level(price, size))
    out.sort(key=lambda lv: lv.price, reverse=descending)
    return tuple(out)


def parse_book(obj: Any, report: ParseReport) -> Book | None:
    """A CLOB book object → Book (best-first), or None when it names no token."""
    if not isinstance(obj, dict) or not isinstance(obj.get("asset_id"), str) or not obj["asset_id"]:
        report.dropped_books += 1
        report.note("book without an asset_id dropped")
        return None
    last = _dec(obj.get("last_trade_price"))
    ts_ms = _dec(obj.get("timestamp"))
    ts = datetime.fromtimestamp(float(ts_ms) / 1000, UTC) if ts_ms is not None and ts_ms > 0 else None
    return Book(
        token_id=obj["asset_id"],
        bids=_levels(obj.get("bids"), report, descending=True),
        asks=_levels(obj.get("asks"), report, descending=False),
        ts=ts,
        last_trade=last if last is not None and Decimal(0) <= last <= 1 else None,
    )
