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
    return replace(
        Finding(subject=subject, message=f"metric {metric}", metric=D(metric), edge_score=0.5,
                estimated_edge_bps=D(metric)),
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


def test_signal_carries_finding_fields_legs_and_metric(fake: FakeKind) -> None:
    leg = Leg("t", "M", "Yes", "BUY", D(10), D("0.4"), D(4), D("0.01"), D("0.4"))
    fake.findings = [finding("600", market_id="M", group_key="market:M", executable_shares=D(10),
                             executable_notional=D("4.01"), legs=(leg,), payload={"x": "1"},
                             edge_score=1.7)]
    [s] = evaluate_rules([fake_rule()], EMPTY)
    assert (s.market_id, s.group_key, s.executable_shares, s.executable_notional) == (
        "M", "market:M", D(10), D("4.01"))
    assert s.edge_score == 1.0  # clamped to [0, 1]
    assert s.payload["x"] == "1"
    assert s.payload["metric"] == "600"
    assert s.payload["legs"] == [leg.as_dict()]


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
