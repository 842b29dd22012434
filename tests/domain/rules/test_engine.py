"""The rules engine: levels from thresholds and caps, disabled rules, signatures, cooldowns."""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from mpx.domain.findings import Arbitrage, FindingError, Measure
from mpx.domain.payout import StatePayout
from mpx.domain.rules import engine
from mpx.domain.rules.base import (
    Finding,
    Leg,
    RuleKind,
    RuleSpec,
    SignalLevel,
    Universe,
    signature,
)
from mpx.domain.rules.engine import evaluate_rules, lookback_for
from mpx.domain.rules.spike import SpikeParams
from mpx.domain.rules.sum_lt_1 import SumLt1Params

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEVELS: dict[SignalLevel, D] = {"P1": D(500), "P2": D(200), "P3": D(50)}
EMPTY = Universe(as_of=T0, markets={}, events={}, books={})


class NoParams(BaseModel):
    pass


class FakeKind:
    """A rule kind that reports fixed findings and records the rules it was asked to evaluate."""

    type: ClassVar[str] = "FAKE"
    Params: ClassVar[builtins.type[BaseModel]] = NoParams

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = findings
        self.calls: list[str] = []

    def lookback(self, params: BaseModel) -> timedelta:
        return timedelta(0)

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        self.calls.append(rule.id)
        return self.findings


def finding(metric: str, subject: str = "market:M", **kw: Any) -> Finding:
    """An indicator whose measure is ``metric`` (the engine levels on a finding's metric, whatever the class)."""
    return replace(
        Finding(subject=subject, message=f"metric {metric}", edge_score=0.5, measure=Measure("move_bps", D(metric))),
        **kw,
    )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeKind:
    kind = FakeKind([])

    def get_kind(rule_type: str) -> RuleKind:
        assert rule_type == "FAKE"
        return kind

    monkeypatch.setattr(engine, "get_kind", get_kind)
    return kind


def fake_rule(rule_id: str = "r1", **kw: Any) -> RuleSpec:
    return replace(RuleSpec(id=rule_id, type="FAKE", params=NoParams(), levels=LEVELS), **kw)


@pytest.mark.parametrize(
    ("metric", "cap", "expected"),
    [
        ("600", "P1", "P1"),
        ("500", "P1", "P1"),  # a threshold is inclusive
        ("499.99", "P1", "P2"),
        ("300", "P1", "P2"),
        ("60", "P1", "P3"),
        ("10", "P1", None),
        ("600", "P2", "P2"),  # capped
        ("600", "P3", "P3"),
        ("10", "P3", None),
    ],
)
def test_level_for(metric: str, cap: SignalLevel, expected: SignalLevel | None) -> None:
    assert fake_rule().level_for(D(metric), cap) == expected


def test_level_for_skips_absent_levels() -> None:
    r = fake_rule(levels={"P1": D(500), "P3": D(50)})
    assert r.level_for(D(300)) == "P3"
    assert r.level_for(D(600), "P2") == "P3"


def test_levels_assigned_by_thresholds_and_caps(fake: FakeKind) -> None:
    fake.findings = [
        finding("600", "market:a"),
        finding("300", "market:b"),
        finding("60", "market:c"),
        finding("10", "market:d"),  # below every threshold: dropped
        finding("900", "market:e", max_level="P2"),  # e.g. fee rate unknown
    ]
    signals = evaluate_rules([fake_rule()], EMPTY)
    assert [(s.message, s.level) for s in signals] == [
        ("metric 600", "P1"), ("metric 300", "P2"), ("metric 60", "P3"), ("metric 900", "P2"),
    ]
    assert all(s.ts == T0 and s.rule_id == "r1" and s.rule_type == "FAKE" for s in signals)


def test_disabled_rules_are_skipped(fake: FakeKind) -> None:
    fake.findings = [finding("600")]
    signals = evaluate_rules([fake_rule("off", enabled=False), fake_rule("on")], EMPTY)
    assert fake.calls == ["on"]
    assert [s.rule_id for s in signals] == ["on"]


def test_signal_carries_an_arbitrage_its_legs_states_and_metric(fake: FakeKind) -> None:
    # YES 10 @ 0.40 (cost 4, fee 0.01) + NO 10 @ 0.55 (cost 5.5): 9.51 for a set paying 1 in both states
    # → profit 10 − 9.51 = 0.49 → 0.49 / 9.51 × 10,000 = 515.2471… → 515.24 bps
    yes = Leg("t-yes", "M", "Yes", "BUY", D(10), D("0.4"), D(4), D("0.01"), D("0.4"))
    no = Leg("t-no", "M", "No", "BUY", D(10), D("0.55"), D("5.5"), D(0), D("0.55"))
    arb = Arbitrage((yes, no), D(10), (StatePayout("YES: M", D(1)), StatePayout("every market NO", D(1))),
                    ("a binary market resolves to exactly one of YES and NO",))
    fake.findings = [Finding(subject="market:M", message="set", edge_score=1.7, arbitrage=arb, market_id="M",
                             group_key="market:M", payload={"x": "1"})]
    [s] = evaluate_rules([fake_rule()], EMPTY)
    assert (s.market_id, s.group_key, s.executable_shares, s.executable_notional) == (
        "M", "market:M", D(10), D("9.51"))
    assert s.finding_class == "arbitrage" and s.estimated_edge_bps == s.metric == D("515.24") and s.level == "P1"
    assert s.edge_score == 1.0  # clamped to [0, 1]
    assert s.payload["x"] == "1" and s.payload["class"] == "arbitrage"
    assert s.payload["metric"] == "515.24"
    assert s.payload["arbitrage"]["legs"] == [yes.as_dict(), no.as_dict()]
    assert s.payload["arbitrage"]["states"] == [{"state": "YES: M", "payout": "1"},
                                                {"state": "every market NO", "payout": "1"}]
    assert Arbitrage.from_dict(s.payload["arbitrage"]) == arb  # what intents read back


def test_an_indicator_signal_has_a_measure_and_no_edge(fake: FakeKind) -> None:
    fake.findings = [finding("600")]
    [s] = evaluate_rules([fake_rule()], EMPTY)
    assert s.finding_class == "indicator" and s.estimated_edge_bps is None and s.executable_shares is None
    assert s.payload["measure"] == {"name": "move_bps", "value": "600",
                                    "meaning": "mid move in bps of probability"}


def test_a_finding_is_exactly_one_class() -> None:
    with pytest.raises(FindingError):
        Finding(subject="x", message="neither", edge_score=0)
    leg = Leg("t", "M", "Yes", "BUY", D(1), D("0.5"), D("0.5"), D(0), D("0.5"))
    # a single YES leg pays 0 when NO resolves: not an arbitrage, whatever it cost
    with pytest.raises(FindingError, match="pays nothing in some state"):
        Arbitrage((leg,), D(1), (StatePayout("YES: M", D(1)), StatePayout("every market NO", D(0))), ("?",))


def test_signature_is_stable() -> None:
    # sha1("rule|subject|variant")[:20]: the same across runs, processes and machines.
    assert signature("sum", "event:E1") == "f061943fd8bd6858c5c1"
    assert signature("spike", "market:M", "up") == "4c67d0e77af0219d6f3c"
    assert signature("spike", "market:M", "up") == hashlib.sha1(b"spike|market:M|up").hexdigest()[:20]
    assert signature("spike", "market:M", "down") != signature("spike", "market:M", "up")
    assert signature("other", "market:M", "up") != signature("spike", "market:M", "up")


def test_same_finding_gives_same_signature_across_evaluations(fake: FakeKind) -> None:
    fake.findings = [finding("600", variant="up"), finding("600", variant="down")]
    first = evaluate_rules([fake_rule()], EMPTY)
    later = evaluate_rules([fake_rule()], replace(EMPTY, as_of=T0 + timedelta(hours=1)))
    assert [s.signature for s in first] == [s.signature for s in later]
    assert first[0].signature == signature("r1", "market:M", "up")
    assert first[0].signature != first[1].signature


def test_lookback_for_takes_the_longest_enabled_window() -> None:
    sum_rule = RuleSpec(id="a", type="SUM_LT_1", params=SumLt1Params(), levels=LEVELS)
    spike5 = RuleSpec(id="b", type="SPIKE", params=SpikeParams(window="5m"), levels=LEVELS)
    spike60 = RuleSpec(id="c", type="SPIKE", params=SpikeParams(window="1h"), levels=LEVELS, enabled=False)
    assert lookback_for([sum_rule, spike5, spike60]) == timedelta(minutes=5)
    assert lookback_for([sum_rule]) == timedelta(0)
    assert lookback_for([]) == timedelta(0)
