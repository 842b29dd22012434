"""No execution path leaves a naked leg: fill-or-kill legs in the order that fails early, the unwind
of what filled before a leg was killed — within the loss cap, or left `unwinding` — and the paper
venue that models it. Every number is worked out by hand in the comments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal as D

import pytest

from mpx.adapters.execution.paper import PaperVenue
from mpx.domain.execution import (
    Position,
    Unwind,
    VenueRefused,
    execute,
    floor_price,
    incident_text,
    send_order,
    settle_positions,
    share_of_target,
    unwind,
)
from mpx.domain.models import Book, FeeSchedule, Level, Market, Outcome
from mpx.domain.payout import payout_table
from mpx.domain.risk import PlannedLeg

FEE_2PCT = FeeSchedule(enabled=True, rate=D("0.02"), exponent=1)


def market(mid: str, fee: FeeSchedule | None = None, tick: str = "0.01") -> Market:
    return Market(mid, f"Q {mid}?", (Outcome(f"{mid}-yes", mid, "Yes", 0), Outcome(f"{mid}-no", mid, "No", 1)),
                  fee=fee or FeeSchedule(), tick_size=D(tick))


def levels(pairs: list[tuple[str, str]]) -> tuple[Level, ...]:
    return tuple(Level(D(p), D(s)) for p, s in pairs)


class Books:
    """A book source: each token's book, replaceable between calls; ``on_read`` sees every read."""

    def __init__(self, **books: tuple[list[tuple[str, str]], list[tuple[str, str]]]) -> None:
        self.books = {t.replace("_", "-"): Book(t.replace("_", "-"), levels(bids), levels(asks))
                      for t, (bids, asks) in books.items()}
        self.reads: list[str] = []
        self.on_read: Callable[[str], None] | None = None

    def __call__(self, token: str) -> Book | None:
        self.reads.append(token)
        if self.on_read:
            self.on_read(token)
        return self.books.get(token)

    def set(self, token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> None:
        self.books[token] = Book(token, levels(bids), levels(asks))


def planned(token: str, market_id: str, label: str, limit: str, shares: str = "100") -> PlannedLeg:
    return PlannedLeg(token, market_id, label, "BUY", D(shares), D(limit), D(limit), D(limit) * D(shares),
                      D(limit) * D(shares))


# --- the paper venue: fill-or-kill buys, fill-and-kill sells, per-level fees ------------------


def test_paper_fill_or_kill_fills_none_when_the_book_is_short_at_the_limit() -> None:
    # The 40-NO-naked example: YES 100 @ ≤ 0.30 against asks 60 @ 0.28, 40 @ 0.32 — only 60 at or
    # below the limit, so the fill-or-kill order fills none (a plain limit order used to take 60).
    m = {"x": market("x")}
    venue = PaperVenue(m, Books(x_yes=([], [("0.28", "60"), ("0.32", "40")])))
    assert venue.buy_fok("x-yes", "x", D(100), D("0.30")).shares == 0
    f = venue.buy_fok("x-yes", "x", D(60), D("0.30"))  # 60 are there: all of them
    assert (f.shares, f.cost, f.fee) == (D(60), D("16.80"), D(0))


def test_paper_fills_charge_the_taker_fee_per_level() -> None:
    m = {"e": market("e", FEE_2PCT)}
    venue = PaperVenue(m, Books(e_yes=([("0.49", "50"), ("0.48", "500")], [("0.50", "60"), ("0.51", "30"),
                                                                            ("0.53", "500")])))
    # 90 @ ≤ 0.51: 60 @ 0.50 + 30 @ 0.51 = 45.30; fees 60 × 0.02 × 0.25 = 0.3 and
    # 30 × 0.02 × 0.51 × 0.49 = 0.14994
    f = venue.buy_fok("e-yes", "e", D(90), D("0.51"))
    assert (f.shares, f.cost, f.fee) == (D(90), D("45.30"), D("0.44994"))
    assert f.levels == levels([("0.50", "60"), ("0.51", "30")])
    assert venue.buy_fok("e-yes", "e", D(100), D("0.51")).shares == 0  # 90 < 100: killed
    # a sell takes the bids at or above its floor, best first, and keeps what they cannot take:
    # 50 @ 0.49 = 24.50 (fee 50 × 0.02 × 0.49 × 0.51 = 0.2499); 0.48 is below the floor
    s = venue.sell("e-yes", "e", D(80), D("0.49"))
    assert (s.shares, s.cost, s.fee) == (D(50), D("24.50"), D("0.2499"))
    assert venue.best_bid("e-yes") == Level(D("0.49"), D(50))


def test_paper_refuses_to_price_an_unknown_fee() -> None:
    m = {"u": market("u", FeeSchedule(enabled=True, rate=None))}
    venue = PaperVenue(m, Books(u_yes=([("0.40", "500")], [("0.41", "500")])))
    with pytest.raises(VenueRefused, match="unknown rate"):
        venue.buy_fok("u-yes", "u", D(10), D("0.41"))
    with pytest.raises(VenueRefused, match="unknown rate"):
        venue.sell("u-yes", "u", D(10), D("0.40"))


# --- order, fill-or-kill, unwind --------------------------------------------------------------

X = {"x": market("x", FEE_2PCT)}
# YES + NO of binary market x: one set pays 1 whichever way x resolves
X_STATES = payout_table(["x-yes", "x-no"], [X["x"]])
LEGS = [planned("x-yes", "x", "Yes", "0.48"), planned("x-no", "x", "No", "0.49")]


def test_the_set_pays_one_in_both_states() -> None:
    assert [(s.state, s.payout) for s in X_STATES] == [("YES: Q x?", D(1)), ("every market NO", D(1))]


def test_the_leg_with_least_depth_to_spare_goes_first() -> None:
    # YES: 250 at ≤ 0.48 → 150 to spare; NO: 220 at ≤ 0.49 → 120 to spare: NO first
    assert send_order(LEGS, {"x-yes": D(250), "x-no": D(220)}) == (1, 0)
    assert send_order(LEGS, {"x-yes": D(200), "x-no": D(200)}) == (0, 1)  # equals: the plan's order


def test_every_leg_filled_in_full() -> None:
    books = Books(x_yes=([], [("0.48", "250")]), x_no=([], [("0.49", "220")]))
    ex = execute(LEGS, (1, 0), X, PaperVenue(X, books), D(5))
    assert ex.status == "filled" and ex.unwind is None
    assert books.reads == ["x-no", "x-yes"]  # each leg reads its book when it is sent, NO first
    # 48.00 + 100 × 0.02 × 0.48 × 0.52 (0.4992) + 49.00 + 100 × 0.02 × 0.49 × 0.51 (0.4998)
    assert ex.spent == D("97.99900")
    assert [(f.seq, f.outcome) for f in ex.legs] == [(2, "filled"), (1, "filled")]


def test_the_first_leg_killed_stops_everything_and_nothing_is_held() -> None:
    books = Books(x_yes=([], [("0.48", "250")]), x_no=([], [("0.49", "99")]))
    ex = execute(LEGS, (1, 0), X, PaperVenue(X, books), D(5))
    assert ex.status == "failed" and ex.spent == 0 and ex.unwind is None
    assert books.reads == ["x-no"]  # YES never sent
    assert [(f.seq, f.outcome, f.shares) for f in ex.legs] == [(None, "not_sent", D(0)), (1, "killed", D(0))]


def thin_yes_after_no(books: Books) -> None:
    """The YES book is thinned after NO was sent (the book moved between legs)."""

    def hook(token: str) -> None:
        if token == "x-yes":
            books.set("x-yes", [("0.47", "300")], [("0.48", "50"), ("0.51", "500")])

    books.on_read = hook


def test_a_leg_killed_after_one_filled_is_unwound_with_the_exact_loss() -> None:
    # NO (least to spare) fills 100 @ 0.49: 49.00 + fee 100 × 0.02 × 0.49 × 0.51 = 0.4998 → 49.4998.
    # The YES book moved: 50 at ≤ 0.48 → YES killed. Unwind NO within 5 USDC: it must bring in at
    # least 49.4998 − 5 = 44.4998 after fees. At 0.45: 45 − 100 × 0.02 × 0.45 × 0.55 = 45 − 0.495 =
    # 44.505 ≥ 44.4998; at 0.44: 44 − 0.4928 = 43.5072 < 44.4998 → floor 0.45.
    # NO bids 60 @ 0.46, 300 @ 0.45: 60 × 0.46 = 27.60 (fee 60 × 0.02 × 0.46 × 0.54 = 0.29808)
    #                                 40 × 0.45 = 18.00 (fee 40 × 0.02 × 0.45 × 0.55 = 0.198)
    # proceeds 45.60 − fees 0.49608 = 45.10392; realised loss 49.4998 − 45.10392 = 4.39588
    books = Books(x_yes=([("0.47", "300")], [("0.48", "250")]),
                  x_no=([("0.46", "60"), ("0.45", "300")], [("0.49", "220")]))
    thin_yes_after_no(books)
    ex = execute(LEGS, (1, 0), X, PaperVenue(X, books), D(5))
    assert ex.status == "unwound"
    assert [(f.seq, f.outcome, f.shares) for f in ex.legs] == [(2, "killed", D(0)), (1, "filled", D(100))]
    u = ex.unwind
    assert u is not None and u.done and u.attempts == 1
    [sell] = u.sells
    assert (sell.floor, sell.best_bid, sell.shares, sell.proceeds, sell.fee) == (
        D("0.45"), D("0.46"), D(100), D("45.60"), D("0.49608"))
    assert sell.target == D("44.4998")
    assert u.spent == D("49.4998") and u.recovered == D("45.10392")
    assert u.realised_loss == D("4.39588")
    text = incident_text(7, "paper", ex.legs, u, "Circuit breaker opened.")
    assert text.startswith("intent 7 UNWOUND (paper)")
    assert "Leg 2 of 2 (Yes, x-yes) was killed: 100 at ≤ 0.48" in text
    assert "Realised loss 4.39588 USDC = cost 49.49980 − proceeds 45.10392" in text


def test_an_unwind_that_cannot_stay_within_the_cap_leaves_the_intent_unwinding_then_retries() -> None:
    # Cap 1: NO must bring in 49.4998 − 1 = 48.4998. At 0.49: 49 − 0.4998 = 48.5002 ≥ 48.4998; at
    # 0.48: 48 − 0.4992 = 47.5008 < it → floor 0.49. Best bid 0.46 < 0.49: nothing is sold.
    books = Books(x_yes=([("0.47", "300")], [("0.48", "250")]),
                  x_no=([("0.46", "60"), ("0.45", "300")], [("0.49", "220")]))
    thin_yes_after_no(books)
    ex = execute(LEGS, (1, 0), X, PaperVenue(X, books), D(1))
    assert ex.status == "unwinding"
    u = ex.unwind
    assert u is not None and not u.done and u.realised_loss is None
    assert [(p.token_id, p.held) for p in u.naked] == [("x-no", D(100))]
    [skip] = u.sells
    assert (skip.shares, skip.floor, skip.best_bid) == (D(0), D("0.49"), D("0.46"))
    assert "best bid 0.46 is below the floor 0.49" in skip.note
    text = incident_text(7, "paper", ex.legs, u, "Breaker open.")
    assert text.startswith("intent 7 NAKED, unwinding (paper)") and "Still held: 100 No" in text
    assert "`mpx intents unwind 7`" in text
    # stored and read back, then retried once bids return: 100 @ 0.49 = 49.00, fee 0.4998 → 48.5002;
    # loss 49.4998 − 48.5002 = 0.9996 ≤ 1
    again = Unwind.from_dict(u.as_dict())
    assert again == u
    books.set("x-no", [("0.49", "100"), ("0.40", "900")], [("0.50", "100")])
    done = unwind(again.positions, X, PaperVenue(X, books), D(1), attempt=2, history=again.sells)
    assert done.done and done.attempts == 2 and len(done.sells) == 2
    assert done.realised_loss == D("0.9996")


def test_the_cap_is_shared_between_positions_and_holds_over_attempts() -> None:
    # Three YES legs of a negRisk event at 0.30 each (no fees); a and b filled 100 each (30 + 30),
    # c was killed. Cap 2: together they must bring in 60 − 2 = 58, 29 each (equal cost) → floors 0.29.
    ev = {m: market(m) for m in "abc"}
    pos = [Position("a-yes", "a", "A", D(100), D(30)), Position("b-yes", "b", "B", D(100), D(30))]
    assert share_of_target(pos, 0, D(2)) == D(29)
    # a sells above its floor (100 @ 0.31 = 31): b then needs only 58 − 31 = 27 → floor 0.27
    books = Books(a_yes=([("0.31", "100")], []), b_yes=([("0.27", "100")], []))
    u = unwind(pos, ev, PaperVenue(ev, books), D(2))
    assert u.done and [s.floor for s in u.sells] == [D("0.29"), D("0.27")]
    assert u.realised_loss == D(2)  # 60 − (31 + 27): exactly the cap
    # a sells at its floor 0.29; b's best bid 0.28 is below its floor 0.29 → b stays held
    books = Books(a_yes=([("0.29", "100")], []), b_yes=([("0.28", "100")], []))
    u = unwind(pos, ev, PaperVenue(ev, books), D(2))
    assert not u.done and [p.label for p in u.naked] == ["B"]
    # a retry allowed 3 in all: b must bring in 60 − 3 − 29 = 28 → floor 0.28; loss 60 − 57 = 3
    u = unwind(u.positions, ev, PaperVenue(ev, books), D(3), attempt=2, history=u.sells)
    assert u.done and u.realised_loss == D(3)


def test_a_partial_sale_keeps_the_loss_within_the_cap() -> None:
    # 100 held at 30 (no fees), cap 2: floor 0.28 (28 ≥ 28). Bids 40 @ 0.29 then nothing at or above
    # 0.28: 40 sold for 11.60, 60 held. A retry with the same cap: 60 − … the held 60 must bring in
    # 30 − 2 − 11.60 = 16.40 → 16.40 / 60 = 0.2733… → floor 0.28; 60 @ 0.28 = 16.80 → loss 1.60
    ev = {"a": market("a")}
    pos = [Position("a-yes", "a", "A", D(100), D(30))]
    books = Books(a_yes=([("0.29", "40"), ("0.20", "500")], []))
    u = unwind(pos, ev, PaperVenue(ev, books), D(2))
    assert not u.done and u.naked[0].held == D(60) and u.sells[0].note.startswith("60 shares left")
    books.set("a-yes", [("0.28", "100")], [])
    u = unwind(u.positions, ev, PaperVenue(ev, books), D(2), attempt=2, history=u.sells)
    assert u.sells[-1].floor == D("0.28") and u.done and u.realised_loss == D("1.60")


def test_nothing_is_sold_in_a_market_that_stopped_trading_or_cannot_be_priced() -> None:
    pos = [Position("a-yes", "a", "A", D(100), D(30))]
    books = Books(a_yes=([("0.30", "100")], []))
    for m in (replace(market("a"), status="closed"), market("a", FeeSchedule(enabled=True, rate=None))):
        u = unwind(pos, {"a": m}, PaperVenue({"a": m}, books), D(2))
        assert not u.done and u.sells[0].shares == 0 and "market a" in u.sells[0].note
    assert books.reads == []  # not even asked


def test_floor_price_by_hand() -> None:
    no_fee = FeeSchedule()
    assert floor_price(D(100), D(44), no_fee, D("0.01")) == D("0.44")
    assert floor_price(D(100), D("44.01"), no_fee, D("0.01")) == D("0.45")
    assert floor_price(D(100), D(0), no_fee, D("0.01")) == D("0.01")  # anything keeps the loss within the cap
    assert floor_price(D(100), D(100), no_fee, D("0.01")) is None  # 0.99 brings in 99 at most
    assert floor_price(D(100), D(44), FeeSchedule(enabled=True, rate=None), D("0.01")) is None
    # 2 % fee, 0.001 tick: at 0.445, 44.5 − 100 × 0.02 × 0.445 × 0.555 = 44.5 − 0.49395 = 44.00605 ≥ 44
    assert floor_price(D(100), D(44), FEE_2PCT, D("0.001")) == D("0.445")


def test_settling_a_naked_position_at_resolution() -> None:
    # bought 100 NO for 49.4998, sold 40 for 17.80 net; the 60 held pay 1 each when NO wins
    p = Position("x-no", "x", "No", D(100), D("49.4998"), D(40), D("17.80"))
    assert settle_positions([p], {"x-no": D(1)}) == D("28.3002")  # 17.80 + 60 − 49.4998
    assert settle_positions([p], {"x-no": None}) is None
