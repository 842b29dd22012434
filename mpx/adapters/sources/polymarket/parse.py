"""Parsing of Gamma and CLOB responses into domain objects (API_NOTES.md has the traps).

- ``outcomes``, ``outcomePrices`` and ``clobTokenIds`` are JSON arrays *inside strings*;
- the outcome ids are chosen by the market's ``version`` (API_NOTES_2026 §1): ``"v2"`` (Polymarket
  Protocol V2) → ``positionIds``, a real JSON array; ``"v1"`` → ``clobTokenIds``, even when
  ``positionIds`` is present too (the recorded 2026-09 v1 markets carry both; the CLOB book is keyed
  by the ``clobTokenIds`` value). The chosen id is the asset id of books, ticks and intents;
- token ids are 74–78 digit decimal strings: kept as text, never numbers;
- every field is optional; two timestamp formats; numbers arrive as strings or as floats with
  binary noise (the caller decodes JSON floats straight to ``Decimal``);
- books list bids ascending and asks descending (best level LAST): normalised to best-first;
- ``takerBaseFee``/``base_fee`` are basis-point caps, not the fee rate: the rate comes only from the
  market's own ``feeSchedule`` {rate, exponent, takerOnly, rebateRate} (never a category's published
  rate: those changed more than once in 2026); fees enabled without a usable schedule → rate
  unknown (never P1).

Nothing is guessed: an unusable market or level is dropped and counted, with a reason.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mpx.domain.models import Book, Event, FeeSchedule, Level, Market, MarketStatus, Outcome

DEFAULT_TICK = Decimal("0.01")
DEFAULT_MIN_ORDER = Decimal("5")

# Polymarket Protocol V2 markets exist since this date (API_NOTES_2026 §1). Gamma objects recorded
# before it carry no ``version`` at all (every pre-2026-04 file in the shared data: 46 event-nested
# markets, 0 with ``version``); every later recording has one (2026-09 NFL, 2026-10 elections).
# A market object *last updated* before V2 existed cannot be a V2 market, so a missing ``version``
# is read as "v1" only on such objects (counted as ``unversioned_v1``); on any later or undated
# object a missing version is rejected, as the V2 migration guide asks.
PROTOCOL_V2_LIVE = datetime(2026, 4, 28, tzinfo=UTC)
VERSIONS = ("v1", "v2")
_DECIMAL_ID = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also accepts "²" and "٣"


@dataclass
class ParseReport:
    problems: list[str] = field(default_factory=list)
    dropped_markets: int = 0
    dropped_events: int = 0
    dropped_levels: int = 0
    dropped_books: int = 0
    duplicates: int = 0  # events listed twice (offset paging over a shifting list does this)
    dropped_by_reason: Counter[str] = field(default_factory=Counter)
    """Dropped markets by kind of problem (``version_missing``, ``version_unknown``,
    ``outcome_ids``, ``outcome_count``, …): the ``dropped_markets`` total, broken down."""
    unversioned_v1: int = 0  # pre-V2 objects without ``version``, read as v1 (see PROTOCOL_V2_LIVE)
    fee_unknown: int = 0  # markets with fees enabled but no usable feeSchedule

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


def _fee(m: dict[str, Any], report: ParseReport | None = None, where: str = "market") -> FeeSchedule:
    """The market's own fee schedule. Fees on with a schedule that is missing or unusable (no
    rate, a rate outside [0, 1], a non-integer exponent) → enabled at an unknown rate: nothing is
    guessed, and such a market never yields a P1 finding nor an executable intent."""
    enabled = m.get("feesEnabled")
    schedule = m.get("feeSchedule")
    fee_type = m["feeType"] if isinstance(m.get("feeType"), str) and m["feeType"] else None

    def unknown(why: str) -> FeeSchedule:
        if report is not None:
            report.fee_unknown += 1
            report.note(f"{where}: fees enabled, {why}: fee rate unknown")
        return FeeSchedule(True, None, 1, fee_type=fee_type)

    if enabled is True:
        if not isinstance(schedule, dict):
            return unknown("no feeSchedule")
        rate = _dec(schedule.get("rate"))
        exponent = _dec(schedule.get("exponent"))
        if rate is None or not Decimal(0) <= rate <= 1:
            return unknown(f"feeSchedule.rate {schedule.get('rate')!r} is not a rate in [0, 1]")
        if exponent is None or exponent < 0 or exponent != exponent.to_integral_value():
            return unknown(f"feeSchedule.exponent {schedule.get('exponent')!r} is not a whole number")
        rebate = _dec(schedule.get("rebateRate"))
        taker_only = schedule.get("takerOnly")
        return FeeSchedule(True, rate, int(exponent), taker_only=taker_only is not False,
                           rebate_rate=rebate if rebate is not None and Decimal(0) <= rebate <= 1 else None,
                           fee_type=fee_type)
    if enabled is None:
        # pre-2026 objects have no feesEnabled: a non-zero base fee (a bps cap) means "some fee, rate unknown"
        base = _dec(m.get("takerBaseFee"))
        if base is not None and base > 0:
            return unknown(f"takerBaseFee {base} bps without feesEnabled/feeSchedule")
    return FeeSchedule()


class _Rejected(Exception):
    def __init__(self, kind: str, why: str) -> None:
        super().__init__(why)
        self.kind = kind


def _outcome_ids(m: dict[str, Any], report: ParseReport) -> tuple[str, list[str]]:
    """``(version, ids)``: the outcome ids chosen by ``version``; :class:`_Rejected` when unusable."""
    version = m.get("version")
    legacy = "version" not in m
    if legacy:
        updated = parse_time(m.get("updatedAt"))
        if updated is None or updated >= PROTOCOL_V2_LIVE:
            raise _Rejected("version_missing", "no version (and not an object from before 2026-04-28)")
        version = "v1"
    if version is None or version == "":
        raise _Rejected("version_missing", "version is empty")
    if version not in VERSIONS:
        raise _Rejected("version_unknown", f"unknown version {version!r}")
    if version == "v2":
        raw = m.get("positionIds")
        if not isinstance(raw, list):  # v2 ids are a real JSON array (v1's are JSON text)
            raise _Rejected("outcome_ids", "version v2 but positionIds is not a JSON array")
        ids, name = raw, "positionIds"
    else:
        ids, name = _json_list(m.get("clobTokenIds")) or [], "clobTokenIds"
    if len(ids) < 2 or not all(isinstance(t, str) and _DECIMAL_ID.fullmatch(t) for t in ids):
        raise _Rejected("outcome_ids", f"{name} is not a list of decimal token ids")
    if len(set(ids)) != len(ids):
        raise _Rejected("outcome_ids", f"{name} repeats an id")
    report.unversioned_v1 += legacy  # counted once the ids are usable (a dropped market counts as dropped)
    return str(version), [str(t) for t in ids]


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

    def drop(why: str, kind: str = "malformed") -> None:
        report.dropped_markets += 1
        report.dropped_by_reason[kind] += 1
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
    try:
        version, tokens = _outcome_ids(m, report)
    except _Rejected as exc:
        drop(f"{where}: {exc}", exc.kind)
        return None
    labels = _json_list(m.get("outcomes"))
    if labels is not None and len(labels) != len(tokens):
        drop(f"{where}: {len(labels)} outcomes but {len(tokens)} outcome ids", "outcome_count")
        return None
    if labels is None or not all(isinstance(x, str) for x in labels):
        # no usable ``outcomes`` text at all (never seen in a recording): the ids still say how many
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
        fee=_fee(m, report, where),
        version=version,
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
            slug=str(ev.get("slug") or "") if isinstance(ev.get("slug"), str) else "",
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
