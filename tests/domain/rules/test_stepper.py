"""The pass stepper evaluate and backtest share: the universe moved pass by pass, the rules, the
episodes, and alert times remembered across episodes within a run."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from domain.rules.test_sum_lt_1 import T0, book, market, universe

from mpx.domain.rules.base import RuleSpec, SignalLevel
from mpx.domain.rules.stepper import Pass, Stepper, advance
from mpx.domain.rules.sum_lt_1 import SumLt1Params

LEVELS: dict[SignalLevel, D] = {"P1": D(100), "P3": D(0)}
RULE = RuleSpec(id="sum", type="SUM_LT_1", params=SumLt1Params(), levels=LEVELS, cooldown=timedelta(minutes=10))
S = timedelta(seconds=10)


def cheap() -> list[object]:
    # YES 0.47 + NO 0.50 = 0.97 for a set paying 1 in both states: +309.27 bp
    return [book("M-yes", [("0.47", "100")]), book("M-no", [("0.50", "100")])]


def dear() -> list[object]:
    return [book("M-yes", [("0.50", "100")]), book("M-no", [("0.51", "100")])]


def test_advance_moves_the_universe_and_names_what_the_rules_reexamine() -> None:
    u = universe([market("M"), market("N")], cheap())
    touched = advance(u, Pass(T0 + S, frozenset({"M"}), frozenset({"N-yes"})))
    assert (u.as_of, u.changed, u.unobserved) == (T0 + S, frozenset({"M"}), frozenset({"N-yes"}))
    assert touched == {"M", "N"}  # N lost a book: an episode on it may close
    # every token the pass observed is fresh now, the one it missed keeps its old time
    assert u.observed["M-yes"] == T0 + S and "N-yes" not in u.observed
    assert advance(u, Pass(T0 + 2 * S, None)) is None  # a first step: every market


def test_a_replayed_pass_observed_everything_and_leaves_observed_alone() -> None:
    u = universe([market("M")], cheap(), observed_now=True)
    advance(u, Pass(T0, frozenset({"M"})))
    assert u.observed == {}


def test_the_stepper_opens_updates_and_closes_one_opportunity() -> None:
    u = universe([market("M")], cheap())
    st = Stepper([RULE], improve_bps=D(25))
    first = st.step(u, advance(u, Pass(T0, None)))
    assert first.found == 1 and [a.reason for a in first.alerts] == ["opened"] and len(st.open) == 1
    assert st.step(u, advance(u, Pass(T0 + S, frozenset()))).alerts == []  # nothing changed: still open
    u.books = {b.token_id: b for b in dear()}
    gone = st.step(u, advance(u, Pass(T0 + 2 * S, frozenset({"M"}))))
    assert len(gone.closed) == 1 and st.open == {}


def test_a_flicker_within_one_run_does_not_alert_twice_within_the_cooldown() -> None:
    # open (alert) → closed → open again 20 s later: the rule's cooldown is 10 minutes, so the second
    # opening is an opportunity but not an alert, although nothing was stored in between
    u = universe([market("M")], cheap())
    st = Stepper([RULE], improve_bps=D(25), last_alerts={})
    assert len(st.step(u, advance(u, Pass(T0, None))).alerts) == 1
    u.books = {b.token_id: b for b in dear()}
    st.step(u, advance(u, Pass(T0 + S, frozenset({"M"}))))
    u.books = {b.token_id: b for b in cheap()}
    again = st.step(u, advance(u, Pass(T0 + 2 * S, frozenset({"M"}))))
    assert len(again.opened) == 1 and again.alerts == []
