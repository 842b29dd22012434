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
GROUP = SynonymGroup("list:btc-150k", "btc-150k", "list", ("A", "B", "C"), proven=True,
                     basis="declared in synonyms.yml (list:btc-150k)")
CANDIDATE = SynonymGroup("kw:btc-150k", "btc-150k", "keywords", ("A", "B", "C"), basis="keywords of group btc-150k")


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
    assert (f.subject, f.group_key, f.market_id) == ("group:list:btc-150k", "list:btc-150k", "B")
    assert f.metric == D("526.31") and f.estimated_edge_bps == D("526.31") and f.max_level == "P1"
    assert f.executable_shares == D(100) and f.executable_notional == D(95)
    assert [(leg.token_id, leg.cost) for leg in f.legs] == [("B-yes", D("56.00")), ("A-no", D("39.00"))]
    p = f.payload
    assert (p["leader"], p["laggard"], p["gap"], p["executable"]) == ("A", "B", "0.07", True)
    assert p["market_ids"] == ["A", "B"]
    # The payout of YES B + NO A in every state the proven equivalence allows (A and B resolve alike):
    #   both YES: YES B pays 1 → 1;  both NO: NO A pays 1 → 1.
    assert f.arbitrage is not None
    assert [(s.state, s.payout) for s in f.arbitrage.states] == [
        ("YES: Bitcoin above $150k by December 31, 2026?; Will Bitcoin reach $150,000 in 2026?", D(1)),
        ("every market NO", D(1))]
    assert f.arbitrage.basis == ("declared in synonyms.yml (list:btc-150k)",)


def test_a_candidate_group_is_an_indicator_p3_at_any_prices() -> None:
    # The same books, but the group is a keyword match (a candidate): A and B may disagree, and in the
    # state "A YES, B NO" YES B + NO A pays 0. So no arbitrage: the gap is an indicator, P3 at most.
    for a, b in (("0.62", "0.55"), ("0.90", "0.10"), ("0.60", "0.30")):
        [f] = run(universe([market("A"), market("B")], quotes(a, token="A") + quotes(b, token="B"),
                           groups=[CANDIDATE]))
        assert f.finding_class == "indicator" and f.arbitrage is None and f.max_level == "P3"
        assert f.measure is not None and f.measure.name == "gap_bps"
        assert "possibly related, NOT a proven equivalence" in f.message
        [s] = evaluate_rules([rule()], universe([market("A"), market("B")],
                                                quotes(a, token="A") + quotes(b, token="B"), groups=[CANDIDATE]))
        assert s.level == "P3" and s.estimated_edge_bps is None


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
    assert f.metric == D("300.00") and f.estimated_edge_bps is None and f.legs == () and f.max_level == "P3"
    assert f.payload["executable"] is False
    [s] = evaluate_rules([rule()], u("0.60", "0.57", ms=ms))
    assert s.level == "P3"


def test_an_unknown_fee_rate_caps_at_p2() -> None:
    [f] = run(u(ms=[market("A", fee=FeeSchedule(True, None, 1)), market("B")]))
    assert f.max_level == "P2" and f.arbitrage is not None and f.arbitrage.fee_unknown is True


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
    assert (r.id, r.type, r.enabled) == ("synonym-misprice", "SYNONYM_MISPRICE", True)
    assert r.params == SynonymMispriceParams(min_gap=D("0.025"), size=D(100))
    assert dict(r.levels) == {"P1": D(150), "P2": D(50), "P3": D(10)}


def test_fees_are_charged_per_level_fill_of_a_leg() -> None:
    # B (laggard, fee rate 0.02, exponent 1) YES asks 0.56 × 60, 0.57 × 340; A's NO ask 0.39 × 400 (no fee).
    # 100 shares:
    #   B: 60 × 0.56 = 33.60, fee 60 × 0.02 × 0.56 × 0.44 = 0.29568
    #      40 × 0.57 = 22.80, fee 40 × 0.02 × 0.57 × 0.43 = 0.19608
    #   A NO: 100 × 0.39 = 39.00
    #   cost 33.60 + 22.80 + 39.00 + 0.49176 = 95.89176; payout 100; profit 4.10824
    #   → 4.10824 / 95.89176 × 10,000 = 428.4247… → 428.42 bps
    # (B's level boundary at 60 shares: 33.60 + 0.29568 + 23.40 = 57.29568 for 60, profit 2.70432 < 4.10824.)
    fee = FeeSchedule(True, D("0.02"), 1)
    bs = [*quotes("0.62", token="A"),
          book("B-yes", [("0.56", "60"), ("0.57", "340")], [("0.54", "400")]),
          book("B-no", [("0.46", "400")], [("0.44", "60"), ("0.43", "340")])]
    [f] = run(universe([market("A"), market("B", fee=fee)], bs, groups=[GROUP]))
    assert f.executable_shares == D(100) and f.executable_notional == D("95.89176")
    assert f.metric == f.estimated_edge_bps == D("428.42") and f.max_level == "P1"
    yes_b, no_a = f.legs
    assert (yes_b.cost, yes_b.fee, yes_b.worst_price, yes_b.vwap) == (D("56.40"), D("0.49176"), D("0.57"),
                                                                      D("0.564"))
    assert (no_a.cost, no_a.fee) == (D("39.00"), 0)
    arb = f.arbitrage
    assert arb is not None and (arb.fees, arb.profit, arb.payout) == (D("0.49176"), D("4.10824"), D(100))
    assert f.payload["limit_prices"] == ["0.57", "0.39"] and arb.fee_unknown is False


def test_depth_below_the_minimum_order_size_leaves_the_gap_information_only() -> None:
    # B's YES ask holds 40 shares but B's minimum order is 50: no set can be bought. The gap 0.07 is
    # still more than 0.025 → information only: metric 0.07 × 10,000 = 700, no legs, P3 at most.
    bs = quotes("0.62", token="A") + quotes("0.55", token="B", ask_size="40")
    [f] = run(universe([market("A"), market("B", min_order_size=D(50))], bs, groups=[GROUP]))
    assert (f.metric, f.estimated_edge_bps, f.legs, f.max_level) == (D("700.00"), None, (), "P3")
    assert f.executable_shares is None and f.payload["executable"] is False
    assert f.edge_score == 0.14  # information only: min(0.5, 0.07 / 0.5)


def test_limit_prices_are_rounded_up_to_the_tick() -> None:
    # B's ask sits off the 0.01 grid at 0.555 (e.g. just after a tick size change): 0.555 + 0.39 = 0.945/set,
    # 100 sh → 5.5 / 94.5 = 582.0105… → 582.01 bps; the buy limit for B is rounded UP to 0.56.
    bs = [*quotes("0.62", token="A"), book("B-yes", [("0.555", "400")], [("0.54", "400")]),
          book("B-no", [("0.46", "400")], [("0.445", "400")])]
    [f] = run(universe([market("A"), market("B")], bs, groups=[GROUP]))
    assert f.estimated_edge_bps == D("582.01") and f.payload["limit_prices"] == ["0.56", "0.39"]


def test_a_closed_member_is_left_out_and_the_others_still_compared() -> None:
    # C is closed with YES mid 0.90: it must not become the leader; A (0.62) vs B (0.55) as before.
    [f] = run(u(c="0.90", ms=[market("A"), market("B"), market("C", status="closed")]))
    assert (f.payload["leader"], f.payload["laggard"], f.payload["market_ids"]) == ("A", "B", ["A", "B"])
    assert f.estimated_edge_bps == D("526.31")
    assert f.payload["mids"] == {"A": "0.62", "B": "0.55"}


def test_one_changed_member_is_enough_and_the_engine_levels_it_p1() -> None:
    assert len(run(u(changed=frozenset({"A"})))) == 1
    [s] = evaluate_rules([rule()], u())
    assert (s.level, s.rule_type, s.estimated_edge_bps) == ("P1", "SYNONYM_MISPRICE", D("526.31"))
    # an unknown fee rate caps it at P2 although 526.31 ≥ the P1 threshold 150
    [s] = evaluate_rules([rule()], u(ms=[market("A", fee=FeeSchedule(True, None, 1)), market("B")]))
    assert s.level == "P2"


def test_a_stale_book_by_age_is_skipped() -> None:
    # A's books were last observed 6 minutes ago (max age 5): A has no usable quote, B alone is no pair.
    old = T0 - timedelta(minutes=6)
    assert run(u(observed={"A-yes": old, "A-no": old})) == []
    assert len(run(u(observed={"A-yes": T0 - timedelta(minutes=4)}))) == 1


def test_a_proven_gap_that_stops_being_executable_is_a_new_indicator_not_the_arbitrage_continued() -> None:
    """Step 1: the proven pair is an arbitrage at 526.31 bps. Step 2: B's ask thins to 40 shares under
    its 50-share minimum — the gap (700 bps of probability) is information only. The two are different
    signals: the arbitrage's opportunity closes with its edge, the gap opens its own, and the gap's
    700 never becomes the arbitrage's metric (nor re-alerts it as "improved")."""
    from mpx.domain.rules.episodes import track

    ms = [market("A"), market("B", min_order_size=D(50))]
    step1 = universe(ms, quotes("0.62", token="A") + quotes("0.55", token="B"), groups=[GROUP])
    step2 = universe(ms, quotes("0.62", token="A") + quotes("0.55", token="B", ask_size="40"), groups=[GROUP])
    [arb] = evaluate_rules([rule()], step1)
    [gap] = evaluate_rules([rule()], step2)
    assert arb.finding_class == "arbitrage" and gap.finding_class == "indicator"
    assert arb.signature != gap.signature  # variant "indicator": never the same signal as the arbitrage
    open_: dict[str, Any] = {}
    first = track(open_, [arb], as_of=T0, touched=None, cooldowns={}, active_rules=["syn"])
    second = track(open_, [gap], as_of=T0 + timedelta(seconds=10), touched=frozenset({"A", "B"}), cooldowns={},
                   active_rules=["syn"])
    [opened] = first.opened
    assert [o.signature for o in second.closed] == [arb.signature] and opened.max_metric == D("526.31")
    assert opened.finding_class == "arbitrage" and opened.last_metric == D("526.31")
    [indicator] = second.opened
    assert (indicator.finding_class, indicator.max_metric) == ("indicator", D("700.00"))
    assert [a.reason for a in second.alerts] == ["opened"]  # the gap's own alert, P3
