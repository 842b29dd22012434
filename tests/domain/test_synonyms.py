"""Synonym groups and ladders from synonyms.yml and the questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpx.domain.models import Event, Market, Outcome
from mpx.domain.synonyms import SynonymsConfig, build, load_config, normalise, parse_config
from mpx.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def mk(mid: str, question: str, event: str | None = None, outcomes: int = 2) -> Market:
    labels = ["Yes", "No", "Maybe"][:outcomes]
    return Market(id=mid, question=question, slug=f"slug-{mid}", event_id=event or f"ev-{mid}",
                  outcomes=tuple(Outcome(f"{mid}-{i}", mid, lab, i) for i, lab in enumerate(labels)))


def universe(*markets: Market, events: tuple[Event, ...] = ()) -> tuple[dict[str, Market], dict[str, Event]]:
    return {m.id: m for m in markets}, {e.id: e for e in events}


@pytest.mark.parametrize(("question", "text"), [
    ("Will Bitcoin reach $150,000 in 2026?", "will bitcoin > 150000 in 2026"),
    ("Bitcoin above $150k by December 31, 2026?", "bitcoin > 150000 by @2026-12-31"),
    ("Will BTC hit 1.5M?", "will bitcoin > 1500000"),
    ("Will Trump deport 2,000,000 or more people?", "will trump deport > 2000000 people"),
    ("Will US CPI exceed 3.5% in May?", "will us cpi > 3.5% in may"),
    ("Will ETH be below $2k on Mar. 3?", "will ethereum be < 2000 on @03-03"),
])
def test_normalise(question: str, text: str) -> None:
    assert normalise(question).text == text


def test_keyword_groups_match_every_clause_and_years_inside_dates() -> None:
    markets, events = universe(
        mk("A", "Will Bitcoin reach $150,000 in 2026?"), mk("B", "Bitcoin above $150k by December 31, 2026?"),
        mk("C", "Will Bitcoin reach $150,000 in 2027?"), mk("D", "Will Ethereum reach $150,000 in 2026?"))
    config = SynonymsConfig.model_validate({"groups": [{"name": "btc", "keywords": [["bitcoin", "btc"], "150k",
                                                                                   "2026"]}]})
    [group] = build(config, markets, events).groups
    assert (group.key, group.source, group.market_ids) == ("kw:btc", "keywords", ("A", "B"))


def test_explicit_lists_take_ids_or_slugs_and_report_unknown_ones() -> None:
    markets, events = universe(mk("A", "One?"), mk("B", "Two?"))
    config = SynonymsConfig.model_validate({"groups": [{"name": "x", "markets": ["A", "slug-B", "nope"]}],
                                            "matcher": {"ladders": False}})
    built = build(config, markets, events)
    assert [(g.key, g.market_ids) for g in built.groups] == [("list:x", ("A", "B"))] and built.unknown == ["nope"]


def test_the_matcher_proposes_near_identical_questions_only() -> None:
    markets, events = universe(
        mk("A", "Will Taylor Swift announce a world tour in 2026?"),
        mk("B", "Taylor Swift announces a world tour in 2026?"),
        mk("C", "Will Taylor Swift announce a world tour in 2027?"),  # other year: not a synonym
        mk("D", "Will Taylor Swift release an album in 2026?"))
    groups = build(SynonymsConfig(), markets, events).groups
    assert [(g.source, g.market_ids) for g in groups] == [("similar", ("A", "B"))]
    assert groups[0].key.startswith("auto:")


def test_markets_of_one_negrisk_event_are_never_synonyms_or_ladders() -> None:
    a = mk("A", "Will Bitcoin be above $80,000 on March 31?", "E")
    b = mk("B", "Will Bitcoin be above $70,000 on March 31?", "E")
    c = mk("C", "Will Bitcoin be above $80,000 on March 31 ?", "E")
    markets, events = universe(a, b, c, events=(Event("E", "BTC", ("A", "B", "C"), neg_risk=True),))
    built = build(SynonymsConfig(), markets, events)
    assert built.groups == [] and built.relations == []


def test_threshold_ladders_link_neighbours_in_the_right_direction() -> None:
    markets, events = universe(
        mk("L60", "Will Bitcoin be above $60,000 on December 31, 2026?"),
        mk("L80", "Will Bitcoin be above $80,000 on December 31, 2026?"),
        mk("L70", "Will Bitcoin be above $70,000 on December 31, 2026?"),
        mk("X", "Will Bitcoin be above $75,000 on June 30, 2026?"),  # other date: another ladder
        mk("U1", "Will gas be under $3 in July?"), mk("U2", "Will gas be under $2.50 in July?"))
    rels = {(r.narrower, r.wider, r.kind) for r in build(SynonymsConfig(), markets, events).relations}
    # above: the higher threshold is narrower; below: the lower one
    assert rels == {("L80", "L70", "threshold"), ("L70", "L60", "threshold"), ("U2", "U1", "threshold")}


def test_date_ladders_earlier_is_narrower() -> None:
    markets, events = universe(
        mk("M", "MicroStrategy sells any Bitcoin by March 31, 2026?"),
        mk("D", "MicroStrategy sells any Bitcoin by December 31, 2026?"),
        mk("J", "MicroStrategy sells any Bitcoin by June 30, 2026?"),
        mk("Y", "MicroStrategy sells any Bitcoin in 2025?"))
    rels = [(r.narrower, r.wider, r.kind) for r in build(SynonymsConfig(), markets, events).relations]
    assert sorted(rels) == [("J", "D", "date"), ("M", "J", "date")]


def test_declared_relations_and_non_binary_markets() -> None:
    markets, events = universe(mk("A", "Dems win by 10 seats?"), mk("B", "Dems win?"),
                               mk("C", "Who wins?", outcomes=3))
    config = SynonymsConfig.model_validate({"relations": [{"narrower": "slug-A", "wider": "B", "note": "10 ⊂ win"}]})
    [rel] = build(config, markets, events).relations
    assert (rel.key, rel.narrower, rel.wider, rel.kind, rel.note) == ("rel:A>B", "A", "B", "declared", "10 ⊂ win")


def test_yaml_errors_name_file_line_and_key_all_at_once(tmp_path: Path) -> None:
    text = ("groups:\n"
            "  - name: ok\n"
            "    keywords: [bitcoin]\n"
            "  - name: Bad Name\n"
            "    markets: [a]\n"
            "    colour: red\n"
            "  - name: both\n"
            "    keywords: [x]\n"
            "    markets: [y]\n"
            "matcher:\n"
            "  min_similarity: 2\n"
            "relations:\n"
            "  - narrower: a\n")
    with pytest.raises(ConfigError) as err:
        parse_config(text, "syn.yml")
    problems = err.value.problems
    assert any(p.startswith("syn.yml:4: groups.1.name:") for p in problems), problems
    assert any(p.startswith("syn.yml:6: groups.1.colour: unknown key") for p in problems), problems
    assert any(p.startswith("syn.yml:7: groups.2: give exactly one of keywords or markets") for p in problems)
    assert any(p.startswith("syn.yml:11: matcher.min_similarity:") for p in problems), problems
    assert any(p.startswith("syn.yml:13: relations.0.wider: required key is missing") for p in problems), problems
    with pytest.raises(ConfigError) as bad:
        parse_config("groups: [\n", "s.yml")
    assert bad.value.problems[0].startswith("s.yml:2: YAML syntax error")


def test_the_shipped_file_is_valid_and_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert load_config(REPO / "synonyms.yml").groups
    assert load_config(tmp_path / "none.yml") == SynonymsConfig()
