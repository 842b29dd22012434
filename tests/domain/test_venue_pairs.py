"""The cross-venue matcher proposes, never proves: the same game across venues is proposed (both
team markets), while a spread, an over/under, another date, another subject or two markets of one
venue are not; pairs keep a stable order (Polymarket first)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from mpx.domain.models import Market, Outcome
from mpx.domain.venue_pairs import ordered, propose

GAME = datetime(2026, 9, 18, 0, 15, tzinfo=UTC)


def poly(mid: str, question: str, labels: tuple[str, str] = ("Yes", "No"), **kw: object) -> Market:
    outs = (Outcome(f"{mid}-0", mid, labels[0], 0), Outcome(f"{mid}-1", mid, labels[1], 1))
    return Market(id=mid, question=question, outcomes=outs, end_date=kw.pop("end_date", GAME), **kw)  # type: ignore[arg-type]


def kalshi(ticker: str, title: str, rules: str, **kw: object) -> Market:
    outs = (Outcome(f"{ticker}:yes", ticker, "Yes", 0), Outcome(f"{ticker}:no", ticker, "No", 1))
    return Market(id=ticker, question=title, outcomes=outs, venue="kalshi", description=rules,
                  end_date=kw.pop("end_date", GAME + timedelta(days=2)), **kw)  # type: ignore[arg-type]


RULES = "If {team} wins the DET Lions vs BUF Bills Pro Football game originally scheduled for Sep 17, 2026, " \
        "then the market resolves to Yes."
MONEYLINE = poly("0xml", "Lions vs. Bills", ("Lions", "Bills"))
SPREAD = poly("0xsp", "Spread: Bills (-1.5)", ("Bills", "Lions"))
TOTAL = poly("0xou", "Lions vs. Bills: O/U 49.5", ("Over", "Under"))
DET = kalshi("KXNFLGAME-26SEP17DETBUF-DET", "Detroit wins", RULES.format(team="Detroit"))
BUF = kalshi("KXNFLGAME-26SEP17DETBUF-BUF", "Buffalo wins", RULES.format(team="Buffalo"))


def found(*markets: Market, **kw: object) -> set[tuple[str, str]]:
    return {(c.market_a, c.market_b) for c in propose({m.id: m for m in markets}, **kw)}  # type: ignore[arg-type]


def test_both_team_markets_pair_with_the_moneyline_only() -> None:
    assert found(MONEYLINE, SPREAD, TOTAL, DET, BUF) == {("0xml", DET.id), ("0xml", BUF.id)}


def test_close_times_too_far_apart_or_unknown_are_not_proposed() -> None:
    assert found(MONEYLINE, replace(DET, end_date=GAME + timedelta(days=4))) == set()
    assert found(MONEYLINE, replace(DET, end_date=GAME + timedelta(days=4)), max_date_gap=timedelta(days=5))
    assert found(MONEYLINE, replace(DET, end_date=None)) == set()


def test_thresholds_must_be_the_same_numbers() -> None:
    btc = poly("0xbtc", "Will Bitcoin be above $150,000 on December 31, 2026?", end_date=GAME)
    same = kalshi("KXBTC-26DEC31-T150000", "Bitcoin above $150,000 on Dec 31, 2026?", "", end_date=GAME)
    other = kalshi("KXBTC-26DEC31-T140000", "Bitcoin above $140,000 on Dec 31, 2026?", "", end_date=GAME)
    reach = kalshi("KXBTCMAX-26-150000", "Will Bitcoin reach $150,000 in 2026?", "", end_date=GAME)
    assert found(btc, same, other, reach) == {("0xbtc", same.id)}


def test_one_venue_alone_and_other_subjects_give_nothing() -> None:
    assert found(MONEYLINE, replace(MONEYLINE, id="0xml2")) == set()
    assert found(MONEYLINE, kalshi("KXRAINNYC-26MAR12-T0", "Rain in NYC on Mar 12?", "If it rains in Central Park…")) \
        == set()
    assert found(MONEYLINE, replace(DET, status="closed")) == set()


def test_the_polymarket_market_comes_first() -> None:
    assert [m.id for m in ordered(DET, MONEYLINE)] == ["0xml", DET.id]
    [c] = propose({DET.id: DET, MONEYLINE.id: MONEYLINE})
    assert (c.market_a, c.market_b) == ("0xml", DET.id) and "48 h apart" in c.reason
