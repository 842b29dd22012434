"""CROSS_VENUE: a confirmed Polymarket ↔ Kalshi pair priced apart after both venues' fees, both
directions, on the tokens its orientation names; unconfirmed pairs are P3 indicators; closed,
stale, skewed, lapsed or rejected pairs never reach P1/P2. Every edge worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from domain.rules.test_sum_lt_1 import T0, book, universe

from mpx.domain.models import FeeSchedule, Market, Outcome
from mpx.domain.money import taker_fee
from mpx.domain.rules.base import RuleSpec, Scope, SignalLevel, Universe
from mpx.domain.rules.cross_venue import CrossVenue, CrossVenueParams
from mpx.domain.rules.dsl import load_rules
from mpx.domain.rules.engine import evaluate_rules
from mpx.domain.venue_pairs import PairVerdict, VenuePair, fingerprints, pair_state

LEVELS: dict[SignalLevel, D] = {"P1": D(150), "P2": D(50), "P3": D(10)}
ROOT = Path(__file__).resolve().parents[3]
KALSHI_FEE = FeeSchedule(enabled=True, rate=D("0.07"), exponent=1, quantum=D("0.01"), round_up=True,
                         fee_type="quadratic_with_maker_fees")

POLY = Market(id="0xpoly", question="Lions vs. Bills", venue="polymarket", min_order_size=D(5),
              outcomes=(Outcome("tok-lions", "0xpoly", "Lions", 0), Outcome("tok-bills", "0xpoly", "Bills", 1)))
KAL = Market(id="KXNFLGAME-26SEP17DETBUF-DET", question="Detroit wins", venue="kalshi", min_order_size=D(1),
             fee=KALSHI_FEE,
             outcomes=(Outcome("KXNFLGAME-26SEP17DETBUF-DET:yes", "KXNFLGAME-26SEP17DETBUF-DET", "Yes", 0),
                       Outcome("KXNFLGAME-26SEP17DETBUF-DET:no", "KXNFLGAME-26SEP17DETBUF-DET", "No", 1)))
KY, KN = KAL.outcomes[0].token_id, KAL.outcomes[1].token_id


def pair(orientation: str | None = "same", state: str = "confirmed") -> VenuePair:
    return VenuePair(7, POLY.id, KAL.id, state, orientation, basis="confirmed by alice@box on 2026-12-02")  # type: ignore[arg-type]


def books(kalshi_ts: Any = T0, yes_bid: str = "0.45", no_bid: str = "0.53", size: str = "300") -> list[Any]:
    """Polymarket: Lions 0.38/0.40, Bills 0.60/0.62 (×500). Kalshi: YES bid 0.45, NO bid 0.53 ×300
    → YES ask 1 − 0.53 = 0.47, NO ask 1 − 0.45 = 0.55 (each book's asks are the other side's bids)."""
    yb, nb = D(yes_bid), D(no_bid)
    return [book("tok-lions", [("0.40", "500")], [("0.38", "500")]),
            book("tok-bills", [("0.62", "500")], [("0.60", "500")]),
            book(KY, [(str(1 - nb), size)], [(yes_bid, size)], ts=kalshi_ts),
            book(KN, [(str(1 - yb), size)], [(no_bid, size)], ts=kalshi_ts)]


def u(p: VenuePair | None = None, markets: tuple[Market, Market] = (POLY, KAL), **kw: Any) -> Universe:
    bs = kw.pop("bs", None) or books()
    return universe(list(markets), bs, venue_pairs=[p or pair()], **kw)


def rule(scope: Scope | None = None, **params: Any) -> RuleSpec:
    return RuleSpec(id="xv", type="CROSS_VENUE", params=CrossVenueParams(**params), levels=LEVELS,
                    scope=scope or Scope())


def run(x: Universe, r: RuleSpec | None = None) -> list[Any]:
    return list(CrossVenue().evaluate(r or rule(), x))


# Confirmed `same` (Kalshi "Detroit wins" YES ≡ Polymarket "Lions"), size 100:
#   direction 1: Lions 0.40 + Kalshi NO 0.55 = 0.95/set before fees
#     Polymarket 100 × 0.40 = 40.00, fees off → 0
#     Kalshi 100 × 0.55 = 55.00, fee 0.07 × 100 × 0.55 × 0.45 = 1.7325 → rounded UP to 1.74
#     cost 96.74; payout: Lions win → Lions leg 100 + NO leg 0 = 100; Lions lose → 0 + 100 = 100
#     profit 3.26 → 3.26 / 96.74 × 10,000 = 336.985… → 336.98 bps
#   direction 2: Bills 0.62 + Kalshi YES 0.47 = 1.09 ≥ 1: never profitable


def test_kalshi_fee_is_rounded_up_to_the_cent_per_fill() -> None:
    assert taker_fee(D(100), D("0.55"), KALSHI_FEE) == D("1.74")  # 1.7325 up
    assert taker_fee(D(10), D("0.50"), KALSHI_FEE) == D("0.18")  # 0.175 up
    assert taker_fee(D(1), D("0.33"), KALSHI_FEE) == D("0.02")  # 0.015477 up
    assert taker_fee(D(100), D("0.50"), KALSHI_FEE) == D("1.75")  # exactly 1.75: no rounding


def test_a_confirmed_pair_with_a_gap_is_arbitrage_with_both_venues_fees() -> None:
    [f] = run(u())
    arb = f.arbitrage
    assert f.max_level == "P1" and f.metric == D("336.98")
    assert [(leg.token_id, leg.cost, leg.fee) for leg in arb.legs] == [("tok-lions", D("40.00"), D(0)),
                                                                        (KN, D("55.00"), D("1.74"))]
    assert arb.shares == D(100) and arb.cost == D("96.74") and arb.fees == D("1.74")  # cost includes fees
    assert [s.payout for s in arb.states] == [D(1), D(1)]  # per set, in both states of the world
    assert f.payload["venues"] == ["polymarket", "kalshi"] and f.payload["pair"] == 7
    [sig] = evaluate_rules([rule()], u())
    assert sig.level == "P1" and sig.finding_class == "arbitrage"


# Confirmed `inverted` (Kalshi YES ≡ Polymarket "Bills"): the sets are Lions + Kalshi YES, or Bills + Kalshi NO.
#   Lions 0.40 + Kalshi YES 0.47: Kalshi fee 0.07 × 100 × 0.47 × 0.53 = 1.7437 → 1.75
#     cost 40 + 47 + 1.75 = 88.75; profit 11.25 → 11.25 / 88.75 × 10,000 = 1267.605… → 1267.60 bps
#   Bills 0.62 + Kalshi NO 0.55 = 1.17: never


def test_an_inverted_pair_is_priced_on_the_other_kalshi_token() -> None:
    [f] = run(u(pair("inverted")))
    assert [leg.token_id for leg in f.arbitrage.legs] == ["tok-lions", KY]
    assert f.metric == D("1267.60") and f.arbitrage.legs[1].fee == D("1.75")
    assert [s.payout for s in f.arbitrage.states] == [D(1), D(1)]


def test_the_same_pair_unconfirmed_is_at_most_a_p3_indicator() -> None:
    # mids: Lions 0.39, Kalshi YES 0.46; gap under `same` 0.07, under `inverted` |0.61 − 0.46| = 0.15
    # → the smaller, 0.07 = 700 bps of probability, P3 at most
    for state in ("candidate", "lapsed"):
        [f] = run(u(pair(None, state)))
        assert f.arbitrage is None and f.max_level == "P3"
        assert f.measure.name == "gap_bps" and f.measure.value == D("700.00")
        [sig] = evaluate_rules([rule()], u(pair(None, state)))
        assert sig.level == "P3" and sig.finding_class == "indicator"


def test_a_rejected_pair_is_never_priced() -> None:
    assert run(u(pair("same", "rejected"))) == []


def test_a_closed_kalshi_side_stops_the_pair() -> None:
    assert run(u(markets=(POLY, replace(KAL, status="closed")))) == []
    assert run(u(markets=(POLY, replace(KAL, accepting_orders=False)))) == []


def test_books_observed_too_far_apart_are_not_compared() -> None:
    late = T0 - timedelta(seconds=31)
    assert run(u(bs=books(kalshi_ts=late))) == []  # 31 s apart > MPX_MAX_CROSS_VENUE_SKEW 30 s
    assert len(run(u(bs=books(kalshi_ts=late), max_cross_venue_skew=timedelta(seconds=60)))) == 1
    stale = T0 - timedelta(minutes=10)  # older than MPX_MAX_BOOK_AGE, whatever the skew allows
    assert run(u(bs=books(kalshi_ts=stale), max_cross_venue_skew=timedelta(hours=1))) == []


def test_kalshi_legs_are_whole_contracts() -> None:
    # Kalshi NO asks hold 37.5 contracts: the set is 37 contracts (not 37.5), Polymarket min order 5 ≤ 37.
    #   Lions 37 × 0.40 = 14.80; NO 37 × 0.55 = 20.35, fee 0.07 × 37 × 0.2475 = 0.641025 → 0.65
    #   cost 35.80, profit 1.20 → 1.20 / 35.80 × 10,000 = 335.195… → 335.19 bps
    [f] = run(u(bs=books(size="37.5")))
    assert f.arbitrage.shares == D(37) and f.metric == D("335.19")


def test_scope_by_venue_needs_both_markets_in_scope() -> None:
    assert run(u(), rule(Scope(market_ids=(POLY.id,)))) == []


def test_a_verdict_lapses_when_the_kalshi_rules_change() -> None:
    v = PairVerdict("confirmed", "same", "alice@box", T0, fingerprints=fingerprints(POLY, KAL))
    markets = {POLY.id: POLY, KAL.id: KAL}
    assert pair_state(7, POLY.id, KAL.id, v, markets).proven
    changed = {**markets, KAL.id: replace(KAL, description="If the game is postponed, resolves to a fair price.")}
    lapsed = pair_state(7, POLY.id, KAL.id, v, changed)
    assert lapsed.state == "lapsed" and not lapsed.proven and "changed" in lapsed.basis
    closes_later = {**markets, KAL.id: replace(KAL, end_date=T0 + timedelta(days=1))}
    assert pair_state(7, POLY.id, KAL.id, v, closes_later).state == "lapsed"


def test_the_shipped_rule_file_validates() -> None:
    rules = [r for r in load_rules([ROOT / "rules"]) if r.type == "CROSS_VENUE"]
    assert [r.id for r in rules] == ["cross-venue"]


def test_a_venue_that_stops_passing_goes_stale_while_the_other_venue_keeps_passing() -> None:
    """Polymarket passes every 10 s; Kalshi's last pass was at T0. Each pass marks only its own
    venue's books observed, so the Kalshi books age from T0 — in evaluate (``observed``) and in a
    replay (``observed_now``, each token at its venue's latest pass) alike — and the pair stops
    firing once Kalshi's books are older than the skew allows, then than MPX_MAX_BOOK_AGE."""
    from mpx.domain.rules.stepper import Pass, advance

    for replayed in (False, True):
        x = u(max_cross_venue_skew=timedelta(seconds=30), observed_now=replayed)
        advance(x, Pass(T0, None, frozenset(), "kalshi"))
        advance(x, Pass(T0 + timedelta(seconds=1), None, frozenset(), "polymarket"))
        assert [f.metric for f in run(x)] == [D("336.98")], replayed  # 1 s apart: in step
        if not replayed:
            assert x.observed[KY] == T0 and x.observed["tok-lions"] == T0 + timedelta(seconds=1)
        for s in range(11, 62, 10):  # Kalshi silent from here on
            advance(x, Pass(T0 + timedelta(seconds=s), None, frozenset(), "polymarket"))
        assert run(x) == [], replayed  # 61 s of skew > 30 s
        x.max_cross_venue_skew = timedelta(hours=1)
        assert len(run(x)) == 1, replayed  # skew allowed; Kalshi's books 61 s old, within the book age
        x.max_book_age = timedelta(seconds=60)
        assert run(x) == [], replayed  # and older than MPX_MAX_BOOK_AGE: stale
