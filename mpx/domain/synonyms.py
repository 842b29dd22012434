"""Synonym groups and implication relations between markets, from ``synonyms.yml`` and the questions.

* **Normalisation** (:func:`normalise`): lower case, punctuation dropped, ``$150k`` / ``$150,000`` /
  ``150000`` → ``150000``, ``March 31, 2027`` → ``@2027-03-31`` (``@03-31`` without a year),
  comparators → ``>``/``<`` ("above", "over", "exceed", "reach", "hit", "more than", "or more" /
  "below", "under", "less than", "or less"), a few explicit aliases (``btc`` → ``bitcoin``).
* **Groups** (equivalent questions — their YES should trade alike), each a
  :class:`~mpx.domain.rules.base.SynonymGroup`:
  - keyword groups from ``synonyms.yml``: every clause (a list of alternatives) must match the
    normalised question (``kw:<name>``);
  - explicit market lists (ids or slugs; ``list:<name>``);
  - candidates the matcher proposes (``auto:<hash>``): word-set similarity ≥ ``min_similarity``
    with *identical* numbers, dates and comparator — "above 80k" and "above 70k" are a ladder, not
    synonyms. Bucketed by those plus each question's longest words, so a 20,000-market universe
    is never compared pair by pair.
* **Relations** ("narrower YES implies wider YES"), each a :class:`~mpx.domain.rules.base.Relation`:
  - threshold ladders: the same question with another number after a comparator (``>``: the
    higher threshold is narrower; ``<``: the lower one);
  - date ladders: the same question with another "by <date>" (the earlier date is narrower);
  - relations declared in ``synonyms.yml``.
  Ladders link neighbours only (sorted by threshold or date): a contradiction anywhere in a ladder
  shows between some pair of neighbours.

Markets of one multi-market negRisk event are mutually exclusive outcomes: never synonyms of each
other, never a ladder. Only binary markets are grouped or related.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mpx.domain.models import Event, Market
from mpx.domain.rules.base import Relation, SynonymGroup
from mpx.domain.rules.dsl import YamlDoc
from mpx.errors import ConfigError

MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"])}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())} | {"sept": 9})
ALIASES = {"btc": "bitcoin", "eth": "ethereum", "sol": "solana", "us": "us", "usa": "us", "u.s.": "us",
           "fed": "fed", "gop": "republican"}
STOPWORDS = frozenset({"will", "the", "a", "an", "be", "is", "are", "of", "to", "in", "on", "at", "for", "and",
                       "or", "by", "any", "there", "than", "before", "after", "as", "it", "its", "this", "that",
                       "with"})
_GT = ("more than", "greater than", "higher than", "at least", "above", "over", "exceed", "exceeds", "reach",
       "reaches", "hit", "hits", "surpass", "top", ">")
_LT = ("less than", "fewer than", "lower than", "at most", "below", "under", "<")
_SUFFIX = {"k": Decimal(1_000), "thousand": Decimal(1_000), "m": Decimal(1_000_000), "million": Decimal(1_000_000),
           "b": Decimal(10**9), "bn": Decimal(10**9), "billion": Decimal(10**9)}

_DATE = re.compile(r"\b(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?"
                   r"(?:,?\s+(\d{4}))?\b")
_NUMBER = re.compile(r"\$?\s?(\d[\d,]*(?:\.\d+)?)\s?(k|m|bn|b|thousand|million|billion)?(?![\w.])(%)?")
_WORD = re.compile(r"[a-z0-9@>:.<%-]+")


@dataclass(frozen=True, slots=True)
class Normalised:
    text: str
    """Space-joined tokens (numbers canonical, dates ``@YYYY-MM-DD``, comparators ``>``/``<``)."""
    words: frozenset[str]
    """Content tokens (no stopwords, numbers or dates)."""
    figures: tuple[str, ...]
    """Numbers and dates, in order."""


def _canon_number(digits: str, suffix: str | None) -> str:
    try:
        value = Decimal(digits.replace(",", ""))
    except InvalidOperation:
        return digits
    if suffix:
        value *= _SUFFIX[suffix]
    text = f"{value.normalize():f}"
    return text


def normalise(question: str) -> Normalised:
    s = question.lower().replace("’", "'").replace("–", "-").replace("—", "-")

    stash: list[str] = []

    def date(m: re.Match[str]) -> str:
        month, day, year = MONTHS[m.group(1)], int(m.group(2)), m.group(3)
        stash.append(f"@{year}-{month:02d}-{day:02d}" if year else f"@{month:02d}-{day:02d}")
        return f" datetoken{'x' * len(stash)} "  # no digits: the number pass must not touch it

    s = _DATE.sub(date, s)
    for phrase in sorted(_GT, key=len, reverse=True):
        s = re.sub(rf"(?<![\w@]){re.escape(phrase)}(?!\w)", " > ", s)
    for phrase in sorted(_LT, key=len, reverse=True):
        s = re.sub(rf"(?<![\w@]){re.escape(phrase)}(?!\w)", " < ", s)
    s = re.sub(r"\bor (more|higher|above)\b", " ormore ", s)
    s = re.sub(r"\bor (less|fewer|lower|below)\b", " orless ", s)
    s = _NUMBER.sub(lambda m: f" {_canon_number(m.group(1), m.group(2))}{m.group(3) or ''} ", s)
    tokens = []
    for tok in _WORD.findall(s.replace("'s", "").replace("?", " ").replace(",", " ")):
        tok = tok.strip(".-")
        if not tok:
            continue
        if tok.startswith("datetoken"):
            tok = stash[len(tok) - len("datetoken") - 1]
        tok = ALIASES.get(tok, tok)
        if len(tok) > 4 and tok.endswith("s") and not tok.endswith("ss") and tok.isalpha():
            tok = tok[:-1]  # announces ~ announce, sells ~ sell
        tokens.append(tok)
    # "X or more" is "> X": move the marker in front of the number it follows
    out: list[str] = []
    for tok in tokens:
        if tok in ("ormore", "orless") and out and _is_figure(out[-1]):
            out.insert(len(out) - 1, ">" if tok == "ormore" else "<")
            continue
        out.append(tok)
    figures = tuple(t for t in out if _is_figure(t))
    words = frozenset(t for t in out if t not in STOPWORDS and not _is_figure(t) and t not in ("<", ">"))
    return Normalised(" ".join(out), words, figures)


def _is_figure(token: str) -> bool:
    return token.startswith("@") or bool(re.fullmatch(r"\d+(\.\d+)?%?", token))


# ------------------------------------------------------------------ synonyms.yml


class GroupSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    keywords: tuple[tuple[str, ...], ...] | None = None
    markets: tuple[str, ...] | None = None

    @field_validator("keywords", mode="before")
    @classmethod
    def _clauses(cls, value: Any) -> Any:
        # a flat list of strings is one clause per word: [bitcoin, 150k] = [[bitcoin], [150k]]
        if isinstance(value, list):
            return [[v] if isinstance(v, str | int | Decimal) else v for v in value]
        return value

    @field_validator("keywords", mode="after")
    @classmethod
    def _nonempty(cls, value: tuple[tuple[str, ...], ...] | None) -> tuple[tuple[str, ...], ...] | None:
        if value is not None and (not value or any(not clause for clause in value)):
            raise ValueError("keywords needs at least one clause, and every clause at least one word")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> GroupSpec:
        if (self.keywords is None) == (self.markets is None):
            raise ValueError("give exactly one of keywords or markets")
        return self


class RelationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    narrower: str = Field(min_length=1, description="market id or slug whose YES implies the other's")
    wider: str = Field(min_length=1)
    note: str = ""


class MatcherSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    similar: bool = True
    min_similarity: Decimal = Field(Decimal("0.8"), gt=0, le=1)
    ladders: bool = True
    max_bucket: int = Field(200, ge=2, description="skip a bucket of more candidates than this (too generic)")


class SynonymsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: tuple[GroupSpec, ...] = ()
    relations: tuple[RelationSpec, ...] = ()
    matcher: MatcherSpec = MatcherSpec()


TOP_KEYS = ("groups", "relations", "matcher")


def parse_config(text: str, name: str) -> SynonymsConfig:
    """``synonyms.yml`` text → config; ConfigError listing every problem as ``file:line: key: message``."""
    problems: list[str] = []
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(f"invalid synonyms file {name}", [f"{name}:{mark.line + 1 if mark else 1}: YAML syntax "
                                                            f"error: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid synonyms file {name}", [f"{name}:1: YAML syntax error: {exc}"]) from None
    if node is None:
        return SynonymsConfig()
    doc = YamlDoc(name, node)
    config: SynonymsConfig | None = None
    if not isinstance(doc.data, dict):
        doc.problem((), "expected a mapping with groups, relations, matcher")
    else:
        try:
            config = SynonymsConfig.model_validate(doc.data)
        except ValidationError as exc:
            _problems(doc, exc)
    if config is not None:
        seen: dict[str, int] = {}
        for i, g in enumerate(config.groups):
            if g.name in seen:
                doc.problem(("groups", str(i), "name"),
                            f"duplicate group name {g.name!r} (first: group {seen[g.name]})")
            seen.setdefault(g.name, i)
    problems.extend(doc.problems)
    if problems or config is None:
        raise ConfigError(f"invalid synonyms file {name}: {len(problems)} problem(s)", problems,
                          hint="see the comments in synonyms.yml; `mpx synonyms validate` checks the file")
    return config


def _problems(doc: YamlDoc, exc: ValidationError) -> None:
    sections: dict[str, type[BaseModel]] = {"groups": GroupSpec, "relations": RelationSpec, "matcher": MatcherSpec}
    for err in exc.errors():
        path = tuple(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            model = sections.get(path[0]) if len(path) > 1 else None
            allowed = tuple(model.model_fields) if model else TOP_KEYS
            doc.problem(path, f"unknown key (allowed: {', '.join(allowed)})")
        elif err["type"] == "missing":
            doc.problem(path, "required key is missing")
        else:
            doc.problem(path, err["msg"].removeprefix("Value error, "))


def load_config(path: Path) -> SynonymsConfig:
    """The synonyms file; a missing file is an empty config (the matcher still runs)."""
    if not path.exists():
        return SynonymsConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read synonyms file {path}", [f"{path}: {exc}"]) from None
    return parse_config(text, str(path))


# ------------------------------------------------------------------ building


@dataclass
class Built:
    groups: list[SynonymGroup] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Market ids/slugs named in synonyms.yml that are not in the universe (reported, not fatal)."""


def _key(prefix: str, ids: Iterable[str]) -> str:
    return f"{prefix}:{hashlib.sha1('|'.join(sorted(ids)).encode()).hexdigest()[:12]}"


def _clause_matches(text: str, clause: Sequence[str]) -> bool:
    """Whole-word match of any alternative; a year also matches inside a date (2026 ~ @2026-12-31)."""
    years = " ".join(tok[1:5] for tok in text.split() if re.fullmatch(r"@\d{4}-\d{2}-\d{2}", tok))
    padded = f" {text} {years} "
    return any(f" {normalise(alt).text} " in padded for alt in clause)


def _eligible(market: Market, multi_event: set[str]) -> bool:
    return len(market.outcomes) == 2 and market.event_id not in multi_event


def build(config: SynonymsConfig, markets: Mapping[str, Market], events: Mapping[str, Event]) -> Built:
    out = Built()
    multi_event = {e.id for e in events.values() if e.neg_risk and len(e.market_ids) > 1}
    by_slug = {m.slug: m.id for m in markets.values() if m.slug}
    norm = {mid: normalise(m.question) for mid, m in markets.items() if _eligible(m, multi_event)}

    def resolve(ref: str) -> str | None:
        if ref in markets:
            return ref
        return by_slug.get(ref)

    grouped: set[frozenset[str]] = set()
    for g in config.groups:
        if g.keywords is not None:
            clauses = g.keywords
            ids = tuple(sorted(mid for mid, n in norm.items() if all(_clause_matches(n.text, c) for c in clauses)))
            key, source = f"kw:{g.name}", "keywords"
        else:
            resolved = []
            for ref in g.markets or ():
                mid = resolve(ref)
                if mid is None:
                    out.unknown.append(ref)
                else:
                    resolved.append(mid)
            ids, key, source = tuple(sorted(set(resolved))), f"list:{g.name}", "list"
        if len(ids) >= 2:
            out.groups.append(SynonymGroup(key, g.name, source, ids))
            grouped.add(frozenset(ids))

    if config.matcher.similar:
        for ids in _similar(norm, config.matcher.min_similarity, config.matcher.max_bucket):
            if frozenset(ids) in grouped:
                continue
            first = markets[ids[0]].question
            out.groups.append(SynonymGroup(_key("auto", ids), f"similar: {first[:60]}", "similar", ids))

    seen_rel: set[tuple[str, str]] = set()
    if config.matcher.ladders:
        for rel in _ladders(norm, markets):
            if (rel.narrower, rel.wider) not in seen_rel:
                seen_rel.add((rel.narrower, rel.wider))
                out.relations.append(rel)
    for r in config.relations:
        n, w = resolve(r.narrower), resolve(r.wider)
        if n is None or w is None:
            out.unknown.extend(x for x, y in ((r.narrower, n), (r.wider, w)) if y is None)
            continue
        if (n, w) not in seen_rel:
            seen_rel.add((n, w))
            out.relations.append(Relation(f"rel:{n}>{w}", n, w, "declared", r.note))
    return out


def _similar(norm: Mapping[str, Normalised], min_sim: Decimal, max_bucket: int) -> list[tuple[str, ...]]:
    """Groups (connected components) of questions with the same figures and comparators whose word
    sets have a Jaccard similarity of at least ``min_sim``."""
    buckets: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for mid, n in norm.items():
        if not n.words:
            continue
        sig = (n.figures, ">" in n.text.split(), "<" in n.text.split())
        for word in sorted(n.words, key=lambda w: (-len(w), w))[:3]:
            buckets[(sig, word)].append(mid)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    compared: set[tuple[str, str]] = set()
    threshold = float(min_sim)
    for members in buckets.values():
        if len(members) < 2 or len(members) > max_bucket:
            continue
        for i, a in enumerate(members):
            wa = norm[a].words
            for b in members[i + 1:]:
                pair = (a, b) if a < b else (b, a)
                if pair in compared:
                    continue
                compared.add(pair)
                wb = norm[b].words
                if len(wa & wb) / len(wa | wb) >= threshold:
                    parent[find(a)] = find(b)
    comps: dict[str, list[str]] = defaultdict(list)
    for mid in set(parent) | set(parent.values()):
        comps[find(mid)].append(mid)
    return [tuple(sorted(c)) for c in comps.values() if len(c) >= 2]


_THRESHOLD = re.compile(r"([<>]) (\d+(?:\.\d+)?%?)")
_BY_DATE = re.compile(r"\bby (@(?:\d{4}-)?\d{2}-\d{2})")


def _ladders(norm: Mapping[str, Normalised], markets: Mapping[str, Market]) -> Iterable[Relation]:
    thresholds: dict[tuple[str, str], list[tuple[Decimal, str]]] = defaultdict(list)
    dates: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for mid, n in norm.items():
        for m in _THRESHOLD.finditer(n.text):
            template = n.text[:m.start()] + f"{m.group(1)} <n>" + n.text[m.end():]
            thresholds[(template, m.group(1))].append((Decimal(m.group(2).rstrip("%")), mid))
        for m in _BY_DATE.finditer(n.text):
            template = n.text[:m.start()] + "by <date>" + n.text[m.end():]
            dates[template].append((m.group(1), mid))
    for (_, comparator), members in thresholds.items():
        ordered = sorted(set(members))
        for (lo_v, lo), (hi_v, hi) in pairwise(ordered):
            if lo_v == hi_v:
                continue
            # "> x": the higher threshold is the narrower outcome; "< x": the lower one
            narrower, wider = (hi, lo) if comparator == ">" else (lo, hi)
            nv, wv = (hi_v, lo_v) if comparator == ">" else (lo_v, hi_v)
            yield Relation(f"rel:{narrower}>{wider}", narrower, wider, "threshold",
                           f"{comparator} {nv} ⊂ {comparator} {wv}: {markets[narrower].question}")
    for _template, dated in dates.items():
        for (early_d, early), (late_d, late) in pairwise(sorted(set(dated))):
            if early_d == late_d or len(early_d) != len(late_d):
                continue
            yield Relation(f"rel:{early}>{late}", early, late, "date",
                           f"by {early_d[1:]} ⊂ by {late_d[1:]}: {markets[early].question}")
