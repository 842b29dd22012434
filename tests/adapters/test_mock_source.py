"""The mock universe: deterministic, realistic in shape, arbitrage-free except where planted."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from mpx.adapters.sources.mock import MockSource
from mpx.domain.models import Book, Market, Snapshot
from mpx.domain.money import depth

ANCHOR = datetime(2026, 3, 1, tzinfo=UTC)
FIXED_NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def snap(seed: int = 42, frame: int = 0) -> Snapshot:
    return MockSource(seed=seed, now=lambda: FIXED_NOW).frame(frame, ANCHOR)


def books_of(s: Snapshot) -> dict[str, Book]:
    return {b.token_id: b for b in s.books}


def test_same_seed_same_universe_other_seed_other_universe() -> None:
    assert snap(42, 3) == snap(42, 3)
    a, b = snap(42, 3), snap(43, 3)
    assert {m.id for m in a.markets}.isdisjoint({m.id for m in b.markets})


def test_shape_of_the_universe() -> None:
    s = snap()
    assert len(s.markets) >= 200
    assert len(s.books) == 2 * len(s.markets)
    sizes = Counter(m.event_id for m in s.markets if m.neg_risk)
    assert sizes and all(3 <= n <= 12 for n in sizes.values())
    assert all(len(m.yes.token_id) in (76, 77, 78) and m.yes.token_id.isdigit() for m in s.markets)
    assert all(m.id.startswith("0x") and len(m.id) == 66 for m in s.markets)
    fees = Counter((m.fee.enabled, m.fee.rate) for m in s.markets)
    assert fees[(True, None)] == 1  # exactly one market with fees on at an unknown rate
    assert any(rate is not None and rate > 0 for (_, rate) in fees)
    assert {m.tick_size for m in s.markets} == {Decimal("0.01"), Decimal("0.001")}
    ends = sorted(m.end_date - ANCHOR for m in s.markets if m.end_date)  # type: ignore[operator]
    assert ends[0].total_seconds() < 24 * 3600 and ends[-1].days > 150


def test_books_are_best_first_on_tick_and_deep() -> None:
    s = snap(frame=4)
    tick = {o.token_id: m.tick_size for m in s.markets for o in m.outcomes}
    planted = set(MockSource(seed=42).planted.values())
    # planted situations have hand-made books of 1–3 levels; the ordinary markets are deep
    ordinary = {o.token_id for m in s.markets if m.active and m.id not in planted and m.event_id not in planted
                for o in m.outcomes}
    deep = 0
    for b in s.books:
        bids = [lv.price for lv in b.bids]
        asks = [lv.price for lv in b.asks]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
        assert all(p % tick[b.token_id] == 0 and 0 < p < 1 for p in bids + asks)
        assert all(lv.size > 0 for lv in b.bids + b.asks)
        if bids and asks:
            assert bids[0] < asks[0]
        deep += b.token_id in ordinary and len(b.bids) >= 6 and len(b.asks) >= 6
    assert deep > 0.8 * len(ordinary)


def test_ordinary_markets_carry_no_arbitrage_in_any_frame() -> None:
    src = MockSource(seed=42, now=lambda: FIXED_NOW)
    planted = set(src.planted.values())
    for frame in range(11):
        s = src.frame(frame, ANCHOR)
        books = books_of(s)
        for m in s.markets:
            if m.id in planted or m.event_id in planted or m.neg_risk:
                continue
            yes, no = books[m.yes.token_id], books[m.outcomes[1].token_id]
            assert yes.best_ask + no.best_ask >= Decimal("1.01"), (frame, m.question)  # type: ignore[operator]
        for e in s.events:
            if not e.neg_risk or e.id in planted:
                continue
            yes_books = [books[m.yes.token_id] for m in s.markets if m.event_id == e.id]
            assert sum(b.best_ask for b in yes_books) >= Decimal("1.01"), (frame, e.title)  # type: ignore[misc]


def _market(s: Snapshot, market_id: str) -> Market:
    return next(m for m in s.markets if m.id == market_id)


def _event_markets(s: Snapshot, event_id: str) -> list[Market]:
    return [m for m in s.markets if m.event_id == event_id]


def test_planted_situations() -> None:
    src = MockSource(seed=42, now=lambda: FIXED_NOW)
    p = src.planted
    f0, f1, f2 = (src.frame(n, ANCHOR) for n in range(3))
    b0, b1, b2 = books_of(f0), books_of(f1), books_of(f2)

    legs = _event_markets(f1, p["sum_lt_1_event"])
    assert len(legs) == 4
    assert sum(b1[m.yes.token_id].best_ask for m in legs) == Decimal("0.95")  # type: ignore[misc]
    assert all(b1[m.yes.token_id].ask_size >= 300 for m in legs)  # type: ignore[operator]
    assert sum(b0[m.yes.token_id].best_ask for m in legs) >= Decimal("1.01")  # type: ignore[misc]

    m = _market(f1, p["sum_lt_1_binary"])
    yes, no = b1[m.yes.token_id], b1[m.outcomes[1].token_id]
    assert yes.best_ask + no.best_ask == Decimal("0.97")  # type: ignore[operator]
    assert min(yes.ask_size, no.ask_size) >= 200  # type: ignore[type-var]

    spike = _market(f1, p["spike_market"]).yes.token_id
    assert b2[spike].mid - b1[spike].mid == Decimal("0.15")  # type: ignore[operator]
    assert b2[spike].spread <= Decimal("0.02") and b2[spike].bid_size >= 100  # type: ignore[operator]

    end = _market(f0, p["endgame_market"])
    assert (end.end_date - ANCHOR).total_seconds() == 6 * 3600  # type: ignore[operator]
    assert b0[end.yes.token_id].mid == Decimal("0.95")
    far = _market(f0, p["decoy_far_endgame"])
    assert (far.end_date - ANCHOR).days == 200  # type: ignore[operator]

    aug = _event_markets(f1, p["decoy_augmented_event"])
    event = next(e for e in f1.events if e.id == p["decoy_augmented_event"])
    assert event.neg_risk_augmented and any(m.neg_risk_other for m in aug) and any(not m.active for m in aug)
    real = [m for m in aug if m.active and not m.neg_risk_other]
    assert sum(b1[m.yes.token_id].best_ask for m in real) < 1  # type: ignore[misc]

    closed = _market(f1, p["decoy_closed_market"])
    assert closed.status == "closed"
    assert b1[closed.yes.token_id].best_ask + b1[closed.outcomes[1].token_id].best_ask < 1  # type: ignore[operator]

    thin = [b1[m.yes.token_id] for m in _event_markets(f1, p["decoy_thin_event"])]
    assert sum(b.best_ask for b in thin) == Decimal("0.96")  # type: ignore[misc]
    assert all(b.ask_size == 2 for b in thin)

    fee = _event_markets(f1, p["decoy_fee_event"])
    assert all(m.fee.rate == Decimal("0.25") for m in fee)
    assert sum(b1[m.yes.token_id].best_ask for m in fee) == Decimal("0.99")  # type: ignore[misc]
    assert all(depth(b1[m.yes.token_id].asks) >= 100 for m in fee)


def test_unchanged_books_are_identical_between_frames_and_some_change() -> None:
    src = MockSource(seed=42, now=lambda: FIXED_NOW)
    a, b = books_of(src.frame(5, ANCHOR)), books_of(src.frame(6, ANCHOR))
    same = sum(a[t].bids == b[t].bids and a[t].asks == b[t].asks for t in a)
    assert 0.4 * len(a) < same < 0.95 * len(a)


def test_cursor_progression_and_seed_in_cursor() -> None:
    src = MockSource(seed=7, now=lambda: FIXED_NOW)
    _, c0 = src.fetch(None)
    assert c0 == {"frame": 0, "anchor": FIXED_NOW.isoformat(), "seed": 7}
    s1, c1 = src.fetch(c0)
    assert c1["frame"] == 1 and c1["anchor"] == c0["anchor"]
    # ingest with another MPX_MOCK_SEED continues the universe `mpx seed --seed 7` started
    other, c2 = MockSource(seed=42, now=lambda: FIXED_NOW).fetch(c1)
    assert c2["frame"] == 2 and {m.id for m in other.markets} == {m.id for m in s1.markets}


def test_latency_is_simulated() -> None:
    src = MockSource(seed=1, latency_ms=300)
    t0 = time.monotonic()
    src.fetch(None)
    assert time.monotonic() - t0 >= 0.3


def test_planted_situations_for_the_other_rule_kinds() -> None:
    src = MockSource(seed=42, now=lambda: FIXED_NOW)
    p = src.planted
    s9, s10 = src.frame(9, ANCHOR), src.frame(10, ANCHOR)
    b = books_of(s9)

    def yes(key: str, books: dict[str, Book] = b, s: Snapshot = s9) -> Book:
        return books[_market(s, p[key]).yes.token_id]

    dutch = [b[m.yes.token_id] for m in _event_markets(s9, p["dutch_book_event"])]
    assert sum(x.best_bid for x in dutch) == Decimal("1.05")  # type: ignore[misc]
    assert all(x.bid_size >= 300 for x in dutch)  # type: ignore[operator]
    assert yes("synonym_a").mid - yes("synonym_b").mid == Decimal("0.07")  # type: ignore[operator]
    no_a = b[_market(s9, p["synonym_a"]).outcomes[1].token_id]
    assert yes("synonym_b").best_ask + no_a.best_ask == Decimal("0.95")  # type: ignore[operator]
    assert yes("ladder_high").best_bid > yes("ladder_low").best_ask  # type: ignore[operator]
    assert yes("date_late").mid < yes("date_early").mid  # type: ignore[operator]
    highs = [books_of(src.frame(n, ANCHOR))[_market(s9, p["trend_market"]).yes.token_id].mid for n in range(10)]
    assert max(highs) == Decimal("0.62")  # type: ignore[type-var]
    assert yes("trend_market", books_of(s10), s10).mid == Decimal("0.67")


def test_every_planted_situation_is_declared_once_and_planted() -> None:
    from mpx.adapters.sources.mock_scenarios import SCENARIOS

    src = MockSource(seed=42)
    assert [sc.key for sc in SCENARIOS] == list(src.planted)  # created in the declared order, each once
    assert all(sc.what for sc in SCENARIOS)
