"""The rules DSL: valid files load exactly; every problem is reported at once as file:line: key: message."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from mpx.domain.rules.dsl import load_rules, validate_rule_files
from mpx.domain.rules.spike import SpikeParams
from mpx.domain.rules.sum_lt_1 import SumLt1Params
from mpx.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]

VALID = """\
id: cheap-sets
type: SUM_LT_1
description: test
scope:
  categories: [Politics]
  neg_risk: true
params:
  size: 250.50
levels: {P1: 150.5, P2: 0.1}
cooldown: 90s
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def problems(tmp_path: Path, text: str) -> list[str]:
    write(tmp_path, "r.yaml", text)
    return validate_rule_files([tmp_path])


def test_valid_rule_round_trips_with_exact_decimals(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.yaml", VALID)
    [rule] = load_rules([tmp_path])
    assert rule.id == "cheap-sets" and rule.type == "SUM_LT_1" and rule.enabled
    assert rule.levels == {"P1": Decimal("150.5"), "P2": Decimal("0.1")}
    assert isinstance(rule.params, SumLt1Params) and rule.params.size == Decimal("250.50")
    assert rule.scope.categories == ("Politics",) and rule.scope.neg_risk is True
    assert rule.cooldown == timedelta(seconds=90)
    assert rule.source == f"{path}:1"


def test_defaults_apply(tmp_path: Path) -> None:
    write(tmp_path, "s.yaml", "id: s\ntype: SPIKE\nlevels: {P3: 500}\n")
    [rule] = load_rules([tmp_path])
    assert isinstance(rule.params, SpikeParams) and rule.params.window == timedelta(minutes=5)
    assert rule.cooldown == timedelta(minutes=10) and rule.enabled


def test_shipped_rule_files_are_valid() -> None:
    rules = load_rules([REPO / "rules"])
    assert {r.type for r in rules} == {"SUM_LT_1", "SPIKE", "ENDGAME"}


def test_param_out_of_range_names_file_line_and_key(tmp_path: Path) -> None:
    text = "id: s\ntype: SPIKE\nlevels: {P1: 1}\nparams:\n  window: 5m\n  min_move: 1.5\n"
    assert problems(tmp_path, text) == [f"{tmp_path}/r.yaml:6: params.min_move: Input should be less than 1"]


def test_unknown_param_key(tmp_path: Path) -> None:
    [p] = problems(tmp_path, "id: s\ntype: SUM_LT_1\nlevels: {P1: 1}\nparams:\n  sise: 3\n")
    assert p.startswith(f"{tmp_path}/r.yaml:5: params.sise: unknown key (allowed: size,")


def test_unknown_top_level_key_and_missing_required(tmp_path: Path) -> None:
    ps = problems(tmp_path, "id: s\ntype: SPIKE\nthreshold: 3\n")
    assert f"{tmp_path}/r.yaml:3: threshold: unknown key (allowed: id, type, enabled, description, scope, " \
           "params, levels, cooldown)" in ps
    assert f"{tmp_path}/r.yaml:1: levels: required key is missing" in ps


def test_unknown_level_and_unordered_levels(tmp_path: Path) -> None:
    ps = problems(tmp_path, "id: s\ntype: SPIKE\nlevels:\n  P1: 10\n  P2: 20\n  P4: 1\n")
    assert f"{tmp_path}/r.yaml:6: levels.P4: unknown level (use P1, P2, P3)" in ps
    assert any(p.startswith(f"{tmp_path}/r.yaml:5: levels.P2: P2 threshold 20 is above P1's 10") for p in ps)


def test_unknown_and_unimplemented_types(tmp_path: Path) -> None:
    [p] = problems(tmp_path, "id: s\ntype: SUM_LT_2\nlevels: {P1: 1}\n")
    assert p == f"{tmp_path}/r.yaml:2: type: unknown rule type 'SUM_LT_2' (available: ENDGAME, SPIKE, SUM_LT_1)"
    [p] = problems(tmp_path, "id: s\ntype: TREND_BREAKOUT\nlevels: {P1: 1}\n")
    assert "not implemented yet" in p and ":2: type:" in p


def test_wrong_types(tmp_path: Path) -> None:
    ps = problems(tmp_path, "id: s\ntype: SPIKE\nenabled: maybe\nlevels: {P1: high}\ncooldown: soon\n"
                            "scope: {neg_risk: sometimes}\n")
    assert f"{tmp_path}/r.yaml:3: enabled: must be true or false (got 'maybe')" in ps
    assert f"{tmp_path}/r.yaml:4: levels.P1: must be a number (got 'high')" in ps
    assert any(p.startswith(f"{tmp_path}/r.yaml:5: cooldown: not a duration") for p in ps)
    assert any(p.startswith(f"{tmp_path}/r.yaml:6: scope.neg_risk: Input should be a valid boolean") for p in ps)


def test_duplicate_yaml_keys_are_reported(tmp_path: Path) -> None:
    ps = problems(tmp_path, "id: s\ntype: SPIKE\nlevels: {P1: 1}\nparams:\n  min_move: 0.1\n  min_move: 0.2\n")
    assert ps == [f"{tmp_path}/r.yaml:6: params.min_move: duplicate key (first given on line 5)"]


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    [p] = problems(tmp_path, "id: s\ntype: SPIKE\nlevels: {P1: 1\nparams: {}\n")
    assert p.startswith(f"{tmp_path}/r.yaml:") and "YAML syntax error" in p


def test_empty_file_and_non_mapping_document(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "")
    write(tmp_path, "b.yaml", "- just\n- a list\n")
    ps = validate_rule_files([tmp_path])
    assert f"{tmp_path}/a.yaml:1: empty file: expected one or more rule documents" in ps
    assert f"{tmp_path}/b.yaml:1: (rule): a rule must be a mapping of keys (id, type, levels, …)" in ps


def test_duplicate_ids_across_files_name_the_first(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "id: same\ntype: SPIKE\nlevels: {P1: 1}\n")
    write(tmp_path, "b.yaml", "# comment\nid: same\ntype: ENDGAME\nlevels: {P1: 1}\n")
    assert validate_rule_files([tmp_path]) == [
        f"{tmp_path}/b.yaml:2: id: duplicate rule id 'same' (first defined at {tmp_path}/a.yaml:1)"
    ]


def test_several_documents_and_all_errors_across_files_at_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "id: one\ntype: SPIKE\nlevels: {P1: 1}\n---\nid: two\ntype: SPIKE\nlevels: {P9: 1}\n")
    write(tmp_path, "b.yaml", "id: three\ntype: NOPE\nlevels: {P1: 1}\n")
    with pytest.raises(ConfigError) as err:
        load_rules([tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "missing.yaml"])
    assert err.value.message == "invalid rules: 3 problem(s)"
    assert err.value.problems == [
        f"{tmp_path}/missing.yaml: no such file or directory",
        f"{tmp_path}/a.yaml:7: levels.P9: unknown level (use P1, P2, P3)",
        f"{tmp_path}/b.yaml:2: type: unknown rule type 'NOPE' (available: ENDGAME, SPIKE, SUM_LT_1)",
    ]
