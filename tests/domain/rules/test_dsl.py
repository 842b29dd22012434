"""The rules DSL: valid files load exactly; every problem is reported at once as file:line: key: message."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from mpx.domain.rules.dsl import load_rules, validate_rule_files
from mpx.domain.rules.endgame import EndgameParams
from mpx.domain.rules.registry import kind_types
from mpx.domain.rules.spike import SpikeParams
from mpx.domain.rules.sum_lt_1 import SumLt1Params
from mpx.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]
RULES = Path("rules")
"""Relative to the test's working directory (tmp_path), so messages read ``rules/x.yaml:3: …``."""

KNOWN = f"(known: {', '.join(kind_types())})"

VALID = """\
# a comment line first: the rule starts on line 2
id: cheap-sets
type: SUM_LT_1
enabled: false
description: test
scope:
  categories: [Politics, Elections]
  neg_risk: true
  min_liquidity: 1000.10
params:
  size: 250.50
  include_binary: false
levels: {P3: 0.1, P1: 150.5, P2: 1e2}
cooldown: 90s
"""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    RULES.mkdir()


def write(name: str, text: str) -> Path:
    p = RULES / name
    p.write_text(text, encoding="utf-8")
    return p


def problems(text: str) -> list[str]:
    write("x.yaml", text)
    return validate_rule_files([RULES])


# --- valid files ------------------------------------------------------------------------------


def test_valid_rule_round_trips_with_exact_decimals() -> None:
    write("ok.yaml", VALID)
    [rule] = load_rules([RULES])
    assert (rule.id, rule.type, rule.enabled, rule.description) == ("cheap-sets", "SUM_LT_1", False, "test")
    assert rule.levels == {"P1": Decimal("150.5"), "P2": Decimal("1e2"), "P3": Decimal("0.1")}
    assert list(rule.levels) == ["P1", "P2", "P3"]
    assert str(rule.levels["P3"]) == "0.1" and str(rule.levels["P1"]) == "150.5"  # not 0.1000000000000000055…
    assert isinstance(rule.params, SumLt1Params)
    assert rule.params == SumLt1Params(size=Decimal("250.50"), include_binary=False)
    assert str(rule.params.size) == "250.50"
    assert rule.scope.categories == ("Politics", "Elections") and rule.scope.neg_risk is True
    assert str(rule.scope.min_liquidity) == "1000.10"
    assert rule.cooldown == timedelta(seconds=90)
    assert rule.source == "rules/ok.yaml:2"


def test_defaults_apply() -> None:
    write("s.yaml", "id: s\ntype: SPIKE\nlevels: {P3: 500}\n")
    [rule] = load_rules([RULES])
    assert isinstance(rule.params, SpikeParams)
    assert rule.params == SpikeParams() and rule.params.window == timedelta(minutes=5)
    assert rule.cooldown == timedelta(minutes=10) and rule.enabled and rule.description == ""
    assert rule.scope.categories is None and rule.levels == {"P3": Decimal(500)}


def test_several_documents_per_file_and_yml_files_and_files_given_directly() -> None:
    write("a.yaml", "id: one\ntype: SPIKE\nlevels: {P1: 1}\n---\nid: two\ntype: ENDGAME\nlevels: {P2: 1}\n---\n")
    write("b.yml", "id: three\ntype: SUM_LT_1\nlevels: {P1: 1}\n")
    write("notes.txt", "not a rule")
    rules = load_rules([RULES])
    assert [(r.id, r.source) for r in rules] == [("one", "rules/a.yaml:1"), ("two", "rules/a.yaml:5"),
                                                 ("three", "rules/b.yml:1")]
    # the same file named twice (directory + file) is read once, not reported as duplicate ids
    assert [r.id for r in load_rules([RULES / "b.yml", RULES])] == ["three", "one", "two"]


def test_numbers_and_durations_in_their_yaml_forms() -> None:
    write("n.yaml", "id: n\ntype: SPIKE\nlevels: {P1: 1_500, P2: '1000', P3: 8.0e+2}\ncooldown: 1.5\n"
                    "params: {window: 90.5, min_move: .1}\n")
    [rule] = load_rules([RULES])
    assert rule.levels == {"P1": Decimal(1500), "P2": Decimal(1000), "P3": Decimal(800)}
    assert rule.cooldown == timedelta(seconds=1.5)
    assert isinstance(rule.params, SpikeParams)
    assert rule.params.window == timedelta(seconds=90.5) and str(rule.params.min_move) == "0.1"


def test_yaml_11_boolean_words_as_keys_stay_text() -> None:
    assert problems("id: s\ntype: SPIKE\nlevels: {P1: 1}\non: 3\n") == [
        "rules/x.yaml:4: on: unknown key (allowed: id, type, enabled, description, scope, params, levels, cooldown)"
    ]


def test_shipped_rule_files_load_cleanly() -> None:
    assert validate_rule_files([REPO / "rules"]) == []
    rules = {r.type: r for r in load_rules([REPO / "rules"])}
    assert set(rules) == set(kind_types())  # one documented example file per registered kind
    assert all(r.enabled for r in rules.values())

    s = rules["SUM_LT_1"]
    assert s.params == SumLt1Params(size=Decimal(100))
    assert s.levels == {"P1": Decimal(150), "P2": Decimal(50), "P3": Decimal(10)}
    assert s.cooldown == timedelta(minutes=10)

    sp = rules["SPIKE"]
    assert sp.params == SpikeParams(window=timedelta(minutes=5), min_move=Decimal("0.08"))
    assert sp.levels == {"P1": Decimal(1500), "P2": Decimal(1000), "P3": Decimal(800)}

    e = rules["ENDGAME"]
    assert e.params == EndgameParams(within=timedelta(hours=24), min_probability=Decimal("0.85"),
                                     max_price=Decimal("0.99"))
    assert e.levels == {"P1": Decimal(300), "P2": Decimal(150), "P3": Decimal(50)}
    assert e.cooldown == timedelta(hours=1)


# --- one problem each, exact messages ----------------------------------------------------------


def test_param_out_of_range() -> None:
    text = "id: s\ntype: SPIKE\nlevels: {P1: 1}\nparams:\n  window: 5m\n  min_move: 1.5\n"
    assert problems(text) == ["rules/x.yaml:6: params.min_move: Input should be less than 1"]


def test_param_of_the_wrong_type() -> None:
    text = "id: s\ntype: SPIKE\nlevels: {P1: 1}\nparams:\n  window: soon\n  min_top_size: lots\n"
    assert problems(text) == [
        "rules/x.yaml:5: params.window: not a duration: 'soon' (use e.g. 30s, 5m, 1h30m, 2d)",
        "rules/x.yaml:6: params.min_top_size: Input should be a valid decimal",
    ]


def test_unknown_param_key() -> None:
    assert problems("id: s\ntype: SUM_LT_1\nlevels: {P1: 1}\nparams:\n  sise: 3\n") == [
        "rules/x.yaml:5: params.sise: unknown key (allowed: size, include_binary, include_neg_risk)"
    ]


def test_unknown_scope_key_and_wrong_scope_types() -> None:
    text = "id: s\ntype: SPIKE\nlevels: {P1: 1}\nscope:\n  categories:\n    - Politics\n    - [x]\n" \
           "  neg_risk: sometimes\n  region: EU\n"
    assert problems(text) == [
        "rules/x.yaml:7: scope.categories.1: Input should be a valid string",
        "rules/x.yaml:8: scope.neg_risk: Input should be a valid boolean, unable to interpret input",
        "rules/x.yaml:9: scope.region: unknown key (allowed: categories, neg_risk, market_ids, event_ids, "
        "min_liquidity, venues)",
    ]


def test_scope_names_venues_and_an_unknown_venue_is_an_error_at_its_line() -> None:
    from mpx.domain.models import KALSHI, POLYMARKET, Market, Outcome
    from mpx.domain.rules.base import Scope

    bad = "id: s\ntype: SPIKE\nlevels: {P1: 1}\nscope:\n  venues: [kalshi, betfair]\n"
    assert problems(bad) == ["rules/x.yaml:5: scope.venues.1: Input should be 'polymarket' or 'kalshi'"]
    scope = Scope.model_validate({"venues": ["kalshi"]})
    kalshi = Market("KXT-1", "q", (Outcome("KXT-1:yes", "KXT-1", "Yes", 0),), venue=KALSHI)
    poly = Market("0xabc", "q", (Outcome("1", "0xabc", "Yes", 0),), venue=POLYMARKET)
    assert scope.admits(kalshi) and not scope.admits(poly)
    assert Scope().admits(kalshi) and Scope().admits(poly)


def test_unknown_top_level_key_and_missing_required_keys_at_the_document_start() -> None:
    assert problems("\n\ntype: SPIKE\nthreshold: 3\n") == [
        "rules/x.yaml:4: threshold: unknown key (allowed: id, type, enabled, description, scope, params, "
        "levels, cooldown)",
        "rules/x.yaml:3: id: required key is missing",
        "rules/x.yaml:3: levels: required key is missing",
    ]


def test_unknown_level() -> None:
    assert problems("id: s\ntype: SPIKE\nlevels:\n  P1: 10\n  P4: 1\n") == [
        "rules/x.yaml:5: levels.P4: unknown level (use P1, P2, P3)"
    ]


def test_levels_must_not_increase_from_p1_to_p3() -> None:
    assert problems("id: s\ntype: SPIKE\nlevels:\n  P1: 10\n  P2: 20.5\n  P3: 20.5\n") == [
        "rules/x.yaml:5: levels.P2: P2 threshold 20.5 is above P1's 10: thresholds must not increase from P1 to P3"
    ]
    # gaps are fine, and so are equal thresholds
    assert problems("id: s\ntype: SPIKE\nlevels: {P1: 10, P3: 10}\n") == []
    assert problems("id: s\ntype: SPIKE\nlevels: {P3: 11, P1: 10}\n") == [
        "rules/x.yaml:3: levels.P3: P3 threshold 11 is above P1's 10: thresholds must not increase from P1 to P3"
    ]


def test_levels_must_be_a_non_empty_mapping_of_finite_numbers() -> None:
    assert problems("id: s\ntype: SPIKE\nlevels: {}\n") == [
        "rules/x.yaml:3: levels: must map at least one of P1, P2, P3 to a minimum value"
    ]
    assert problems("id: s\ntype: SPIKE\nlevels: [1, 2]\n") == [
        "rules/x.yaml:3: levels: must map at least one of P1, P2, P3 to a minimum value"
    ]
    assert problems("id: s\ntype: SPIKE\nlevels:\n  P1: high\n  P2: .inf\n  P3: true\n") == [
        "rules/x.yaml:4: levels.P1: must be a finite number (got 'high')",
        "rules/x.yaml:5: levels.P2: must be a finite number (got inf)",
        "rules/x.yaml:6: levels.P3: must be a finite number (got True)",
    ]


def test_unknown_type_lists_the_registered_kinds() -> None:
    assert problems("id: s\ntype: SUM_LT_2\nlevels: {P1: 1}\n") == [
        f"rules/x.yaml:2: type: unknown rule type 'SUM_LT_2' {KNOWN}"
    ]


def test_wrong_types_of_top_level_values() -> None:
    text = "id: Bad_ID\ntype: SPIKE\nenabled: maybe\nlevels: {P1: 1}\ncooldown: soon\nscope: [x]\n" \
           "params: 3\ndescription: [a]\n"
    assert problems(text) == [
        "rules/x.yaml:1: id: must match [a-z0-9][a-z0-9_.-]* (lower case; got 'Bad_ID')",
        "rules/x.yaml:3: enabled: must be true or false (got 'maybe')",
        "rules/x.yaml:8: description: must be text",
        "rules/x.yaml:5: cooldown: not a duration: 'soon' (use e.g. 30s, 5m, 1h30m, 2d)",
        "rules/x.yaml:6: scope: must be a mapping",
        "rules/x.yaml:7: params: must be a mapping",
    ]


def test_id_may_not_hide_a_trailing_newline() -> None:
    [p] = problems('id: "ok\\n"\ntype: SPIKE\nlevels: {P1: 1}\n')
    assert p.startswith("rules/x.yaml:1: id: must match")


def test_non_positive_cooldown() -> None:
    assert problems("id: s\ntype: SPIKE\nlevels: {P1: 1}\ncooldown: 0\n") == [
        "rules/x.yaml:4: cooldown: duration must be positive: 0"
    ]


def test_duplicate_yaml_keys_are_reported_and_lines_stay_on_the_first() -> None:
    text = "id: s\ntype: SPIKE\nlevels: {P1: 1, P1: 2}\nparams:\n  min_move: 5\n  min_move: 0.2\n"
    assert problems(text) == [
        "rules/x.yaml:3: levels.P1: duplicate key (first given on line 3)",
        "rules/x.yaml:6: params.min_move: duplicate key (first given on line 5)",
        "rules/x.yaml:5: params.min_move: Input should be less than 1",
    ]
    assert problems("id: s\ntype: SPIKE\nid: t\nlevels: {P1: 1}\n") == [
        "rules/x.yaml:3: id: duplicate key (first given on line 1)"
    ]


def test_yaml_syntax_errors_have_the_line_of_the_yaml_mark() -> None:
    assert problems("id: s\ntype: SPIKE\nlevels: {P1: 1\nparams: {}\n") == [
        "rules/x.yaml:4: YAML syntax error: expected ',' or '}', but got ':'"
    ]
    assert problems("id: s\ntype: SPIKE\nlevels: {P1: 1}\n---\nid: t\n  bad: [\n") == [
        "rules/x.yaml:6: YAML syntax error: mapping values are not allowed here"
    ]
    assert problems("id: s\ntype: SPIKE\ndescription: a\x07b\n") == [
        "rules/x.yaml:3: YAML syntax error: special characters are not allowed (character #x0007)"
    ]


def test_unsafe_tags_and_merge_keys_are_reported_not_executed() -> None:
    assert problems("id: s\ntype: SPIKE\nlevels: {P1: !!python/name:os.system 1}\n") == [
        "rules/x.yaml:3: levels.P1: cannot read value: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/name:os.system'"
    ]
    assert problems("id: s\ntype: SPIKE\nlevels: {P1: 1}\nparams:\n  <<: {window: 5m}\n") == [
        "rules/x.yaml:5: params.<<: YAML merge keys (<<) are not supported: write the keys out"
    ]


def test_empty_file_comment_only_file_and_non_mapping_documents() -> None:
    write("a.yaml", "")
    write("b.yaml", "# nothing here\n---\n")
    write("c.yaml", "- just\n- a list\n")
    write("d.yaml", "id: d\ntype: SPIKE\nlevels: {P1: 1}\n---\n~\n---\nplain text\n")
    assert validate_rule_files([RULES]) == [
        "rules/a.yaml:1: empty file: expected one or more rule documents",
        "rules/b.yaml:1: empty file: expected one or more rule documents",
        "rules/c.yaml:1: (rule): a rule must be a mapping of keys (id, type, levels, …)",
        "rules/d.yaml:5: (rule): a rule must be a mapping of keys (id, type, levels, …)",
        "rules/d.yaml:7: (rule): a rule must be a mapping of keys (id, type, levels, …)",
    ]


def test_duplicate_ids_across_files_point_at_the_second_and_name_the_first() -> None:
    write("a.yaml", "id: same\ntype: SPIKE\nlevels: {P1: 1}\n")
    write("b.yaml", "# comment\ntype: ENDGAME\nid: same\nlevels: {P1: 1}\n")
    assert validate_rule_files([RULES]) == [
        "rules/b.yaml:3: id: duplicate rule id 'same' (first defined at rules/a.yaml:1)"
    ]


def test_missing_path_and_empty_directory() -> None:
    (RULES / "empty").mkdir()
    assert validate_rule_files([Path("nope.yaml"), RULES / "empty"]) == [
        "nope.yaml: no such file or directory",
        "rules/empty: no rule files (*.yaml, *.yml) in this directory",
    ]


# --- everything at once -------------------------------------------------------------------------


def test_all_problems_across_files_are_raised_at_once() -> None:
    write("a.yaml", "id: one\ntype: SPIKE\nlevels: {P1: 1}\n---\nid: two\ntype: SPIKE\nlevels: {P9: 1}\n"
                    "params: {min_move: 2}\n")
    write("b.yaml", "id: three\ntype: NOPE\nlevels: {P1: 1}\ncooldown: never\n---\nid: one\ntype: SPIKE\n"
                    "levels: {P1: 1}\n")
    with pytest.raises(ConfigError) as err:
        load_rules([RULES / "a.yaml", RULES / "b.yaml", Path("missing.yaml")])
    assert err.value.message == "invalid rules: 6 problem(s)"
    assert err.value.problems == [
        "missing.yaml: no such file or directory",
        "rules/a.yaml:7: levels.P9: unknown level (use P1, P2, P3)",
        "rules/a.yaml:8: params.min_move: Input should be less than 1",
        f"rules/b.yaml:2: type: unknown rule type 'NOPE' {KNOWN}",
        "rules/b.yaml:4: cooldown: not a duration: 'never' (use e.g. 30s, 5m, 1h30m, 2d)",
        "rules/b.yaml:6: id: duplicate rule id 'one' (first defined at rules/a.yaml:1)",
    ]
    assert "rules/a.yaml:7: levels.P9" in str(err.value)
    assert validate_rule_files([RULES / "a.yaml", RULES / "b.yaml", Path("missing.yaml")]) == err.value.problems
