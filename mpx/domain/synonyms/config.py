"""``synonyms.yml``: its schema and reader.

Every problem is reported at once as ``file:line: key.path: message`` (:class:`ConfigError`, exit
78). Market ids, slugs and keywords are text as written (YAML 1.1 would read ``0x3f…`` as a hex
integer, ``2026`` as an int and ``yes`` as a boolean).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mpx.domain.rules.dsl import YamlDoc
from mpx.domain.synonyms.normalise import normalise
from mpx.errors import ConfigError

Keyword = str


def _as_text(value: Any) -> Any:
    """YAML reads 2026 as an int and 1.5 as a number: keywords are text."""
    if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        return str(value)
    return value


class GroupSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    keywords: tuple[tuple[Keyword, ...], ...] | None = None
    exclude: tuple[Keyword, ...] = ()
    markets: tuple[str, ...] | None = None

    @field_validator("keywords", mode="before")
    @classmethod
    def _clauses(cls, value: Any) -> Any:
        # a plain word is a clause of one alternative: [bitcoin, 150k] = [[bitcoin], [150k]]
        if isinstance(value, list):
            return [[_as_text(v)] if not isinstance(v, list) else [_as_text(x) for x in v] for v in value]
        return value

    @field_validator("exclude", mode="before")
    @classmethod
    def _exclude_text(cls, value: Any) -> Any:
        return [_as_text(v) for v in value] if isinstance(value, list) else value

    @field_validator("keywords", mode="after")
    @classmethod
    def _nonempty(cls, value: tuple[tuple[str, ...], ...] | None) -> tuple[tuple[str, ...], ...] | None:
        if value is None:
            return value
        if not value or any(not clause for clause in value):
            raise ValueError("keywords needs at least one clause, and every clause at least one alternative")
        for clause in value:
            for alt in clause:
                if not normalise(alt, bare_comparators=True).text:
                    raise ValueError(f"keyword {alt!r} is empty once normalised (punctuation only?)")
        return value

    @field_validator("exclude", mode="after")
    @classmethod
    def _exclude_nonempty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alt in value:
            if not normalise(alt, bare_comparators=True).text:
                raise ValueError(f"exclude word {alt!r} is empty once normalised (punctuation only?)")
        return value

    @field_validator("markets", mode="after")
    @classmethod
    def _two_markets(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            if len(set(value)) < 2:
                raise ValueError("a market list needs at least two different markets")
            if any(not v.strip() for v in value):
                raise ValueError("market ids and slugs cannot be empty")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> GroupSpec:
        if (self.keywords is None) == (self.markets is None):
            raise ValueError("give exactly one of keywords or markets")
        if self.exclude and self.keywords is None:
            raise ValueError("exclude only goes with keywords")
        return self


class RelationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    narrower: str = Field(min_length=1, description="market id or slug whose YES implies the other's")
    wider: str = Field(min_length=1, description="market id or slug")
    note: str = ""

    @model_validator(mode="after")
    def _distinct(self) -> RelationSpec:
        if self.narrower == self.wider:
            raise ValueError("narrower and wider are the same market")
        return self


class MatcherSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    similar: bool = True
    min_similarity: Decimal = Field(Decimal("0.8"), gt=0, le=1)
    ladders: bool = True
    max_bucket: int = Field(500, ge=2, description="skip a candidate bucket larger than this (too generic)")


class SynonymsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: tuple[GroupSpec, ...] = ()
    relations: tuple[RelationSpec, ...] = ()
    matcher: MatcherSpec = MatcherSpec()


TOP_KEYS = ("groups", "relations", "matcher")
_SECTIONS: dict[str, type[BaseModel]] = {"groups": GroupSpec, "relations": RelationSpec, "matcher": MatcherSpec}
HINT = "see the comments in synonyms.yml; `mpx synonyms validate` checks the file"


def parse_config(text: str, name: str) -> SynonymsConfig:
    """``synonyms.yml`` text → config; :class:`ConfigError` listing every problem at once as
    ``file:line: key.path: message``. An empty file is an empty config."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(f"invalid synonyms file {name}: 1 problem(s)",
                          [f"{name}:{mark.line + 1 if mark else 1}: YAML syntax error: {exc.problem or exc}"],
                          hint=HINT) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid synonyms file {name}: 1 problem(s)", [f"{name}:1: YAML syntax error: {exc}"],
                          hint=HINT) from None
    if node is None:
        return SynonymsConfig()
    _ids_as_written(node, False)
    doc = YamlDoc(name, node)
    config: SynonymsConfig | None = None
    if not isinstance(doc.data, dict):
        doc.problems.append(f"{name}:{doc.start}: (top level): expected a mapping with keys {', '.join(TOP_KEYS)}")
    else:
        empty: dict[str, Any] = {"groups": [], "relations": [], "matcher": {}}  # `groups:` with nothing under it
        data = {k: (empty[k] if v is None and k in empty else v) for k, v in doc.data.items()}
        try:
            config = SynonymsConfig.model_validate(data)
        except ValidationError as exc:
            _problems(doc, exc)
    if config is not None:
        seen: dict[str, int] = {}
        for i, g in enumerate(config.groups):
            if g.name in seen:
                doc.problem(("groups", str(i), "name"),
                            f"duplicate group name {g.name!r} (first: groups.{seen[g.name]})")
            seen.setdefault(g.name, i)
        pairs: dict[tuple[str, str], int] = {}
        for i, r in enumerate(config.relations):
            first = pairs.get((r.narrower, r.wider))
            if first is not None:
                doc.problem(("relations", str(i)), f"duplicate relation (first: relations.{first})")
            pairs.setdefault((r.narrower, r.wider), i)
            if (r.wider, r.narrower) in pairs:
                doc.problem(("relations", str(i)), f"the opposite of relations.{pairs[r.wider, r.narrower]}: two "
                            "markets that imply each other are synonyms (a group)")
    if doc.problems or config is None:
        raise ConfigError(f"invalid synonyms file {name}: {len(doc.problems)} problem(s)", doc.problems, hint=HINT)
    return config


_TEXT_KEYS = frozenset({"markets", "narrower", "wider", "keywords", "exclude"})
_RETAG = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"})


def _ids_as_written(node: yaml.Node, text: bool) -> None:
    """Market ids, slugs and keywords are text as written: YAML 1.1 would read an unquoted condition
    id ``0x3f…`` as a hex integer, ``2026`` as an int and ``yes`` as a boolean."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _ids_as_written(value, text or (isinstance(key, yaml.ScalarNode) and key.value in _TEXT_KEYS))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _ids_as_written(item, text)
    elif text and isinstance(node, yaml.ScalarNode) and node.style is None and node.tag in _RETAG:
        node.tag = "tag:yaml.org,2002:str"


def _problems(doc: YamlDoc, exc: ValidationError) -> None:
    for err in exc.errors():
        path = tuple(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            model = _SECTIONS.get(path[0]) if len(path) > 1 else None
            allowed = tuple(model.model_fields) if model else TOP_KEYS
            doc.problem(path, f"unknown key (allowed: {', '.join(allowed)})")
        elif err["type"] == "missing":
            doc.problem(path, "required key is missing")
        else:
            doc.problem(path, err["msg"].removeprefix("Value error, "))


def load_config(path: Path, *, required: bool = False) -> SynonymsConfig:
    """The synonyms file. A missing file is an empty config (the matcher still runs) unless
    ``required`` (the path was configured explicitly): then it is a :class:`ConfigError`."""
    if not path.exists():
        if required:
            raise ConfigError(f"synonyms file {path} does not exist",
                              [f"{path}: no such file (MPX_SYNONYMS_FILE)"],
                              hint="fix MPX_SYNONYMS_FILE, or unset it to use ./synonyms.yml when present")
        return SynonymsConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read synonyms file {path}", [f"{path}: {exc}"], hint=HINT) from None
    return parse_config(text, str(path))
