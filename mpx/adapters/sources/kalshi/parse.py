"""Parsing of Kalshi Trade API v2 responses into domain objects (``../shared/data/kalshi/API_NOTES.md``
has the traps):

- a market is one binary contract: its id is its ticker, its outcome tokens ``<ticker>:yes`` and
  ``<ticker>:no``; the event's markets sit inside ``event.markets`` (``with_nested_markets=true``);
- prices are ``*_dollars`` strings (4 decimals), counts ``*_fp`` strings (fractional contracts
  exist); the integer-cent fields of older responses (until 2026-03) are read only when the dollar
  ones are missing; everything is ``Decimal``, never float;
- the order book holds **bids only**, each side ascending (best LAST): a NO bid at x is a YES ask at
  1 − x for the same count, so the YES token's asks are the NO bids mirrored, and vice versa; the
  current shape is ``orderbook_fp {yes_dollars, no_dollars: [[price, count]]}``, the legacy one
  ``orderbook {yes, no: [[cents, count]]}``; a side may be ``[]``, ``null`` or missing;
- the taker fee is ``0.07 × fee_multiplier × C × P × (1 − P)`` per fill, rounded **up** to the
  cent, per series (``fee_type`` quadratic…; an event's ``fee_*_override`` wins); a ``flat`` or
  unknown fee type leaves the rate unknown (never P1);
- status: ``active`` trades; ``initialized``/``inactive``/``unopened``/``paused`` do not;
  ``closed``/``disputed`` are closed; ``determined``/``amended``/``finalized``/``settled`` resolved,
  with ``result`` ``yes``/``no`` as the outcome's settle price (``""`` and ``null``: not yet);
- the question is the market's ``title``, plus its ``yes_sub_title`` where the title does not say
  which outcome the market is (both legs of a game are titled "Kansas City vs Detroit Winner?");
- an event's ``mutually_exclusive: true`` is not read as neg-risk: it says at most one market
  resolves Yes, not that exactly one does (a tie, a void game, an outcome not listed) — no
  complete-set rule is built on it;
- multivariate combo markets (``KXMVE…``, ``mve_collection_ticker``) are skipped and counted;
- a quote of 0 (``yes_ask 0`` on an empty book) is a sentinel, not a price: books come from the
  order book only.

Nothing is guessed: an unusable market or level is dropped and counted, with a reason.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mpx.adapters.sources.passes import decimal_or_none
from mpx.adapters.sources.polymarket.parse import ParseReport
from mpx.domain.models import KALSHI, Book, Event, FeeSchedule, Level, Market, MarketStatus, Outcome

TAKER_RATE = Decimal("0.07")
"""Kalshi's general taker fee coefficient (fee schedule, quoted by API_NOTES §6)."""
CENT = Decimal("0.01")
ONE = Decimal(1)
QUADRATIC = frozenset({"quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees"})

_STATUS: dict[str, tuple[MarketStatus, bool]] = {  # response status → (our status, active)
    "active": ("active", True), "open": ("active", True),
    "initialized": ("active", False), "inactive": ("active", False), "unopened": ("active", False),
    "paused": ("active", False),
    "closed": ("closed", True), "disputed": ("closed", True),
    "determined": ("resolved", True), "amended": ("resolved", True), "finalized": ("resolved", True),
    "settled": ("resolved", True),
}


def yes_token(ticker: str) -> str:
    return f"{ticker}:yes"


def no_token(ticker: str) -> str:
    return f"{ticker}:no"


def ticker_of(token: str) -> str:
    """``KX…-DET:yes`` → ``KX…-DET``."""
    return token.rsplit(":", 1)[0]


def _drop(report: ParseReport, kind: str, why: str) -> None:
    """Count an unusable object by kind; note why (combo markets are only counted: they flood)."""
    if kind == "book":
        report.dropped_books += 1
    else:
        report.dropped_markets += 1
        report.dropped_by_reason[kind] += 1
    if kind != "combo":
        report.note(why)


_dec = decimal_or_none


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 with 0–6 fraction digits; year 0001 (Kalshi's zero time) is unknown."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    if ts.year <= 1:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def fee_schedule(series: dict[str, Any] | None, event: dict[str, Any] | None = None) -> FeeSchedule:
    """The taker fee of a series (``GET /series/{ticker}``'s ``series``), an event's override winning."""
    fee_type = (event or {}).get("fee_type_override") or (series or {}).get("fee_type")
    mult = _dec((event or {}).get("fee_multiplier_override"))
    if mult is None:
        mult = _dec((series or {}).get("fee_multiplier"))
    if fee_type in QUADRATIC and mult is not None and mult >= 0:
        return FeeSchedule(enabled=True, rate=TAKER_RATE * mult, exponent=1, taker_only=False,
                           fee_type=str(fee_type), quantum=CENT, round_up=True)
    # flat (a fee table not published in the API), unknown, or no series fetched: fees apply at a
    # rate we do not know → never P1
    return FeeSchedule(enabled=True, rate=None, fee_type=str(fee_type) if fee_type else None, quantum=CENT,
                       round_up=True)


def _tick(m: dict[str, Any]) -> Decimal:
    steps = [_dec(r.get("step")) for r in m.get("price_ranges") or [] if isinstance(r, dict)]
    good = [s for s in steps if s is not None and s > 0]
    if good:
        return min(good)
    legacy = _dec(m.get("tick_size"))  # 2025: integer cents
    return legacy / 100 if legacy is not None and legacy > 0 else CENT


def _settle(result: Any) -> tuple[Decimal | None, Decimal | None]:
    if result == "yes":
        return ONE, Decimal(0)
    if result == "no":
        return Decimal(0), ONE
    return None, None


_VERSUS = re.compile(r"\bvs\.?(?=\s)", re.IGNORECASE)


def question(m: dict[str, Any], shared_title: bool = False) -> str:
    """The market's ``title``, and its ``yes_sub_title`` (the outcome it is about) where the title
    alone does not say it: the title does not name it, names both sides (``"Kansas City vs Detroit
    Winner?"`` on both legs of a game → ``… — Kansas City``), or other markets of the event share it.
    The first two are read from the market alone, so a market looked up by itself (``GET
    /markets/{ticker}``) gets the question it had in the event listing."""
    ticker = str(m.get("ticker") or "")
    title = m["title"].strip() if isinstance(m.get("title"), str) and m["title"].strip() else ticker
    sub = m["yes_sub_title"].strip() if isinstance(m.get("yes_sub_title"), str) else ""
    if sub and sub != title and (shared_title or sub.casefold() not in title.casefold() or _VERSUS.search(title)):
        return f"{title} — {sub}"
    return title


def parse_market(m: Any, event: dict[str, Any], fee: FeeSchedule, report: ParseReport,
                 shared_title: bool = False) -> Market | None:
    """One market object (``None``, counted, when unusable or a combo). ``shared_title``: another
    market of the event has the same title (see :func:`question`)."""
    if not isinstance(m, dict):
        _drop(report, "malformed", "a market that is not an object")
        return None
    ticker = m.get("ticker")
    if not isinstance(ticker, str) or not ticker:
        _drop(report, "malformed", "a market without a ticker")
        return None
    if ticker.startswith("KXMVE") or m.get("mve_collection_ticker"):
        _drop(report, "combo", f"{ticker}: a multivariate combo market")
        return None
    if m.get("market_type", "binary") != "binary":
        _drop(report, "not_binary", f"{ticker}: market_type {m.get('market_type')!r}")
        return None
    raw_status = str(m.get("status") or "")
    if raw_status not in _STATUS:
        report.note(f"{ticker}: unknown status {raw_status!r}: kept as closed, not tradable")
    status, active = _STATUS.get(raw_status, ("closed", False))
    yes_settle, no_settle = _settle(m.get("result")) if status == "resolved" else (None, None)
    rules = "\n\n".join(t for t in (m.get("rules_primary"), m.get("rules_secondary")) if isinstance(t, str) and t)
    sources = [s.get("name") or s.get("url") for s in event.get("settlement_sources") or [] if isinstance(s, dict)]
    fractional = bool(m.get("fractional_trading_enabled"))
    return Market(
        id=ticker,
        question=question(m, shared_title),
        outcomes=(Outcome(yes_token(ticker), ticker, "Yes", 0, yes_settle),
                  Outcome(no_token(ticker), ticker, "No", 1, no_settle)),
        event_id=m.get("event_ticker") or event.get("event_ticker"),
        slug=ticker.lower(),
        end_date=parse_time(m.get("close_time")),
        status=status,
        accepting_orders=status == "active" and active,
        active=active,
        fee=fee,
        tick_size=_tick(m),
        min_order_size=CENT if fractional else ONE,
        category=event.get("category") or None,
        description=rules,
        resolution_source=", ".join(s for s in sources if s),
        venue=KALSHI,
    )


def parse_events(events: list[Any], fees: dict[str, FeeSchedule], report: ParseReport
                 ) -> tuple[list[Event], list[Market]]:
    """``GET /events?with_nested_markets=true`` pages' events → events and markets. ``fees``:
    series ticker → fee schedule (a series not fetched leaves the rate unknown)."""
    out_events: list[Event] = []
    out_markets: list[Market] = []
    seen: set[str] = set()
    for e in events:
        if not isinstance(e, dict) or not isinstance(e.get("event_ticker"), str):
            _drop(report, "malformed", "an event without a ticker")
            continue
        ticker = e["event_ticker"]
        if ticker in seen:
            report.duplicates += 1
            continue
        seen.add(ticker)
        raw = e.get("markets")
        if not isinstance(raw, list):
            continue  # settled before the historical cut-off: listed without markets
        series = e.get("series_ticker")
        fee = fees.get(series) if isinstance(series, str) else None
        if fee is None or e.get("fee_type_override") or e.get("fee_multiplier_override") is not None:
            fee = fee_schedule(None, e) if fee is None else _override(fee, e)
        titles = Counter(m.get("title") for m in raw if isinstance(m, dict))
        markets = [mk for mk in (parse_market(m, e, fee, report, shared_title=isinstance(m, dict) and titles[
            m.get("title")] > 1) for m in raw) if mk is not None]
        if fee.rate is None and markets:
            report.fee_unknown += len(markets)
        out_markets.extend(markets)
        ends = [m.end_date for m in markets if m.end_date]
        out_events.append(Event(
            id=ticker, title=str(e.get("title") or ticker), market_ids=tuple(m.id for m in markets),
            end_date=max(ends) if ends else None, category=e.get("category") or None,
            listed_markets=len(raw), slug=ticker.lower(), venue=KALSHI,
        ))
    return out_events, out_markets


def _override(fee: FeeSchedule, event: dict[str, Any]) -> FeeSchedule:
    if fee.rate is None:
        return fee
    series_like = {"fee_type": fee.fee_type, "fee_multiplier": fee.rate / TAKER_RATE}
    return fee_schedule(series_like, event)


def _side(raw: Any, cents: bool, report: ParseReport) -> list[Level]:
    """One side's bids, best first (Kalshi sends them ascending, best last)."""
    if not isinstance(raw, list):
        return []
    out: list[Level] = []
    for lv in raw:
        if not isinstance(lv, list | tuple) or len(lv) != 2:
            report.dropped_levels += 1
            continue
        price, size = _dec(lv[0]), _dec(lv[1])
        if price is not None and cents:
            price = price / 100
        if price is None or size is None or not (0 < price < 1) or size <= 0:
            report.dropped_levels += 1
            continue
        out.append(Level(price, size))
    out.sort(key=lambda lv: lv.price, reverse=True)
    return out


def parse_orderbook(ticker: str, payload: Any, report: ParseReport) -> tuple[Book, Book] | None:
    """``GET /markets/{ticker}/orderbook`` → (YES book, NO book): each token's bids are its own
    side's bids, its asks the other side's bids at 1 − price (same count). ``orderbook_fp`` (dollar
    strings) is read when present, else the legacy ``orderbook`` (cents)."""
    if not isinstance(payload, dict):
        _drop(report, "book", f"{ticker}: an order book that is not an object")
        return None
    fp = payload.get("orderbook_fp")
    legacy = payload.get("orderbook")
    if isinstance(fp, dict):
        yes, no = _side(fp.get("yes_dollars"), False, report), _side(fp.get("no_dollars"), False, report)
    elif isinstance(legacy, dict):
        if "yes_dollars" in legacy or "no_dollars" in legacy:
            yes, no = _side(legacy.get("yes_dollars"), False, report), _side(legacy.get("no_dollars"), False, report)
        else:
            yes, no = _side(legacy.get("yes"), True, report), _side(legacy.get("no"), True, report)
    else:
        _drop(report, "book", f"{ticker}: no orderbook_fp or orderbook in the answer")
        return None
    yes_asks = tuple(Level(ONE - lv.price, lv.size) for lv in no)
    no_asks = tuple(Level(ONE - lv.price, lv.size) for lv in yes)
    return Book(yes_token(ticker), tuple(yes), yes_asks), Book(no_token(ticker), tuple(no), no_asks)
