"""The backtest's lazily parsed books give the rules exactly what parsed books give, and the exact
shortcut (best asks already summing to the payout) dismisses a set without reading its depth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from mpx.adapters.db.replay import LazyBooks
from mpx.domain.models import Book, Level, Market, Outcome
from mpx.domain.rules.base import Universe
from mpx.domain.rules.sets import cannot_profit, leg_books

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
M = Market("m", "Will m?", (Outcome("y", "m", "Yes", 0), Outcome("n", "m", "No", 1)))


def lazy(asks_y: str, asks_n: str, ts: datetime = T0) -> LazyBooks:
    books = LazyBooks({})
    books.put_raw("y", ts, f"|{{0.40}}|{{100}}|{asks_y}|{{60,100}}", "0.40", asks_y[1:].split(",")[0].rstrip("}"))
    books.put_raw("n", ts, f"0.5|{{0.50}}|{{100}}|{asks_n}|{{500,10}}", "0.50", asks_n[1:].split(",")[0].rstrip("}"))
    return books


def test_lazy_books_parse_to_the_same_book() -> None:
    books = lazy("{0.48,0.49}", "{0.49,0.50}")
    assert books.ask_at("y") == (T0, D("0.48"))  # read from the text, nothing parsed yet
    assert books["y"] == Book("y", (Level(D("0.40"), D(100)),), (Level(D("0.48"), D(60)), Level(D("0.49"), D(100))),
                              T0, None)
    assert books.ask_at("y") == (T0, D("0.48"))  # the same once parsed
    assert books["n"].last_trade == D("0.5") and "zz" not in books and books.get("zz") is None
    empty = LazyBooks({})
    empty.put_raw("e", T0, "|{}|{}|{}|{}", "", "")
    assert empty.ask_at("e") == (T0, None) and empty["e"].asks == ()
    start = LazyBooks({"s": Book("s", (), (Level(D("0.7"), D(5)),), T0)})  # a book from before the window
    assert start.ask_at("s") == (T0, D("0.7")) and start.ask_at("zz") is None


def uni(books: LazyBooks, fast: bool, **kw: object) -> Universe:
    """With ``fast`` the rules read tops through ``ask_at`` (as the backtest does), else through
    the parsed books (as evaluate does): the answers must be the same."""
    return Universe(as_of=T0, markets={"m": M}, events={}, books=books,
                    ask_at=books.ask_at if fast else None, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("fast", [True, False])
def test_the_shortcut_is_exact_at_the_boundary(fast: bool) -> None:
    u = uni(lazy("{0.48,0.49}", "{0.52,0.53}"), fast)
    assert cannot_profit(M.outcomes, u, D(1))  # 0.48 + 0.52 = 1: no size can profit
    assert leg_books([(M, o) for o in M.outcomes], u, D(1)) is None
    u = uni(lazy("{0.48,0.49}", "{0.51,0.53}"), fast)
    assert not cannot_profit(M.outcomes, u, D(1))  # 0.99: the depth decides
    legs = leg_books([(M, o) for o in M.outcomes], u, D(1))
    assert legs is not None and legs[1].asks[0] == Level(D("0.51"), D(500))


@pytest.mark.parametrize("fast", [True, False])
def test_the_shortcut_treats_stale_and_unobserved_books_as_missing(fast: bool) -> None:
    u = uni(lazy("{0.40}", "{0.50}", ts=T0 - timedelta(minutes=10)), fast, max_book_age=timedelta(minutes=5))
    assert cannot_profit(M.outcomes, u, D(1))
    assert cannot_profit(M.outcomes, uni(lazy("{0.40}", "{0.50}"), fast, unobserved=frozenset({"n"})), D(1))
    assert not cannot_profit(M.outcomes, uni(lazy("{0.40}", "{0.50}"), fast), D(1))
    assert cannot_profit(M.outcomes, uni(lazy("{}", "{0.50}"), fast), D(1))  # no asks at all


def test_a_replayed_pass_observed_every_book_so_only_unobserved_ones_are_missing() -> None:
    old = lazy("{0.40}", "{0.50}", ts=T0 - timedelta(hours=1))  # last changed an hour ago, seen now
    u = Universe(as_of=T0, markets={"m": M}, events={}, books=old, ask_at=old.ask_at, observed_now=True,
                 max_book_age=timedelta(minutes=5))
    assert u.sum_fresh_asks(["y", "n"]) == D("0.90") and not cannot_profit(M.outcomes, u, D(1))
    assert u.fresh_best_ask("y") == D("0.40") and u.fresh_book("n") is not None  # one rule for every path
    u.unobserved = frozenset({"y"})
    assert u.sum_fresh_asks(["y", "n"]) is None and cannot_profit(M.outcomes, u, D(1))
    assert u.fresh_best_ask("y") is None and u.fresh_book("y") is None
