"""Synonym groups and ladders from synonyms.yml and the questions (mpx.domain.synonyms, pure)."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mpx.adapters.sources.mock import MockSource
from mpx.domain.models import Event, Market, MarketStatus, Outcome
from mpx.domain.synonyms import (
    Built,
    SynonymsConfig,
    Verdict,
    build,
    load_config,
    member_fingerprint,
    names,
    normalise,
    parse_config,
    state_of,
)
from mpx.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
END = datetime(2026, 12, 31, tzinfo=UTC)


def mk(mid: str, question: str, event: str | None = None, *, labels: tuple[str, ...] = ("Yes", "No"),
       end: datetime | None = END, status: MarketStatus = "active", **kw: Any) -> Market:
    return Market(id=mid, question=question, slug=f"slug-{mid}", event_id=event or f"ev-{mid}", end_date=end,
                  status=status, outcomes=tuple(Outcome(f"{mid}-{i}", mid, lab, i) for i, lab in enumerate(labels)),
                  **kw)


def negrisk(eid: str, *markets: Market) -> Event:
    return Event(eid, eid, tuple(m.id for m in markets), neg_risk=True)


def run(*markets: Market, events: tuple[Event, ...] = (), config: dict[str, Any] | None = None) -> Built:
    return build(SynonymsConfig.model_validate(config or {}), {m.id: m for m in markets}, {e.id: e for e in events})


def groups(built: Built) -> list[tuple[str, tuple[str, ...]]]:
    return [(g.source, g.market_ids) for g in built.groups]


def rels(built: Built) -> set[tuple[str, str, str]]:
    return {(r.narrower, r.wider, r.kind) for r in built.relations}


# ------------------------------------------------------------------ normalisation


@pytest.mark.parametrize(("question", "text"), [
    ("Will Bitcoin reach $150,000 in 2026?", "will bitcoin reach> $150000 in 2026"),
    ("Bitcoin above $150k by December 31, 2026?", "bitcoin > $150000 by @2026-12-31"),
    ("Will BTC hit 1.5M?", "will bitcoin reach> 1500000"),
    ("BTC over 150 thousand?", "bitcoin > 150000"),
    ("Will Bitcoin ETFs hold over 150k BTC by December 31, 2026?",
     "will bitcoin etfs hold > 150000 bitcoin by @2026-12-31"),  # a count of coins, not a price
    ("Will Trump deport 2,000,000 or more people?", "will trump deport >= 2000000 people"),
    ("Will gas cost $3 or less?", "will gas cost <= $3"),
    ("Will the Fed cut by 50+ bps?", "will the fed cut by >= 50 bps"),
    ("Will US CPI exceed 3.5% in May?", "will us cpi > 3.5% in may"),
    ("Will ETH be below $2k on Mar. 3?", "will ethereum be < $2000 on @03-03"),
    ("Will Bitcoin be <$80k on March 30?", "will bitcoin be < $80000 on @03-30"),
    ("Will GDP growth be under -1% in Q1 2026?", "will gdp growth be < -1% in q1 2026"),
    ("Fed decision after the March 2026 meeting?", "fed decision after the @2026-03 meeting"),
    ("Will Trump's approval be at least 45% on 1 April 2026?", "will trump approval be >= 45% on @2026-04-01"),
    ("Won't the U.S. Federal Reserve cut rates?", "will not the us fed cut rate"),
    ("Will Nvidia hit $5T?", "will nvidia reach> $5000000000000"),
    ("Will unemployment fall to 4%?", "will unemployment dip< 4%"),
    ("Will inflation reach more than 4% in 2025?", "will inflation reach> > 4% in 2025"),
    ("Will Bitcoin not reach €150k?", "will bitcoin not reach> €150000"),
    # a comparator word without a number is a word
    ("Will Russia reach a deal over the weekend?", "will russia reach a deal over the weekend"),
])
def test_normalise(question: str, text: str) -> None:
    assert normalise(question).text == text


def test_comparator_classes_never_compare_equal() -> None:
    classes = {normalise(f"Will Bitcoin be {c} $150k on June 30, 2026?").skeleton[0] for c in (
        "above", "at least", "reach", "below", "at most", "dip to")}
    assert classes == {">", ">=", "reach>", "<", "<=", "dip<"}
    assert normalise("above $150k").figures == ("$150000",) and normalise("above 150k BTC").figures == ("150000",)


def test_names_are_the_capitalised_words_after_the_first() -> None:
    assert names("Will Donald Trump Jr. win?") == {"donald", "trump", "jr"}
    assert names("Will Party A win the Senate?") == {"party", "a", "senate"}
    assert names("Will BTC reach $1M? Bitcoin says no") == {"bitcoin"}  # a new sentence's first word
    assert names("Won't the Federal Reserve cut rates?") == {"fed"}


def test_figures_skeleton_and_content_words() -> None:
    n = normalise("Will Max Verstappen not finish 2nd in Q1 by June 30, 2026?")
    assert n.figures == ("2nd", "q1", "@2026-06-30")
    assert n.skeleton == ("not", "2nd", "in", "q1", "by", "@2026-06-30")
    assert n.content == ("max", "verstappen", "finish") and n.words == {"max", "verstappen", "finish"}
    assert normalise("Will it rain on March 3?").yearless and not normalise("On March 3, 2026?").yearless
    assert normalise("Will Bitcoin be above $100k today?").relative


# ------------------------------------------------------------------ keyword groups and lists


def test_keyword_groups_match_every_clause_phrases_and_years_inside_dates_and_are_candidates() -> None:
    built = run(mk("A", "Will Bitcoin reach $150,000 in 2026?"), mk("B", "Bitcoin above $150k by December 31, 2026?"),
                mk("C", "Will Bitcoin reach $150,000 in 2027?"), mk("D", "Will Ethereum reach $150,000 in 2026?"),
                mk("E", "Will BTC be above $150k on December 31, 2026?"),
                mk("M", "Will MicroStrategy hold more than 150k Bitcoin in 2026?"),
                mk("F", "Will Bitcoin ETFs hold over 150k BTC by December 31, 2026?"),
                config={"groups": [{"name": "loose", "keywords": [["bitcoin"], "$150k", 2026]},
                                   {"name": "coins", "keywords": ["bitcoin", "150k", 2026]},
                                   {"name": "tight", "keywords": ["btc", ["reach", ">"], "$150,000",
                                                                  ["in 2026", "by Dec 31 2026"]]}],
                        "matcher": {"similar": False, "ladders": False}})
    assert [(g.key, g.source, g.market_ids) for g in built.groups] == [
        ("kw:coins", "keywords", ("F", "M")),         # 150k coins: not a price of $150k
        ("kw:loose", "keywords", ("A", "B", "E")),  # 2026 (an int in YAML) also matches @2026-12-31
        ("kw:tight", "keywords", ("A", "B"))]       # "on December 31" is another question
    assert not any(g.proven for g in built.groups)
    assert built.groups[2].basis.startswith("keywords of group tight in synonyms.yml: a candidate")


def test_the_shipped_keyword_group_does_not_catch_coin_counts() -> None:
    built = build(load_config(REPO / "synonyms.yml"), {m.id: m for m in (
        mk("A", "Will Bitcoin reach $150,000 in 2026?"), mk("B", "Bitcoin above $150k by December 31, 2026?"),
        mk("M", "Will MicroStrategy hold more than 150k Bitcoin in 2026?"),
        mk("F", "Will Bitcoin ETFs hold over 150k BTC by December 31, 2026?"),
        mk("N", "Will Bitcoin not reach $150,000 in 2026?"), mk("L", "Will Bitcoin be at least $150k in 2026?"))}, {})
    assert [(g.key, g.market_ids, g.proven) for g in built.groups] == [("kw:bitcoin-150k-2026", ("A", "B"), False)]


def test_exclude_keeps_questions_out_and_a_group_of_one_is_not_built() -> None:
    built = run(mk("A", "Will Bitcoin reach $150k in 2026?"), mk("B", "Will Bitcoin not reach $150k in 2026?"),
                config={"groups": [{"name": "x", "keywords": ["bitcoin", "$150k"], "exclude": ["not"]}]})
    assert built.groups == [] and built.notes == ["group x: its keywords match 1 market(s)"]


def test_a_keyword_group_matching_two_outcomes_of_one_negrisk_event_is_not_built() -> None:
    a, b = mk("A", "Will Bitcoin be above $150k in 2026?", "E"), mk("B", "Will Bitcoin be below $150k in 2026?", "E")
    c = mk("C", "Bitcoin above $150,000 in 2026?")
    built = run(a, b, c, events=(negrisk("E", a, b),), config={"groups": [{"name": "x", "keywords": ["bitcoin",
                                                                                                    "$150k"]}]})
    assert built.groups == [] and "negRisk event E" in built.notes[0]
    built = run(a, b, c, events=(negrisk("E", a, b),), config={"groups": [{"name": "x", "keywords": [
        "bitcoin", ">", "$150k"]}], "matcher": {"ladders": False}})
    assert groups(built) == [("keywords", ("A", "C"))]  # negRisk outcomes may join groups across events


def test_explicit_lists_take_ids_or_slugs_and_report_unknown_and_non_binary_ones() -> None:
    built = run(mk("A", "One?"), mk("B", "Two?"), mk("C", "Three?", labels=("X", "Y", "Z")),
                config={"groups": [{"name": "x", "markets": ["A", "slug-B", "nope", "C"]}]})
    assert [(g.key, g.market_ids, g.proven, g.basis) for g in built.groups] == [
        ("list:x", ("A", "B"), True, "declared in synonyms.yml (list:x)")]
    assert built.unknown == ["nope"]
    assert built.notes == ["group x: no market 'nope' in the universe", "group x: 'C' is not a binary market, left out"]
    a, b = mk("A", "One?", "E"), mk("B", "Two?", "E")
    built = run(a, b, events=(negrisk("E", a, b),), config={"groups": [{"name": "x", "markets": ["A", "B"]}]})
    assert built.groups == [] and "mutually exclusive" in built.notes[0]


# ------------------------------------------------------------------ the similarity matcher


def test_the_matcher_proposes_restated_questions_with_a_stable_auto_key() -> None:
    built = run(mk("A", "Will Taylor Swift announce a world tour in 2026?"),
                mk("B", "Taylor Swift announces a world tour in 2026?"),
                mk("C", "Will Taylor Swift announce a new world tour in 2026?"),   # one added word: 5/6
                mk("D", "Will MicroStrategy sell any BTC by June 30, 2026?"),
                mk("F", "MicroStrategy sells Bitcoin by June 30, 2026?"))
    assert groups(built) == [("similar", ("A", "B", "C")), ("similar", ("D", "F"))] or \
        groups(built) == [("similar", ("D", "F")), ("similar", ("A", "B", "C"))]
    keys = {g.market_ids: g.key for g in built.groups}
    assert keys["A", "B", "C"] == "auto:" + hashlib.sha1(b"A|B|C").hexdigest()[:12]
    # similar text proves nothing: every pair is a candidate for a person
    assert all(not g.proven and g.basis.startswith("similar text: a candidate") for g in built.groups)
    assert [(c.first, c.second, c.kind) for c in built.candidates] == [
        ("A", "B", "equivalent"), ("A", "C", "equivalent"), ("B", "C", "equivalent"), ("D", "F", "equivalent")]


@pytest.mark.parametrize(("a", "b", "why"), [
    ("Will Bitcoin be above $80,000 on December 31, 2026?", "Will Bitcoin be above $70,000 on December 31, 2026?",
     "another number: a ladder"),
    ("Will Taylor Swift announce a tour in 2026?", "Will Taylor Swift announce a tour in 2027?", "another year"),
    ("Will Bitcoin be above $80k on June 30, 2026?", "Will Bitcoin be above $80k on June 29, 2026?", "another date"),
    ("Will Bitcoin be above $80k on June 30, 2026?", "Will Bitcoin be below $80k on June 30, 2026?", "comparator"),
    ("Will Bitcoin be above $80k on June 30, 2026?", "Will Bitcoin be above $80k by June 30, 2026?", "on vs by"),
    ("Will the ceasefire collapse before June 30, 2026?", "Will the ceasefire collapse after June 30, 2026?",
     "before vs after"),
    ("Will the Democratic Party control the Senate after the 2026 midterm elections?",
     "Will the Democratic Party control the House after the 2026 midterm elections?", "a substituted word"),
    ("Will the Lakers beat the Celtics on March 3, 2026?", "Will the Celtics beat the Lakers on March 3, 2026?",
     "word order"),
    ("Will the Fed cut rates at the June 2026 meeting?", "Will the Fed not cut rates at the June 2026 meeting?",
     "negation"),
    ("Will Elon Musk finish 2nd in the race?", "Will Elon Musk finish 3rd in the race?", "ordinals"),
    ("Will Trump win?", "Will Trump win Pennsylvania?", "too many added words"),
    ("Will Donald Trump be the 2028 Republican presidential nominee?",
     "Will Donald Trump Jr. be the 2028 Republican presidential nominee?", "another person: a name suffix"),
    ("Will Party A win the 2026 Maine Senate race?", "Will Party B win the 2026 Maine Senate race?",
     "placeholder names"),
    ("Will Bitcoin be above $150k on June 30, 2026?", "Will Bitcoin be at least $150k on June 30, 2026?",
     "another comparator class"),
    ("Will Bitcoin reach $150k in 2026?", "Will Bitcoin be above $150k in 2026?", "touch vs close"),
    ("Will the ETFs hold over $150k of Bitcoin in 2026?", "Will the ETFs hold over 150k Bitcoin in 2026?", "units"),
])
def test_the_matcher_never_groups_different_questions(a: str, b: str, why: str) -> None:
    assert run(mk("A", a), mk("B", b), config={"matcher": {"ladders": False}}).groups == [], why


def test_one_event_never_holds_two_synonyms_and_negrisk_outcomes_are_left_to_synonyms_yml() -> None:
    same = "Will the Lakers win the 2026 NBA Finals?"
    assert run(mk("A", same, "E"), mk("B", same, "E")).groups == []  # one (non-negRisk) event
    a, b, c = mk("A", same, "E1"), mk("B", same, "E2"), mk("C", same, "E3")
    built = run(a, b, c, events=(negrisk("E1", a, mk("X", "Will the Heat win the 2026 NBA Finals?", "E1")),
                                 negrisk("E2", b, mk("Y", "Will the Suns win the 2026 NBA Finals?", "E2"))))
    assert built.groups == []  # A and B are negRisk outcomes; C alone has nobody to match
    built = run(a, b, c, events=(negrisk("E1", a, mk("X", "?", "E1")),), config={"groups": [
        {"name": "lakers", "markets": ["A", "B", "C"]}]})
    assert groups(built) == [("list", ("A", "B", "C"))]


def test_a_chain_through_two_markets_of_one_event_is_dropped() -> None:
    built = run(mk("A", "Will Taylor Swift announce a world tour in 2026?", "E"),
                mk("B", "Will Taylor Swift announce a stadium world tour in 2026?"),
                mk("C", "Will Taylor Swift announce a stadium world tour in 2026 again?", "E"),
                config={"matcher": {"min_similarity": 0.7}})
    # A ~ B ~ ... but A and C share an event: C has "again" (a marker) so C ≁ B; only A ~ B
    assert groups(built) == [("similar", ("A", "B"))]
    built = run(mk("A", "Will Taylor Swift announce a world tour in 2026?", "E"),
                mk("B", "Will Taylor Swift announce a big world tour in 2026?"),
                mk("C", "Will Taylor Swift announce a big stadium world tour in 2026?", "E"),
                config={"matcher": {"min_similarity": 0.8}})
    assert built.groups == [] and "one event" in built.notes[0]


def test_end_dates_and_implicit_periods_keep_series_apart() -> None:
    q = "Will it snow in New York on Christmas Day?"
    assert run(mk("A", q, end=END), mk("B", q, end=END + timedelta(days=365))).groups == []
    q2 = "Will Bitcoin be above $100k today?"  # relative: the same end day only
    assert run(mk("A", q2, end=END), mk("B", q2, end=END + timedelta(days=1))).groups == []
    assert groups(run(mk("A", q2, end=END), mk("B", q2, end=END + timedelta(hours=2)))) == [("similar", ("A", "B"))]
    q3 = "Will Bitcoin be above $100k on March 30?"  # no year: read in the end date's year
    assert run(mk("A", q3, end=datetime(2026, 3, 30, tzinfo=UTC)),
               mk("B", q3, end=datetime(2027, 3, 30, tzinfo=UTC))).groups == []


def test_only_yes_no_markets_that_are_not_placeholders_or_other_are_matched() -> None:
    q = "Will the Lakers win the 2026 NBA Finals?"
    assert run(mk("A", q), mk("B", q, labels=("Up", "Down"))).groups == []
    assert run(mk("A", q), mk("B", q, active=False)).groups == []
    assert run(mk("A", q), mk("B", q, neg_risk_other=True)).groups == []
    assert groups(run(mk("A", q), mk("B", q, status="closed"))) == [("similar", ("A", "B"))]


def test_a_proposed_group_inside_a_configured_one_is_not_repeated() -> None:
    built = run(mk("A", "Will Kraken IPO in 2026?"), mk("B", "Kraken IPO in 2026?"), mk("C", "Kraken listed in 2026?"),
                config={"groups": [{"name": "kraken", "markets": ["A", "B", "C"]}]})
    assert groups(built) == [("list", ("A", "B", "C"))]


# ------------------------------------------------------------------ ladders


def test_threshold_ladders_link_neighbouring_levels_in_the_right_direction() -> None:
    built = run(mk("L60", "Will Bitcoin be above $60,000 on December 31, 2026?"),
                mk("L80", "Will Bitcoin be above $80,000 on December 31, 2026?"),
                mk("L70", "Will BTC be over $70k on December 31, 2026?"),
                mk("X", "Will Bitcoin be above $75,000 on June 30, 2026?"),  # another date: another ladder
                mk("G", "Will Bitcoin be at least $65,000 on December 31, 2026?"),  # another comparator class
                mk("U1", "Will gas be under $3 in July 2026?"), mk("U2", "Will gas be under $2.50 in July 2026?"),
                mk("P1", "Will CPI be 3% or more in May 2026?"), mk("P2", "Will CPI be 3.5% or more in May 2026?"),
                mk("N", "Will CPI be 300 or more in May 2026?"),  # not a percentage: another ladder
                mk("R1", "Will Bitcoin reach $150k in 2026?"), mk("R2", "Will Bitcoin reach $200k in 2026?"),
                mk("D1", "Will Bitcoin dip to $50k in 2026?"), mk("D2", "Will Bitcoin dip to $40k in 2026?"))
    # above, at least, reach: the higher threshold is narrower; below, at most, dip to: the lower one
    assert rels(built) == {("L80", "L70", "threshold"), ("L70", "L60", "threshold"), ("U2", "U1", "threshold"),
                           ("P2", "P1", "threshold"), ("R2", "R1", "threshold"), ("D2", "D1", "threshold")}
    notes = {r.key: r.note for r in built.relations}
    assert notes["rel:L80>L70"] == ("above $80,000 ⊂ above $70,000: "
                                    "Will Bitcoin be above $80,000 on December 31, 2026?")
    assert notes["rel:U2>U1"].startswith("below $2.5 ⊂ below $3:")
    assert notes["rel:P2>P1"].startswith("at least 3.5% ⊂ at least 3%:")
    assert notes["rel:D2>D1"].startswith("dipping to $40,000 ⊂ dipping to $50,000:")
    # these markets state no resolution rules: nothing is proven, every ladder is a candidate
    assert all(not r.proven and r.basis == "threshold ladder, unproven: no resolution rules to compare"
               for r in built.relations)
    assert {(c.first, c.second, c.kind) for c in built.candidates} == {(r.narrower, r.wider, "implies")
                                                                       for r in built.relations}


RULES_ON_DATE = ('This market will resolve to "Yes" if the Binance 1 minute candle for BTC/USDT 12:00 in the ET '
                 'timezone (noon) on the date specified in the title has a final "Close" price higher than the '
                 'price specified in the title. Otherwise, this market will resolve to "No".')
BINANCE = "https://www.binance.com/en/trade/BTC_USDT"


def ruled(mid: str, question: str, rules: str = RULES_ON_DATE, source: str = BINANCE, **kw: Any) -> Market:
    return mk(mid, question, description=rules, resolution_source=source, **kw)


def test_a_threshold_ladder_with_the_same_rules_source_and_end_date_is_proven() -> None:
    built = run(ruled("L70", "Will Bitcoin be above $70,000 on December 31, 2026?"),
                ruled("L80", "Will Bitcoin be above $80,000 on December 31, 2026?"))
    [rel] = built.relations
    assert (rel.narrower, rel.wider, rel.proven) == ("L80", "L70", True)
    assert rel.basis == "threshold ladder: same template, rules identical but for the threshold"
    assert built.candidates == []  # proven: nothing for a person to do


def test_rules_that_repeat_the_threshold_prove_the_ladder_once_it_is_taken_out() -> None:
    rules = ('This market will resolve to "Yes" if ICE removes {} or more non citizens in the 2025 fiscal year. '
             "The resolution source will be the FY 2025 ICE Annual Report.")
    built = run(ruled("D5", "Will Trump deport 500,000 or more people in 2025?", rules.format("500,000"), ""),
                ruled("D7", "Will Trump deport 750,000 or more people in 2025?", rules.format("750,000"), ""))
    assert [(r.narrower, r.wider, r.proven) for r in built.relations] == [("D7", "D5", True)]
    built = run(ruled("D5", "Will Trump deport 500,000 or more people in 2025?", rules.format("500,000"), ""),
                ruled("D7", "Will Trump deport 750,000 or more people in 2025?",
                      rules.format("750,000").replace("2025 fiscal", "2026 fiscal"), ""))
    assert [(r.proven, r.basis) for r in built.relations] == [
        (False, "threshold ladder, unproven: resolution rules differ beyond the threshold")]


@pytest.mark.parametrize(("a", "b", "missing"), [
    (dict(resolution_source="https://www.coinbase.com"), {}, "different resolution sources"),
    (dict(description=RULES_ON_DATE.replace("Binance", "Coinbase")), {},
     "resolution rules differ beyond the threshold"),
    (dict(description=""), {}, "no resolution rules to compare"),
    (dict(end=END + timedelta(hours=5)), {}, "end dates differ"),
    (dict(end=None), dict(end=None), "end date unknown"),
])
def test_a_threshold_ladder_missing_part_of_the_proof_is_a_candidate_saying_what_is_missing(
        a: dict[str, Any], b: dict[str, Any], missing: str) -> None:
    base = dict(description=RULES_ON_DATE, resolution_source=BINANCE)
    built = run(mk("L70", "Will Bitcoin be above $70,000 on December 31, 2026?", **{**base, **a}),
                mk("L80", "Will Bitcoin be above $80,000 on December 31, 2026?", **{**base, **b}))
    [rel] = built.relations
    assert (rel.narrower, rel.wider, rel.proven) == ("L80", "L70", False)
    assert rel.basis == f"threshold ladder, unproven: {missing}"
    assert [(c.first, c.second, c.kind) for c in built.candidates] == [("L80", "L70", "implies")]
    assert built.candidates[0].reason.startswith(rel.basis)


def test_a_negated_ladder_runs_the_other_way_and_is_proven_only_when_unambiguous() -> None:
    rules = 'This market resolves to "Yes" if Bitcoin does not trade at or above the price in the title in 2026.'
    built = run(ruled("N100", "Will Bitcoin not reach $100k in 2026?", rules, ""),
                ruled("N150", "Will Bitcoin not reach $150k in 2026?", rules, ""))
    # reach 150k ⇒ reach 100k, so: not reach 100k ⇒ not reach 150k
    [rel] = built.relations
    assert (rel.narrower, rel.wider, rel.proven) == ("N100", "N150", True)
    assert rel.note.startswith("not reaching $100,000 ⊂ not reaching $150,000")
    assert rel.basis.endswith("(negated: the ladder runs the other way)")
    built = run(ruled("F1", "Will Bitcoin fail to reach $100k in 2026?", rules, ""),
                ruled("F2", "Will Bitcoin fail to reach $150k in 2026?", rules, ""))
    assert [(r.narrower, r.wider, r.proven) for r in built.relations] == [("F1", "F2", True)]
    by_date = 'This market resolves to "Yes" if Bitcoin does not trade at or above $100,000 by the date in the title.'
    built = run(ruled("M1", "Won't Bitcoin reach $100k by June 30, 2026?", by_date, ""),
                ruled("M2", "Won't Bitcoin reach $100k by December 31, 2026?", by_date, ""))
    # a date ladder flips too: not by December ⇒ not by June
    assert [(r.narrower, r.wider, r.kind, r.proven) for r in built.relations] == [("M2", "M1", "date", True)]
    # two negations: which way it runs is not proven
    built = run(ruled("T1", "Will Bitcoin not fail to reach $100k in 2026?", rules, ""),
                ruled("T2", "Will Bitcoin not fail to reach $150k in 2026?", rules, ""))
    assert [(r.proven, r.basis) for r in built.relations] == [
        (False, "threshold ladder, unproven: negation ambiguous (2 negation words)")]
    # "No" written as a name is read as a name, not a negation — but that is not proven
    built = run(ruled("P5", "Will No Labels get more than 5% of the vote in 2028?", rules, ""),
                ruled("P9", "Will No Labels get more than 9% of the vote in 2028?", rules, ""))
    assert [(r.narrower, r.wider, r.proven) for r in built.relations] == [("P9", "P5", False)]
    assert "negation ambiguous" in built.relations[0].basis


def test_a_date_ladder_whose_rules_read_a_state_on_the_date_is_not_proven() -> None:
    state = 'This market will resolve to "Yes" if Emmanuel Macron is President of France on the date in the title.'
    deadline = state.replace("is President of France on", "ceases to be President of France by")
    built = run(ruled("J", "Macron president by June 30, 2026?", state, ""),
                ruled("D", "Macron president by December 31, 2026?", state, ""))
    assert [(r.narrower, r.wider, r.proven, r.basis) for r in built.relations] == [
        ("J", "D", False, "date ladder, unproven: the rules state no deadline (by/before the date, or a window "
                          "ending on it)")]
    built = run(ruled("J", "Macron out by June 30, 2026?", deadline, ""),
                ruled("D", "Macron out by December 31, 2026?", deadline, ""))
    assert [(r.narrower, r.wider, r.proven) for r in built.relations] == [("J", "D", True)]


def test_dollar_amounts_and_coin_counts_never_form_one_ladder() -> None:
    built = run(ruled("USD", "Will the Bitcoin ETFs hold more than $150k in 2026?"),
                ruled("BTC", "Will the Bitcoin ETFs hold more than 100k BTC in 2026?"))
    assert built.relations == [] and built.groups == []


def test_the_recorded_date_ladders_are_proven_where_the_rules_match_and_macron_is_not() -> None:
    from mpx.adapters.sources.polymarket.parse import ParseReport, parse_events

    from stubs.polymarket import load_recorded_events

    evs, ms = parse_events(load_recorded_events(), ParseReport())
    markets = {m.id: m for m in ms}
    built = build(load_config(REPO / "synonyms.yml"), markets, {e.id: e for e in evs})
    found = {(markets[r.narrower].question, markets[r.wider].question): (r.proven, r.basis) for r in built.relations}
    proven = "date ladder: same template, rules identical but for the date"
    assert found == {
        ("MicroStrategy sells any Bitcoin by March 31, 2026?", "MicroStrategy sells any Bitcoin by June 30, 2026?"):
            (True, proven),
        ("MicroStrategy sells any Bitcoin by June 30, 2026?", "MicroStrategy sells any Bitcoin by December 31, 2026?"):
            (True, proven),
        ("Kraken IPO by March 31, 2026?", "Kraken IPO by December 31, 2026?"): (True, proven),
        # "between October 6, and October 31, 2025" vs "between September 14, 2025, and June 30, 2026"
        ("Macron out by October 31, 2025?", "Macron out by June 30, 2026?"):
            (False, "date ladder, unproven: resolution rules differ beyond the date"),
    }
    assert [markets[c.first].question for c in built.candidates] == ["Macron out by October 31, 2025?"]


def test_ladders_cross_events_but_never_inside_one_negrisk_event() -> None:
    lo = mk("LO", "Will Bitcoin be less than $70,000 on March 30, 2026?", "R")
    mid = mk("MID", "Will Bitcoin be between $70,000 and $80,000 on March 30, 2026?", "R")
    hi = mk("HI", "Will Bitcoin be greater than $80,000 on March 30, 2026?", "R")
    a75 = mk("A75", "Will Bitcoin be above $75,000 on March 30, 2026?", "T")
    a85 = mk("A85", "Will Bitcoin be above $85,000 on March 30, 2026?", "T")
    b75 = mk("B75", "Will Bitcoin be below $75,000 on March 30, 2026?")
    built = run(lo, mid, hi, a75, a85, b75, events=(negrisk("R", lo, mid, hi), Event("T", "T", ("A75", "A85"))))
    assert rels(built) == {("A85", "HI", "threshold"), ("HI", "A75", "threshold"), ("LO", "B75", "threshold")}
    # two "less than" outcomes of one negRisk event would be exclusive: never related
    x, y = mk("X", "Will Bitcoin be below $60,000 on March 30, 2026?", "S"), \
        mk("Y", "Will Bitcoin be below $50,000 on March 30, 2026?", "S")
    assert run(x, y, events=(negrisk("S", x, y),)).relations == []


def test_equal_levels_relate_to_every_neighbour_and_closed_levels_are_bridged() -> None:
    q = "Will Bitcoin be above ${} on December 31, 2026?"
    built = run(mk("A70", q.format("70,000")), mk("B80", q.format("80k")), mk("C80", q.format("80,000")),
                mk("D90", q.format("90,000"), status="resolved"), mk("E95", q.format("95,000")))
    assert rels(built) == {("B80", "A70", "threshold"), ("C80", "A70", "threshold"), ("D90", "B80", "threshold"),
                           ("D90", "C80", "threshold"), ("E95", "D90", "threshold"), ("E95", "B80", "threshold"),
                           ("E95", "C80", "threshold")}


def test_date_ladders_earlier_is_narrower() -> None:
    built = run(mk("M", "MicroStrategy sells any Bitcoin by March 31, 2026?", "E"),
                mk("D", "MicroStrategy sells any Bitcoin by December 31, 2026?", "E"),
                mk("J", "MicroStrategy sells any Bitcoin by June 30, 2026?", "E"),
                mk("Y", "MicroStrategy sells any Bitcoin in 2025?", "E"),  # not a by-date
                mk("B1", "Will OpenAI release GPT-6 before July 1, 2026?"),
                mk("B2", "Will OpenAI release GPT-6 before January 1, 2027?"),
                mk("Y1", "Will humans land on Mars by 2030?"), mk("Y2", "Will humans land on Mars by 2029?"),
                mk("Q1", "Will the ceasefire hold by March 31?", end=datetime(2026, 3, 31, tzinfo=UTC)),
                mk("Q2", "Will the ceasefire hold by June 30?", end=datetime(2027, 6, 30, tzinfo=UTC)),
                events=(Event("E", "MicroStrategy", ("M", "D", "J", "Y")),))
    assert rels(built) == {("M", "J", "date"), ("J", "D", "date"), ("B1", "B2", "date"), ("Y2", "Y1", "date")}
    assert {r.key: r.note for r in built.relations}["rel:B1>B2"].startswith("before 2026-07-01 ⊂ before 2027-01-01")


def test_declared_relations_win_and_bad_ones_are_noted() -> None:
    a, b = mk("A", "Dems win by 10 seats?"), mk("B", "Dems win?")
    l70, l80 = mk("L70", "BTC above $70k on December 31, 2026?"), mk("L80", "BTC above $80k on December 31, 2026?")
    x, y = mk("X", "X wins?", "E"), mk("Y", "Y wins?", "E")
    built = run(a, b, l70, l80, x, y, mk("C", "Who wins?", labels=("A", "B", "C")), events=(negrisk("E", x, y),),
                config={"relations": [{"narrower": "slug-A", "wider": "B", "note": "10 ⊂ win"},
                                      {"narrower": "L80", "wider": "L70", "note": "declared too"},
                                      {"narrower": "nope", "wider": "B"}, {"narrower": "X", "wider": "Y"},
                                      {"narrower": "C", "wider": "A"}, {"narrower": "slug-A", "wider": "A"}]})
    assert [(r.key, r.narrower, r.wider, r.kind, r.note, r.proven, r.basis) for r in built.relations] == [
        ("rel:A>B", "A", "B", "declared", "10 ⊂ win", True, "declared in synonyms.yml (relations.0)"),
        ("rel:L80>L70", "L80", "L70", "declared", "declared too", True, "declared in synonyms.yml (relations.1)")]
    assert built.unknown == ["nope"]
    assert built.notes == ["relations.2: no market 'nope' in the universe",
                           "relations.3: skipped, two outcomes of negRisk event E (mutually exclusive)",
                           "relations.4: skipped, not binary", "relations.5: skipped, the same market"]
    built = run(l70, l80, config={"relations": [{"narrower": "L70", "wider": "L80"}]})
    assert "imply each other" in built.notes[0]


# ------------------------------------------------------------------ verdicts


def verdict(cid: int, a: Market, b: Market, decision: str = "confirmed", relation: str | None = "equivalent",
            narrower: str | None = None, note: str = "") -> Verdict:
    return Verdict(cid, a.id, b.id, decision, relation if decision == "confirmed" else None,  # type: ignore[arg-type]
                   narrower, "alice@host", datetime(2026, 12, 1, 9, tzinfo=UTC), note,
                   {m.id: member_fingerprint(m) for m in (a, b)})


def test_confirmed_equivalent_pairs_join_into_one_proven_group() -> None:
    a, b, c = (mk("A", "Will Taylor Swift announce a world tour in 2026?"),
               mk("B", "Taylor Swift announces a world tour in 2026?"),
               mk("C", "Will Taylor Swift announce a new world tour in 2026?"))
    built = run(a, b, c)
    assert [(g.source, g.proven) for g in built.groups] == [("similar", False)]
    built = build(SynonymsConfig(), {m.id: m for m in (a, b, c)}, {},
                  [verdict(1, a, b, note="same tour"), verdict(2, c, b)])
    [group] = built.groups  # the similar group is inside the confirmed one: not repeated
    assert (group.key, group.source, group.market_ids, group.proven) == (
        "confirmed:" + hashlib.sha1(b"A|B|C").hexdigest()[:12], "confirmed", ("A", "B", "C"), True)
    assert group.basis == ("confirmed by alice@host on 2026-12-01: same tour (candidate 1); "
                           "confirmed by alice@host on 2026-12-01 (candidate 2)")
    assert built.candidates == []  # proven now (A ≡ C through B): nothing left to propose


def test_a_confirmed_implication_is_a_proven_relation_replacing_the_unproven_ladder() -> None:
    lo, hi = mk("L70", "Will Bitcoin be above $70,000 on December 31, 2026?"), \
        mk("L80", "Will Bitcoin be above $80,000 on December 31, 2026?")
    assert [(r.kind, r.proven) for r in run(lo, hi).relations] == [("threshold", False)]
    built = build(SynonymsConfig(), {"L70": lo, "L80": hi}, {},
                  [verdict(7, hi, lo, relation="implies", narrower="L80", note="read both rules")])
    assert [(r.key, r.narrower, r.wider, r.kind, r.proven, r.basis) for r in built.relations] == [
        ("rel:L80>L70", "L80", "L70", "confirmed", True,
         "confirmed by alice@host on 2026-12-01: read both rules (candidate 7)")]


def test_a_rejected_pair_is_never_proposed_again_as_a_group_or_a_relation() -> None:
    a, b = mk("A", "Will Bitcoin reach $150,000 in 2026?"), mk("B", "Bitcoin above $150k by December 31, 2026?")
    m = mk("M", "Will Bitcoin reach $150,000 in 2026 (MicroStrategy holdings)?")
    lo, hi = mk("L70", "Will Bitcoin be above $70,000 on December 31, 2026?"), \
        mk("L80", "Will Bitcoin be above $80,000 on December 31, 2026?")
    config = SynonymsConfig.model_validate({"groups": [{"name": "btc", "keywords": [
        "bitcoin", ["reach $150k", "above $150k"], 2026]}], "matcher": {"similar": False}})
    universe = {x.id: x for x in (a, b, m, lo, hi)}
    assert groups(build(config, universe, {})) == [("keywords", ("A", "B", "M"))]
    built = build(config, universe, {}, [verdict(1, a, m, "rejected"), verdict(2, b, m, "rejected"),
                                         verdict(3, hi, lo, "rejected")])
    assert [(g.key, g.market_ids, g.proven) for g in built.groups] == [
        ("kw:btc:" + hashlib.sha1(b"A|B").hexdigest()[:12], ("A", "B"), False)]
    assert built.relations == []
    assert {c.pair for c in built.candidates} == {frozenset(p) for p in (("A", "B"), ("A", "M"), ("B", "M"),
                                                                           ("L70", "L80"))}
    # one rejected pair only: the two go to different parts, the third stays with the first
    built = build(config, universe, {}, [verdict(1, a, m, "rejected")])
    assert all(not {"A", "M"} <= set(g.market_ids) for g in built.groups)


@pytest.mark.parametrize("change", [
    dict(question="Will Bitcoin be above $70,000 on December 30, 2026?"),
    dict(end_date=END + timedelta(days=1)),
    dict(description="Resolves by the Coinbase close."),
    dict(resolution_source="https://www.coinbase.com"),
])
def test_a_verdict_lapses_when_a_market_changes_its_question_end_date_or_rules(change: dict[str, Any]) -> None:
    lo, hi = mk("L70", "Will Bitcoin be above $70,000 on December 31, 2026?"), \
        mk("L80", "Will Bitcoin be above $80,000 on December 31, 2026?")
    v = verdict(7, hi, lo, relation="implies", narrower="L80")
    assert state_of(v, {"L70": lo, "L80": hi}) == "confirmed"
    changed = replace(lo, **change)
    assert state_of(v, {"L70": changed, "L80": hi}) == "lapsed"
    built = build(SynonymsConfig(), {"L70": changed, "L80": hi}, {}, [v])
    assert all(r.kind != "confirmed" and not r.proven for r in built.relations)
    assert built.notes[0] == ("verdict on candidate 7 lapsed: market L70 changed (question, end date, resolution "
                              "source or rules) since the verdict")


def test_a_lapsed_rejection_rejects_nothing() -> None:
    a, b = mk("A", "Will Kraken IPO in 2026?"), mk("B", "Kraken IPO in 2026?")
    rejected = verdict(1, a, b, "rejected")
    assert groups(run(a, b)) == [("similar", ("A", "B"))]
    assert build(SynonymsConfig(), {"A": a, "B": b}, {}, [rejected]).groups == []
    edited = replace(a, description="Resolves Yes if Kraken lists on any US exchange in 2026.")
    assert groups(build(SynonymsConfig(), {"A": edited, "B": b}, {}, [rejected])) == [("similar", ("A", "B"))]


def test_contradictory_or_exclusive_confirmations_build_nothing_and_say_why() -> None:
    a, b, c = mk("A", "Kraken IPO in 2026?"), mk("B", "Will Kraken IPO in 2026?"), mk("C", "Kraken IPO 2026?")
    built = build(SynonymsConfig.model_validate({"matcher": {"similar": False}}), {"A": a, "B": b, "C": c}, {},
                  [verdict(1, a, b), verdict(2, b, c), verdict(3, a, c, "rejected")])
    assert built.groups == [] and "a person rejected as equivalent (A, C)" in built.notes[0]
    x, y = mk("X", "Will Lab X ship first?", "E"), mk("Y", "Will Lab Y ship first?", "E")
    built = build(SynonymsConfig(), {"X": x, "Y": y}, {"E": negrisk("E", x, y)},
                  [verdict(4, x, y), verdict(5, x, y, relation="implies", narrower="X")][1:])
    assert built.relations == [] and "mutually exclusive" in built.notes[0]


# ------------------------------------------------------------------ universes


@pytest.mark.parametrize("seed", [42, 1, 7])
def test_the_mock_universe_yields_the_planted_group_and_ladders_only(seed: int) -> None:
    source = MockSource(seed=seed)
    snap = source.frame(0, datetime(2026, 1, 1, tzinfo=UTC))
    p = source.planted
    built = build(load_config(REPO / "synonyms.yml"), {m.id: m for m in snap.markets}, {e.id: e for e in snap.events})
    assert [(g.key, set(g.market_ids), g.proven) for g in built.groups] == [
        ("kw:bitcoin-150k-2026", {p["synonym_a"], p["synonym_b"]}, False)]  # keywords: a candidate
    # the planted ladders' markets share their category's rules: proven
    assert {(r.narrower, r.wider, r.kind, r.proven) for r in built.relations} == {
        (p["ladder_high"], p["ladder_low"], "threshold", True), (p["date_early"], p["date_late"], "date", True)}
    assert [c.pair for c in built.candidates] == [frozenset((p["synonym_a"], p["synonym_b"]))]


def test_a_large_universe_is_deterministic_and_consistent() -> None:
    rng = random.Random(3)
    markets, events = {}, {}
    for e in range(600):
        day = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(1, 300))
        date = f"{day:%B} {day.day}, 2026"
        if e % 3 == 0:
            ms = [mk(f"{e}-{k}", f"Will Bitcoin be above ${60 + 5 * k}k on {date}?", str(e), end=day)
                  for k in range(rng.randint(2, 6))]
        elif e % 3 == 1:
            ms = [mk(f"{e}-{k}", f"Will candidate {k} win seat {e % 40}?", str(e)) for k in range(3)]
        else:
            ms = [mk(f"{e}-0", f"Will team {rng.randint(1, 30)} win the cup on {date}?", str(e), end=day)]
        markets.update({m.id: m for m in ms})
        events[str(e)] = Event(str(e), str(e), tuple(m.id for m in ms), neg_risk=e % 3 == 1)
    first, second = build(SynonymsConfig(), markets, events), build(SynonymsConfig(), dict(reversed(markets.items())),
                                                                    events)
    assert (first.groups, first.relations) == (second.groups, second.relations)
    groups_, relations = first  # unpacks like a tuple
    assert relations and all(markets[r.narrower].event_id != markets[r.wider].event_id
                             or not events[markets[r.narrower].event_id or ""].neg_risk for r in relations)
    for g in groups_:
        assert len({markets[m].event_id for m in g.market_ids}) == len(g.market_ids)
        assert len({markets[m].question for m in g.market_ids}) == 1  # only identical questions here


# ------------------------------------------------------------------ synonyms.yml


def test_yaml_errors_name_file_line_and_key_all_at_once() -> None:
    text = ("groups:\n"
            "  - name: ok\n"
            "    keywords: [bitcoin]\n"
            "  - name: Bad Name\n"
            "    markets: [a, b]\n"
            "    colour: red\n"
            "  - name: both\n"
            "    keywords: [x]\n"
            "    markets: [y, z]\n"
            "  - name: ok\n"
            "    markets: [a]\n"
            "  - keywords: [[]]\n"
            "    exclude: yes\n"
            "matcher:\n"
            "  min_similarity: 2\n"
            "  similar: maybe\n"
            "  fuzzy: true\n"
            "relations:\n"
            "  - narrower: a\n"
            "  - narrower: a\n"
            "    wider: a\n"
            "extra: 1\n")
    with pytest.raises(ConfigError) as err:
        parse_config(text, "syn.yml")
    problems = err.value.problems
    expected = [
        "syn.yml:4: groups.1.name: String should match pattern",
        "syn.yml:6: groups.1.colour: unknown key (allowed: name, keywords, exclude, markets)",
        "syn.yml:7: groups.2: give exactly one of keywords or markets",
        "syn.yml:11: groups.3.markets: a market list needs at least two different markets",
        "syn.yml:12: groups.4.name: required key is missing",
        "syn.yml:12: groups.4.keywords: keywords needs at least one clause",
        "syn.yml:13: groups.4.exclude: Input should be a valid tuple",
        "syn.yml:15: matcher.min_similarity: Input should be less than or equal to 1",
        "syn.yml:16: matcher.similar: Input should be a valid boolean",
        "syn.yml:17: matcher.fuzzy: unknown key (allowed: similar, min_similarity, ladders, max_bucket)",
        "syn.yml:19: relations.0.wider: required key is missing",
        "syn.yml:20: relations.1: narrower and wider are the same market",
        "syn.yml:22: extra: unknown key (allowed: groups, relations, matcher)",
    ]
    for want in expected:
        assert any(p.startswith(want) for p in problems), (want, problems)
    assert len(problems) == len(expected), problems
    assert err.value.exit_code == 78


def test_duplicates_and_contradictions_are_errors_after_the_schema() -> None:
    text = ("groups:\n  - {name: a, markets: [x, y]}\n  - {name: a, markets: [y, z]}\n"
            "relations:\n  - {narrower: x, wider: y}\n  - {narrower: x, wider: y}\n  - {narrower: y, wider: x}\n")
    with pytest.raises(ConfigError) as err:
        parse_config(text, "s.yml")
    assert err.value.problems == [
        "s.yml:3: groups.1.name: duplicate group name 'a' (first: groups.0)",
        "s.yml:6: relations.1: duplicate relation (first: relations.0)",
        "s.yml:7: relations.2: the opposite of relations.0: two markets that imply each other are synonyms (a group)"]


@pytest.mark.parametrize(("text", "problem"), [
    ("groups: [\n", "s.yml:2: YAML syntax error"),
    ("- a\n- b\n", "s.yml:1: (top level): expected a mapping"),
    ("groups: 3\n", "s.yml:1: groups: Input should be a valid tuple"),
    ("groups:\n  - name: a\n    name: b\n    markets: [x, y]\n", "s.yml:3: groups.0.name: duplicate key"),
])
def test_malformed_files(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "s.yml")
    assert err.value.problems[0].startswith(problem), err.value.problems


def test_empty_sections_and_files_are_fine() -> None:
    assert parse_config("", "s.yml") == SynonymsConfig()
    assert parse_config("groups:\nrelations:\nmatcher:\n# nothing\n", "s.yml") == SynonymsConfig()


def test_the_shipped_file_is_valid_and_a_missing_file_is_empty_unless_required(tmp_path: Path) -> None:
    assert load_config(REPO / "synonyms.yml").groups
    assert load_config(tmp_path / "none.yml") == SynonymsConfig()
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "none.yml", required=True)
    assert err.value.exit_code == 78 and "none.yml" in str(err.value)


def test_ids_and_keywords_are_read_as_written() -> None:
    # YAML 1.1 would make an unquoted condition id a hex integer, 2026 an int, yes a boolean
    cid = "0x" + "0f" * 32
    config = parse_config(f"groups:\n  - {{name: a, markets: [{cid}, yes]}}\n  - {{name: b, keywords: [2026, 1.50]}}\n"
                          f"relations:\n  - {{narrower: {cid}, wider: 0x01}}\n", "s.yml")
    assert config.groups[0].markets == (cid, "yes") and config.groups[1].keywords == (("2026",), ("1.50",))
    assert (config.relations[0].narrower, config.relations[0].wider) == (cid, "0x01")
