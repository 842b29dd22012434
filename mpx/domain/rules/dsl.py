"""The rules DSL: ``rules/*.yaml``, one rule per YAML document.

```yaml
id: sum-lt-1-negrisk      # unique across all files: [a-z0-9][a-z0-9_.-]*
type: SUM_LT_1            # a registered rule kind
enabled: true             # default true
description: "…"
scope: {categories: [Politics], neg_risk: true}     # see Scope
params: {size: 250}       # the kind's Params (unknown keys rejected, defaults apply)
levels: {P1: 150, P2: 50, P3: 10}                    # minimum metric per level; P1 ≥ P2 ≥ P3
cooldown: 10m             # default 10m
```

Everything is validated before anything runs, and every problem in every file is reported at once
as ``file:line: key.path: message`` (``file: message`` for a path that does not exist). The YAML is
composed into a node tree (SafeLoader) so every key path keeps its line; pydantic errors are mapped
back to the nearest known line. Duplicate keys in a mapping, which PyYAML would silently resolve to
the last one, are errors. Numbers are read as exact ``Decimal`` from the text as written (``0.1``
stays 0.1), and ``levels`` are kept in P1, P2, P3 order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from mpx.domain.durations import parse_duration
from mpx.domain.rules.base import LEVELS, RuleSpec, Scope, SignalLevel
from mpx.domain.rules.registry import registry
from mpx.errors import ConfigError

TOP_KEYS = ("id", "type", "enabled", "description", "scope", "params", "levels", "cooldown")
REQUIRED = ("id", "type", "levels")
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]*")
NUMBER = re.compile(r"[-+]?(\d[\d_]*(\.[\d_]*)?|\.\d[\d_]*)([eE][-+]?\d+)?")
"""A plain number as text, including the exponent forms YAML 1.1 leaves as strings (``1e3``)."""
MERGE_TAG = "tag:yaml.org,2002:merge"
NULL_TAG = "tag:yaml.org,2002:null"
DEFAULT_COOLDOWN = timedelta(minutes=10)

KeyPath = tuple[str, ...]


class _Doc:
    """One YAML document turned into Python, with the line of every key path."""

    def __init__(self, file: str, node: Node) -> None:
        self.file = file
        self.start = node.start_mark.line + 1
        self.lines: dict[KeyPath, int] = {(): self.start}
        self.problems: list[str] = []
        self._unreadable: set[KeyPath] = set()
        self._constructor = SafeConstructor()
        self.data = self._convert(node, ())

    def line(self, path: KeyPath) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, self.start)

    def problem(self, path: KeyPath, message: str) -> None:
        if any(path[: len(bad)] == bad for bad in self._unreadable):
            return  # already reported as unreadable: no follow-up errors about the same value
        key = ".".join(path) or "(rule)"
        self.problems.append(f"{self.file}:{self.line(path)}: {key}: {message}")

    def _convert(self, node: Node, path: KeyPath) -> Any:
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                # The key as written: `on:` stays "on" (YAML 1.1 would make it the boolean True).
                key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
                sub = (*path, key)
                line = key_node.start_mark.line + 1
                if key_node.tag == MERGE_TAG:
                    self.lines.setdefault(sub, line)
                    self.problem(sub, "YAML merge keys (<<) are not supported: write the keys out")
                    continue
                if key in out:
                    # PyYAML would silently keep the last one; the first stays and this is an error.
                    self.problems.append(f"{self.file}:{line}: {'.'.join(sub)}: "
                                         f"duplicate key (first given on line {self.lines[sub]})")
                    continue
                self.lines[sub] = line
                out[key] = self._convert(value_node, sub)
            return out
        if isinstance(node, SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                self.lines[(*path, str(i))] = item.start_mark.line + 1
                items.append(self._convert(item, (*path, str(i))))
            return items
        return self._scalar(node, path)

    def _scalar(self, node: Node, path: KeyPath) -> Any:
        if node.tag == "tag:yaml.org,2002:float":
            # From the text as written, so 0.1 is exactly Decimal("0.1"), never a binary float.
            try:
                return Decimal(str(node.value).replace("_", ""))
            except InvalidOperation:
                pass  # .inf, .nan, 1:30.5 (sexagesimal): let the constructor have them
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:  # e.g. an unknown tag such as !!python/object
            self.problem(path, f"cannot read value: {getattr(exc, 'problem', None) or exc}")
            self._unreadable.add(path)
            return None


def _expand(paths: Sequence[Path], problems: list[str]) -> list[Path]:
    """The rule files named by ``paths`` (a directory → its ``*.yaml``/``*.yml``, sorted), each once."""
    files: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(f for f in [*path.glob("*.yaml"), *path.glob("*.yml")] if f.is_file())
            if not found:
                problems.append(f"{path}: no rule files (*.yaml, *.yml) in this directory")
        elif path.is_file():
            found = [path]
        else:
            problems.append(f"{path}: no such file or directory")
            continue
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                files.append(file)
    return files


def _pydantic_problems(doc: _Doc, prefix: KeyPath, exc: ValidationError, allowed: Sequence[str]) -> None:
    for err in exc.errors():
        path = (*prefix, *(str(p) for p in err["loc"]))
        if err["type"] == "extra_forbidden":
            doc.problem(path, f"unknown key (allowed: {', '.join(allowed)})")
        elif err["type"] == "missing":
            doc.problem(path, "required key is missing")
        else:
            doc.problem(path, err["msg"].removeprefix("Value error, "))


def _validate(doc: _Doc, seen_ids: dict[str, str]) -> RuleSpec | None:
    data = doc.data
    if not isinstance(data, dict):
        doc.problem((), "a rule must be a mapping of keys (id, type, levels, …)")
        return None
    for key in data:
        if key not in TOP_KEYS:
            doc.problem((key,), f"unknown key (allowed: {', '.join(TOP_KEYS)})")
    for key in REQUIRED:
        if key not in data:
            doc.problem((key,), "required key is missing")

    rule_id = data.get("id")
    if "id" in data:
        if not isinstance(rule_id, str) or not ID_PATTERN.fullmatch(rule_id):
            doc.problem(("id",), f"must match {ID_PATTERN.pattern} (lower case; got {rule_id!r})")
            rule_id = None
        elif rule_id in seen_ids:
            doc.problem(("id",), f"duplicate rule id {rule_id!r} (first defined at {seen_ids[rule_id]})")
        else:
            seen_ids[rule_id] = f"{doc.file}:{doc.line(('id',))}"

    kinds = registry()
    rule_type = data.get("type")
    kind = None
    if "type" in data:
        known = ", ".join(kinds)
        if isinstance(rule_type, str) and rule_type in kinds:
            kind = kinds[rule_type]
        else:
            doc.problem(("type",), f"unknown rule type {rule_type!r} (known: {known})")

    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        doc.problem(("enabled",), f"must be true or false (got {enabled!r})")

    description = data.get("description") or ""
    if not isinstance(description, str):
        doc.problem(("description",), "must be text")

    levels = _levels(doc, data.get("levels")) if "levels" in data else None

    cooldown = DEFAULT_COOLDOWN
    if "cooldown" in data:
        try:
            cooldown = parse_duration(_duration_input(data["cooldown"]))
        except ValueError as exc:
            doc.problem(("cooldown",), str(exc))

    scope = Scope()
    raw_scope = data.get("scope")
    if raw_scope is not None:
        if not isinstance(raw_scope, dict):
            doc.problem(("scope",), "must be a mapping")
        else:
            try:
                scope = Scope.model_validate(raw_scope)
            except ValidationError as exc:
                _pydantic_problems(doc, ("scope",), exc, list(Scope.model_fields))

    params: BaseModel | None = None
    raw_params = data.get("params")
    if raw_params is not None and not isinstance(raw_params, dict):
        doc.problem(("params",), "must be a mapping")
    elif kind is not None:
        try:
            params = kind.Params.model_validate(_params_input(kind.Params, raw_params or {}))
        except ValidationError as exc:
            _pydantic_problems(doc, ("params",), exc, list(kind.Params.model_fields))

    if doc.problems or kind is None or params is None or levels is None or not isinstance(rule_id, str):
        return None
    return RuleSpec(
        id=rule_id, type=str(rule_type), params=params, levels=levels, scope=scope, enabled=bool(enabled),
        cooldown=cooldown, description=str(description), source=f"{doc.file}:{doc.start}",
    )


def _duration_input(value: Any) -> Any:
    """``parse_duration`` takes int/float seconds: a YAML number read as ``Decimal`` becomes a float."""
    return float(value) if isinstance(value, Decimal) else value


def _params_input(model: type[BaseModel], raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with bare-number durations (``window: 30.5``) handed to duration fields as floats."""
    out = dict(raw)
    for name, info in model.model_fields.items():
        durations = info.annotation is timedelta or timedelta in get_args(info.annotation)
        if durations and name in out:
            out[name] = _duration_input(out[name])
    return out


def _number(value: Any) -> Decimal | None:
    """A finite exact number from YAML: int, Decimal (YAML floats), or numeric text such as ``1e3``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        number = Decimal(str(value))
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str) and NUMBER.fullmatch(value.strip()):
        number = Decimal(value.strip().replace("_", ""))
    else:
        return None
    return number if number.is_finite() else None


def _levels(doc: _Doc, raw: Any) -> dict[SignalLevel, Decimal] | None:
    if not isinstance(raw, dict) or not raw:
        doc.problem(("levels",), "must map at least one of P1, P2, P3 to a minimum value")
        return None
    out: dict[SignalLevel, Decimal] = {}
    ok = True
    for key, value in raw.items():
        if key not in LEVELS:
            doc.problem(("levels", key), "unknown level (use P1, P2, P3)")
            ok = False
            continue
        number = _number(value)
        if number is None:
            shown = f"{value:f}" if isinstance(value, Decimal) else repr(value)
            doc.problem(("levels", key), f"must be a finite number (got {shown})")
            ok = False
            continue
        out[key] = number
    out = {lv: out[lv] for lv in LEVELS if lv in out}  # P1, P2, P3 order whatever the file's order
    present = list(out)
    for higher, lower in pairwise(present):
        if out[higher] < out[lower]:
            doc.problem(("levels", lower), f"{lower} threshold {out[lower]:f} is above {higher}'s {out[higher]:f}: "
                                           "thresholds must not increase from P1 to P3")
            ok = False
    return out if ok else None


def _load(paths: Sequence[Path]) -> tuple[list[RuleSpec], list[str]]:
    problems: list[str] = []
    rules: list[RuleSpec] = []
    seen_ids: dict[str, str] = {}
    for file in _expand(paths, problems):
        name = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{name}: cannot read: {exc}")
            continue
        try:
            nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            problems.append(f"{name}:{line}: YAML syntax error: {exc.problem or exc}")
            continue
        except ReaderError as exc:  # a character YAML does not allow
            line = text[: exc.position].count("\n") + 1
            problems.append(f"{name}:{line}: YAML syntax error: {exc.reason} (character #x{exc.character:04x})")
            continue
        except yaml.YAMLError as exc:
            problems.append(f"{name}:1: YAML syntax error: {exc}")
            continue
        # An empty document (a trailing `---`, or one holding only comments) is skipped; an
        # explicit `~`/`null` or any other non-mapping is reported by _validate.
        docs = [n for n in nodes if not (isinstance(n, ScalarNode) and n.tag == NULL_TAG and n.value == "")]
        if not docs:
            problems.append(f"{name}:1: empty file: expected one or more rule documents")
            continue
        for node in docs:
            doc = _Doc(name, node)
            rule = _validate(doc, seen_ids)
            problems.extend(doc.problems)
            if rule is not None:
                rules.append(rule)
    return rules, problems


def validate_rule_files(paths: Sequence[Path]) -> list[str]:
    """Every problem in the rule files (empty when they are all valid)."""
    return _load(paths)[1]


def load_rules(paths: Sequence[Path]) -> list[RuleSpec]:
    """Load and validate rule files/directories; raise ConfigError listing every problem."""
    rules, problems = _load(paths)
    if problems:
        raise ConfigError(f"invalid rules: {len(problems)} problem(s)", problems,
                          hint="see rules/*.yaml for documented examples; `mpx rules validate` checks files")
    return rules



# The YAML reader with lines per key path, for the other YAML files mpx reads (synonyms.yml).
YamlDoc = _Doc
