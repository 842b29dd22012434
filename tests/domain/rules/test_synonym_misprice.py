"""SYNONYM_MISPRICE: equivalent markets priced apart; executable when YES laggard + NO leader costs
less than 1 after fees, else information only (P3). Worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from domain.rules.test_sum_lt_1 import T0, book, market, universe

from mpx.domain.models import FeeSchedule, Market
from mpx.domain.rules.base import Finding, RuleSpec, Scope, SignalLevel, SynonymGroup, Universe
from mpx.domain.rules.dsl import load_rules
from mpx.domain.rules.engine import evaluate_rules
from mpx.domain.rules.synonym_misprice import SynonymMisprice, SynonymMispriceParams

LEVELS: dict[SignalLevel, D] = {"P1": D(150), "P2": D(50), "P3": D(10)}
ROOT = Path(__file__).resolve().parents[3]
GROUP = SynonymGroup("kw:btc-150k", "btc-150k", "keywords", ("A", "B", "C"))


def rule(scope: Scope | None = None, **params: Any) -> RuleSpec:
    return RuleSpec(id="syn", type="SYNONYM_MISPRICE", params=SynonymMispriceParams(**params), levels=LEVELS,
                    scope=scope or Scope())


def quotes(mid: str, bid_size: str = "400", ask_size: str = "400", token: str = "A") -> list[Any]:
    """YES bid/ask mid ± 0.01; the NO book mirrors it."""
    m = D(mid)
    return [book(f"{token}-yes", [(str(m + D("0.01")), ask_size)], [(str(m - D("0.01")), bid_size)]),
            book(f"{token}-no", [(str(1 - m + D("0.01")), bid_size)], [(str(1 - m - D("0.01")), ask_size)])]


def u(a: str = "0.62", b: str = "0.55", c: str | None = None, ms: list[Market] | None = None, **kw: Any) -> Universe:
    markets = ms or [market("A", question="Will Bitcoin reach $150,000 in 2026?"),
                     market("B", question="Bitcoin above $150k by December 31, 2026?"), market("C")]
    bs = quotes(a, token="A") + quotes(b, token="B") + (quotes(c, token="C") if c else [])
    return universe(markets, bs, groups=[GROUP], **kw)


def run(x: Universe, r: RuleSpec | None = None) -> list[Finding]:
    return list(SynonymMisprice().evaluate(r or rule(), x))


# leader A (mid 0.62), laggard B (0.55): gap 0.07.
# Buy YES of B at its ask 0.56 and NO of A at 1 − A's YES bid 0.61 = 0.39, 400 shares each there.
# 100 shares: 56 + 39 = 95 for a payout of 100 → 5 / 95 × 10,000 = 526.3157… → 526.31 bps


def test_an_executable_gap_is_priced_on_the_books() -> None:
    [f] = run(u())
    assert (f.subject, f.group_key, f.market_id) == ("group:kw:btc-150k", "kw:btc-150k", "B")
    assert f.metric == D("526.31") and f.estimated_edge_bps == D("526.31") and f.max_level == "P1"
    assert f.executable_shares == D(100) and f.executable_notional == D(95)
    assert [(leg.token_id, leg.cost) for leg in f.legs] == [("B-yes", D("56.00")), ("A-no", D("39.00"))]
    p = f.payload
    assert (p["leader"], p["laggard"], p["gap"], p["executable"]) == ("A", "B", "0.07", True)
    assert p["market_ids"] == ["A", "B"]


def test_the_third_member_in_between_does_not_change_leader_or_laggard() -> None:
    [f] = run(u(c="0.58"))
    assert (f.payload["leader"], f.payload["laggard"]) == ("A", "B") and f.payload["market_ids"] == ["A", "B", "C"]


def test_a_gap_at_or_below_the_threshold_is_nothing() -> None:
    assert run(u("0.60", "0.575")) == []  # exactly 0.025 is not more than 0.025
    assert len(run(u("0.60", "0.57"))) == 1  # 0.03


def test_a_gap_the_books_cannot_trade_is_information_only_p3() -> None:
    # gap 0.03: laggard YES ask 0.58 + leader NO ask 1 − 0.59 = 0.41 → 0.99/set: profitable before fees;
    # with a 25% fee on both markets: 100 × 0.25 × 0.58 × 0.42 = 6.09 and 100 × 0.25 × 0.41 × 0.59 = 6.0475
    # → 99 + 12.1375 > 100: not executable. Metric = gap 0.03 × 10,000 = 300, P3 at most.
    fee = FeeSchedule(True, D("0.25"), 1)
    ms = [market("A", fee=fee), market("B", fee=fee)]
    [f] = run(u("0.60", "0.57", ms=ms))
    assert f.metric == D("300.00") and f.estimated_edge_bps == 0 and f.legs == () and f.max_level == "P3"
    assert f.payload["executable"] is False
    [s] = evaluate_rules([rule()], u("0.60", "0.57", ms=ms))
    assert s.level == "P3"


def test_an_unknown_fee_rate_caps_at_p2() -> None:
    [f] = run(u(ms=[market("A", fee=FeeSchedule(True, None, 1)), market("B")]))
    assert f.max_level == "P2" and f.payload["fee_unknown"] is True


def test_depth_limits_the_size() -> None:
    # B's YES ask holds only 40 shares: S = 40 → 40 × 0.95 = 38 for 40 → same 526.31 bps on 40 shares
    bs = quotes("0.62", token="A") + quotes("0.55", token="B", ask_size="40")
    [f] = run(universe([market("A"), market("B")], bs, groups=[GROUP]))
    assert f.executable_shares == D(40) and f.estimated_edge_bps == D("526.31")


def test_stale_one_sided_closed_unchanged_and_out_of_scope_members_are_skipped() -> None:
    stale = [replace(b, ts=T0 - timedelta(minutes=10)) if b.token_id == "B-yes" else b
             for b in quotes("0.62", token="A") + quotes("0.55", token="B")]
    assert run(universe([market("A"), market("B")], stale, groups=[GROUP])) == []
    one_sided = [*quotes("0.62", token="A"), book("B-yes", [("0.56", "400")]), *quotes("0.55", token="B")[1:]]
    assert run(universe([market("A"), market("B")], one_sided, groups=[GROUP])) == []
    assert run(u(ms=[market("A"), market("B", status="closed")])) == []
    assert run(u(changed=frozenset({"Z"}))) == []
    assert run(u(), rule(Scope(market_ids=("A",)))) == []
    assert run(u(unobserved=frozenset({"A-yes"}))) == []


def test_the_shipped_rule_file_validates() -> None:
    [r] = load_rules([ROOT / "rules" / "synonym_misprice.yaml"])
    assert r.type == "SYNONYM_MISPRICE" and r.params.min_gap == D("0.025")  # type: ignore[attr-defined]
