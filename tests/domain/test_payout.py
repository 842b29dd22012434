"""The states of the world a set of legs meets, and what it pays in each (mpx.domain.payout)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from mpx.domain.models import Market, Outcome
from mpx.domain.payout import (
    Equivalent,
    ExactlyOne,
    Implies,
    PayoutError,
    guaranteed,
    payout_table,
    states,
)


def mk(mid: str, labels: tuple[str, ...] = ("Yes", "No")) -> Market:
    return Market(id=mid, question=f"{mid}?", outcomes=tuple(Outcome(f"{mid}-{i}", mid, lab, i)
                                                            for i, lab in enumerate(labels)))


A, B, C = mk("A"), mk("B"), mk("C")


def table(tokens: list[str], markets: list[Market], *facts: object) -> list[tuple[str, D]]:
    return [(s.state, s.payout) for s in payout_table(tokens, markets, facts)]  # type: ignore[arg-type]


def test_two_unrelated_binary_markets_have_four_states() -> None:
    assert list(states([A, B])) == [{"A": 0, "B": 0}, {"A": 0, "B": 1}, {"A": 1, "B": 0}, {"A": 1, "B": 1}]
    # YES of A + NO of B with nothing known about them:
    #   A YES, B YES → 1 (YES A);  A YES, B NO → 2;  A NO, B YES → 0;  both NO → 1 (NO B)
    # → guaranteed 0: not an arbitrage, whatever it costs
    t = table(["A-0", "B-1"], [A, B])
    assert t == [("YES: A?; B?", 1), ("YES: A?", 2), ("YES: B?", 0), ("every market NO", 1)]
    assert guaranteed(payout_table(["A-0", "B-1"], [A, B])) == 0


def test_an_equivalence_leaves_the_states_where_both_agree() -> None:
    # YES A + NO B, A ⇔ B: both YES → 1 (YES A); both NO → 1 (NO B)
    assert table(["A-0", "B-1"], [A, B], Equivalent("A", "B", "declared")) == [
        ("YES: A?; B?", 1), ("every market NO", 1)]


def test_an_implication_removes_narrower_yes_wider_no() -> None:
    # YES W + NO N with N ⇒ W: (N, W) = (Y, Y) → 1, (N, Y)… written per state below
    n, w = mk("N"), mk("W")
    assert table(["W-0", "N-1"], [n, w], Implies("N", "W", "ladder")) == [
        ("YES: N?; W?", 1),  # both YES: YES W pays 1, NO N pays 0
        ("YES: W?", 2),  # only W: both legs pay
        ("every market NO", 1)]  # neither: NO N pays
    # the wrong way round the table says so: YES N + NO W pays 0 when only W resolves YES
    assert guaranteed(payout_table(["N-0", "W-1"], [n, w], [Implies("N", "W", "ladder")])) == 0


def test_exactly_one_of_a_complete_event() -> None:
    fact = ExactlyOne(("A", "B", "C"), "complete negRisk event")
    assert table(["A-0", "B-0", "C-0"], [A, B, C], fact) == [("YES: A?", 1), ("YES: B?", 1), ("YES: C?", 1)]
    # every NO: one market wins, the other two NOs pay → 2 in each of the 3 states
    assert {p for _, p in table(["A-1", "B-1", "C-1"], [A, B, C], fact)} == {2}
    # without the fact, "nobody wins" and "two win" are states too: the YES set can pay 0
    assert guaranteed(payout_table(["A-0", "B-0", "C-0"], [A, B, C])) == 0


def test_a_large_complete_event_enumerates_quickly() -> None:
    ms = [mk(f"M{i}") for i in range(40)]
    t = payout_table([f"M{i}-0" for i in range(40)], ms, [ExactlyOne(tuple(m.id for m in ms), "complete")])
    assert len(t) == 40 and guaranteed(t) == 1


def test_multi_outcome_markets_resolve_to_exactly_one_outcome() -> None:
    m = mk("X", ("Red", "Green", "Blue"))
    assert table(["X-0", "X-1", "X-2"], [m]) == [("X? = Red", 1), ("X? = Green", 1), ("X? = Blue", 1)]


def test_bad_input_is_refused() -> None:
    with pytest.raises(PayoutError, match="not an outcome"):
        payout_table(["Z-0"], [A])
    with pytest.raises(PayoutError, match="not in the set"):
        payout_table(["A-0"], [A], [Equivalent("A", "Z", "?")])
    with pytest.raises(PayoutError, match="no state"):  # A ⇔ B and exactly one of them: impossible
        payout_table(["A-0"], [A, B], [Equivalent("A", "B", "?"), ExactlyOne(("A", "B"), "?")])
