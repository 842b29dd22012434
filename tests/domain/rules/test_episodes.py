"""Episodes: one opportunity per signature that opens, updates and closes; alerts only when it
opens or improves materially, never within the cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

from mpx.domain.findings import Arbitrage, Leg, Measure
from mpx.domain.payout import StatePayout
from mpx.domain.rules.base import Signal, SignalLevel
from mpx.domain.rules.episodes import Opportunity, signal_markets, track

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
COOL = {"r1": timedelta(minutes=10), "r2": timedelta(0)}
S = timedelta(seconds=1)


def sig(bps: str, *, signature: str = "s1", rule_id: str = "r1", level: SignalLevel = "P2",
        market: str = "M1", shares: str | None = "100", leg_market: str | None = None, **payload: Any) -> Signal:
    """An arbitrage of ``shares`` sets whose net edge is exactly ``bps`` (one leg costing 1 per set, a set
    paying 1 + bps / 10,000 in its one state), or with ``shares=None`` an indicator measuring ``bps``."""
    if shares is None:
        return Signal(ts=T0, rule_id=rule_id, rule_type="FAKE", level=level, message=f"move {bps}", edge_score=0.5,
                      signature=signature, market_id=market, measure=Measure("move_bps", D(bps)), payload=payload)
    n = D(shares)
    leg = Leg("t", leg_market or market, "Yes", "BUY", n, D(1), n, D(0), D(1))
    arb = Arbitrage((leg,), n, (StatePayout("any state", 1 + D(bps) / 10_000),), ("test",))
    return Signal(ts=T0, rule_id=rule_id, rule_type="FAKE", level=level, message=f"edge {bps}", edge_score=0.5,
                  signature=signature, market_id=market, arbitrage=arb, payload=payload)


def step(open_: dict[str, Opportunity], at: datetime, *signals: Signal, touched: set[str] | None = None,
         rules: tuple[str, ...] = ("r1", "r2"), last: dict[str, datetime] | None = None) -> Any:
    return track(open_, list(signals), as_of=at, touched=None if touched is None else frozenset(touched),
                 cooldowns=COOL, active_rules=rules, improve_bps=D(25), last_alerts=last)


def test_a_new_signature_opens_an_opportunity_and_alerts_once() -> None:
    open_: dict[str, Opportunity] = {}
    first = step(open_, T0, sig("100"))
    assert [a.reason for a in first.alerts] == ["opened"] and len(first.opened) == 1
    assert first.alerts[0].signal.payload["alert"] == "opened"
    again = step(open_, T0 + S, sig("110"))  # +10 bps: not material
    assert again.alerts == [] and again.opened == [] and again.closed == []
    opp = open_["s1"]
    assert (opp.first_metric, opp.last_metric, opp.max_metric, opp.steps) == (D(100), D(110), D(110), 2)


def test_material_improvement_alerts_again_but_not_within_the_cooldown() -> None:
    open_: dict[str, Opportunity] = {}
    step(open_, T0, sig("100"))
    # +30 bps over the alerted 100, but only 5 minutes after the last alert: cooldown 10m holds it
    assert step(open_, T0 + timedelta(minutes=5), sig("130")).alerts == []
    later = step(open_, T0 + timedelta(minutes=10), sig("130"))
    assert [a.reason for a in later.alerts] == ["improved"]
    assert open_["s1"].alerted_metric == D(130)
    # 150 is +20 over the alerted 130: not material
    assert step(open_, T0 + timedelta(minutes=30), sig("150")).alerts == []


def test_a_level_rise_is_material_whatever_the_edge() -> None:
    open_: dict[str, Opportunity] = {}
    step(open_, T0, sig("100", rule_id="r2", level="P3"))
    up = step(open_, T0 + S, sig("101", rule_id="r2", level="P2"))
    assert [a.reason for a in up.alerts] == ["improved"] and open_["s1"].best_level == "P2"
    # back down to P3 and up to P2 again: P2 was already alerted, nothing new
    step(open_, T0 + 2 * S, sig("101", rule_id="r2", level="P3"))
    assert step(open_, T0 + 3 * S, sig("101", rule_id="r2", level="P2")).alerts == []


def test_an_opportunity_closes_when_its_markets_changed_and_it_is_gone() -> None:
    open_: dict[str, Opportunity] = {}
    step(open_, T0, sig("100", market="M1"))
    # M1 did not change: the rule did not look again, the opportunity is still there
    assert step(open_, T0 + S, touched={"M2"}).closed == []
    gone = step(open_, T0 + 2 * S, touched={"M1"})
    [opp] = gone.closed
    assert opp.closed_at == T0 + 2 * S and opp.duration == 2 * S and open_ == {}


def test_every_step_with_unknown_changes_closes_what_is_not_reported() -> None:
    open_: dict[str, Opportunity] = {}
    step(open_, T0, sig("100"), sig("50", signature="s2", market="M9"))
    res = step(open_, T0 + S, sig("100"))
    assert [o.signature for o in res.closed] == ["s2"] and set(open_) == {"s1"}


def test_opportunities_of_a_disabled_rule_close() -> None:
    open_: dict[str, Opportunity] = {}
    step(open_, T0, sig("100"))
    assert [o.signature for o in step(open_, T0 + S, touched=set(), rules=("r2",)).closed] == ["s1"]


def test_reopening_within_the_cooldown_of_the_last_alert_does_not_alert() -> None:
    open_: dict[str, Opportunity] = {}
    step(open_, T0, sig("100"))
    step(open_, T0 + S, touched={"M1"})  # closed
    reopened = step(open_, T0 + 2 * S, sig("100"), last={"s1": T0})
    assert len(reopened.opened) == 1 and reopened.alerts == []
    # still open once the cooldown has passed and it never alerted: it alerts now
    assert [a.reason for a in step(open_, T0 + timedelta(minutes=11), sig("100"), last={"s1": T0}).alerts] == [
        "improved"]


def test_max_size_and_markets_accumulate_and_first_report_in_a_step_wins() -> None:
    open_: dict[str, Opportunity] = {}
    step(open_, T0, sig("100", shares="50", market_ids=["M1", "M2"]),
         sig("900", shares="900"))  # same signature twice in one step: the first wins
    opp = open_["s1"]
    assert opp.max_metric == D(100) and opp.max_executable_shares == D(50)
    step(open_, T0 + S, sig("90", shares="80", market_ids=["M3"]))
    assert opp.max_executable_shares == D(80) and opp.max_metric == D(100) and opp.last_metric == D(90)
    assert opp.market_ids == {"M1", "M2", "M3"}


def test_signal_markets_reads_market_id_payload_and_legs() -> None:
    s = sig("1", market="A", market_ids=["B"], leg_market="C")
    assert signal_markets(s) == {"A", "B", "C"}


def test_an_indicator_opportunity_tracks_its_measure_not_an_edge() -> None:
    open_: dict[str, Opportunity] = {}
    step(open_, T0, sig("1500", shares=None))
    opp = open_["s1"]
    assert (opp.finding_class, opp.measure, opp.first_metric) == ("indicator", "move_bps", D(1500))
    assert opp.max_executable_shares is None
