"""Synonym groups and implication relations between markets, from ``synonyms.yml`` and the questions.

Pure: no database, no clock. :func:`build` turns a validated :class:`SynonymsConfig` and a universe
(markets, events) into the :class:`~mpx.domain.rules.base.SynonymGroup` and
:class:`~mpx.domain.rules.base.Relation` lists that SYNONYM_MISPRICE and CROSS_MARKET_MISPRICE read.

**Normalisation** (:func:`normalise`) — what every comparison below looks at:

* lower case, ``'s`` and punctuation dropped, hyphens split words, ``n't`` → ``not``;
* numbers to one form: ``$150k`` / ``$150,000`` / ``150000`` / ``150 thousand`` → ``150000``,
  ``$1.5M`` → ``1500000``, ``3.5%`` stays ``3.5%``; ``-2%`` keeps its sign;
* dates: ``March 31, 2027`` / ``Mar. 31 2027`` / ``31 March 2027`` → ``@2027-03-31``, without a year
  ``@03-31``; ``May 2026`` → ``@2026-05``;
* comparators: above, over, exceed, reach, hit, surpass, more/greater/higher than, at least,
  ``>``/``≥``, "X or more", "X+" → ``>``; below, under, less/fewer/lower than, at most, dip/fall/drop
  to, ``<``/``≤``, "X or less" → ``<``;
* a few explicit aliases: btc → bitcoin, eth → ethereum, sol → solana, usa / u.s. → us,
  gop → republican, "federal reserve" → fed; words longer than 4 letters lose a plural ``s``.

Tokens with a digit (numbers, ``2nd``, ``q1``) and dates are *figures*. The *skeleton* of a question
is the ordered list of its figures, comparators and marker words (negations — not, no, never,
without, fail — and the time/relation words by, before, after, until, on, in, during, between,
within, since, from, through, first, only, again, exactly): two questions whose skeletons differ
are never synonyms. *Content words* are the remaining tokens minus a few stopwords (will, the, a,
be, of, to, any, …).

**Groups** (equivalent questions — their YES should trade alike):

* keyword groups from ``synonyms.yml`` (``kw:<name>``): every clause (a list of alternatives) must
  appear in the normalised question as whole words, none of ``exclude``; a year also matches
  inside a date (``2026`` ~ ``@2026-12-31``);
* explicit lists of condition ids or slugs (``list:<name>``);
* candidates the similarity matcher proposes (``auto:<sha1 of the sorted member ids, 12 hex>``):
  the same skeleton, one question's content words contained in the other's with a Jaccard
  similarity ≥ ``min_similarity``, the shared words in the same order ("Lakers beat Celtics" is not
  "Celtics beat Lakers"), end dates at most 31 days apart. A substituted word (Senate/House,
  Democratic/Republican) is a different question, however long the rest. Candidate pairs come from
  an inverted index over each question's rarest words inside its skeleton (prefix filtering): a
  20,000-market universe is never compared pair by pair (``bench/synonyms.py``).

**Relations** ("narrower YES implies wider YES", so P(narrower) ≤ P(wider)):

* threshold ladders — the same normalised question with another number right after a comparator:
  for ``>`` (above, over, exceed, reach, …) the higher threshold is narrower, for ``<`` (below,
  under, …) the lower one;
* date ladders — the same question with another date (or year) after "by" or "before": the
  earlier date is narrower;
* relations declared in ``synonyms.yml`` (they win over a found relation between the same pair).

Ladders relate neighbouring levels only (sorted by threshold or date; every market of one level
with every market of the next): a contradiction anywhere in a ladder shows between neighbours. A
level whose markets are all closed or resolved does not break the chain: the live levels on either
side of it are related too.

**Who takes part.** Automatic matching (keywords, similarity, ladders) looks at binary Yes/No
markets that are not placeholders (``active`` false) nor the "Other" market of an augmented negRisk
event; closed and resolved markets stay in (the rules skip them). Markets of one negRisk event
with several markets are mutually exclusive outcomes: never two of them in one group, never a
relation between two of them (a keyword or list group that would hold two is not built, with a
note). Across events they take part in ladders and keyword groups — "Bitcoin below $80k on March
30" from a price-range event is a threshold ladder member with "Bitcoin below $70k on March 30"
from another event. The similarity matcher leaves them out: their question is one outcome of the
event's question, and series of events reuse the same outcome wording for another period (list
them in ``synonyms.yml`` when they are synonyms). Two markets of one event of any kind are never
proposed as synonyms. A date without a year is read in the year of the market's end date, and
questions with relative time words (today, tomorrow, week, month, …) only match markets ending the
same day.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mpx.domain.models import Event, Market
from mpx.domain.rules.base import Relation, RelationKind, SynonymGroup
from mpx.domain.rules.dsl import YamlDoc
from mpx.errors import ConfigError

# ------------------------------------------------------------------ normalisation

MONTHS: dict[str, int] = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"])}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())} | {"sept": 9})
ALIASES = {"btc": "bitcoin", "xbt": "bitcoin", "eth": "ethereum", "sol": "solana", "usa": "us", "u.s": "us",
           "u.s.a": "us", "gop": "republican"}
PHRASE_ALIASES = (("federal reserve", "fed"), ("united states", "us"))
STOPWORDS = frozenset({"will", "the", "a", "an", "be", "is", "are", "was", "were", "of", "to", "there", "it", "its",
                       "this", "that", "any", "does", "do", "did", "has", "have", "had", "been", "at", "for", "with",
                       "as", "than"})
MARKERS = frozenset({"not", "no", "never", "without", "fail", "by", "before", "after", "until", "till", "on", "in",
                     "during", "between", "within", "since", "from", "through", "first", "only", "again", "exactly"})
RELATIVE = frozenset({"today", "tonight", "tomorrow", "week", "weekend", "weekly", "month", "monthly", "daily"})
COMPARATORS = frozenset({"<", ">"})
_GT = ("more than", "greater than", "higher than", "at least", "above", "over", "exceed", "exceeds", "exceeded",
       "reach", "reaches", "hit", "hits", "surpass", "surpasses", ">=", ">", "≥")
_LT = ("less than", "fewer than", "lower than", "at most", "below", "under", "dip to", "dips to", "fall to",
       "falls to", "drop to", "drops to", "<=", "<", "≤")
_SCALE = {"k": 10**3, "thousand": 10**3, "m": 10**6, "mn": 10**6, "million": 10**6, "b": 10**9, "bn": 10**9,
          "billion": 10**9, "t": 10**12, "tn": 10**12, "trillion": 10**12}


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_MONTH = _alternation(MONTHS)
_DATE_MDY = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?")
_DATE_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH})\b\.?(?:,?\s+(\d{{4}})\b)?")
_DATE_MY = re.compile(rf"\b({_MONTH})\.?,?\s+(\d{{4}})\b")
_NUMBER = re.compile(r"(?<![\w.])(?:(?<![^\s(])(?P<sign>-))?\$?(?(sign)|(?P<sign2>-)?)\s?(?P<digits>\d[\d,]*(?:\.\d+)?)"
                     r"(?:\s?(?P<word>thousand|million|billion|trillion)|(?P<letter>k|mn|m|bn|b|tn|t))?(?!\w|\.\d)"
                     r"(?P<pct>%)?(?P<plus>\+)?")
_OR_MORE = re.compile(r"(zzfig[a-z]+zz)\s+or\s+(more|higher|above|greater|over)\b")
_OR_LESS = re.compile(r"(zzfig[a-z]+zz)\s+or\s+(less|fewer|lower|below|under)\b")
_CMP = re.compile(rf"(?<![\w])(?:(?P<gt>{_alternation(_GT)})|(?P<lt>{_alternation(_LT)}))(?![\w])")
_PLACEHOLDER = re.compile(r"zzfig([a-z]+)zz")
_CLEAN = re.compile(r"[^a-z0-9<>.\s]")
_YEARLESS = re.compile(r"@\d{2}-\d{2}")
_FULL_DATE = re.compile(r"@(\d{4})-\d{2}(?:-\d{2})?")


def _letters(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = chr(ord("a") + r) + out
        if n == 0:
            return out


def _from_letters(s: str) -> int:
    n = 0
    for ch in s:
        n = n * 26 + ord(ch) - ord("a")
    return n


@dataclass(frozen=True, slots=True)
class Normalised:
    tokens: tuple[str, ...]
    text: str
    """Space-joined tokens (numbers canonical, dates ``@YYYY-MM-DD``, comparators ``>``/``<``)."""
    words: frozenset[str]
    """Content words (no stopwords, figures, comparators or markers)."""
    figures: tuple[str, ...]
    """Numbers, dates and other tokens with a digit, in order."""
    skeleton: tuple[str, ...]
    """Figures, comparators and marker words in order: must be equal for synonyms."""
    content: tuple[str, ...]
    """The content words in order (duplicates kept)."""
    yearless: bool = False
    """A date without a year appears."""
    relative: bool = False
    """A relative time word (today, week, …) appears."""


_FIGURE = re.compile(r"[@\d]")


def is_figure(token: str) -> bool:
    """A number, a date or another token with a digit (``2nd``, ``q1``)."""
    return _FIGURE.search(token) is not None


def _canon_number(sign: str | None, digits: str, word: str | None, letter: str | None) -> str:
    try:
        value = Decimal(digits.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern only admits digits
        return digits
    scale = word or letter
    if scale:
        value *= _SCALE[scale]
    if sign:
        value = -value
    return f"{value.normalize():f}"


def normalise(question: str) -> Normalised:
    """The normalised form of a question (see the module docstring)."""
    s = f" {question.lower()} ".replace("’", "'").replace("–", "-").replace("—", "-")
    s = s.replace("won't", "will not").replace("can't", "can not").replace("n't", " not")
    for phrase, alias in PHRASE_ALIASES:
        s = s.replace(phrase, alias)
    stash: list[str] = []

    def put(value: str) -> str:
        stash.append(value)
        return f" zzfig{_letters(len(stash) - 1)}zz "

    def mdy(m: re.Match[str]) -> str:
        month, day, year = MONTHS[m.group(1)], int(m.group(2)), m.group(3)
        return put(f"@{year}-{month:02d}-{day:02d}" if year else f"@{month:02d}-{day:02d}")

    def dmy(m: re.Match[str]) -> str:
        day, month, year = int(m.group(1)), MONTHS[m.group(2)], m.group(3)
        return put(f"@{year}-{month:02d}-{day:02d}" if year else f"@{month:02d}-{day:02d}")

    s = _DATE_MDY.sub(lambda m: mdy(m) if 1 <= int(m.group(2)) <= 31 else m.group(0), s)
    s = _DATE_DMY.sub(lambda m: dmy(m) if 1 <= int(m.group(1)) <= 31 else m.group(0), s)
    s = _DATE_MY.sub(lambda m: put(f"@{m.group(2)}-{MONTHS[m.group(1)]:02d}"), s)

    def number(m: re.Match[str]) -> str:
        text = _canon_number(m["sign"] or m["sign2"], m["digits"], m["word"], m["letter"]) + (m["pct"] or "")
        return (" > " if m["plus"] else "") + put(text)

    s = _NUMBER.sub(number, s)
    s = _OR_MORE.sub(r" > \1 ", s)
    s = _OR_LESS.sub(r" < \1 ", s)
    s = _CMP.sub(lambda m: " > " if m.group("gt") else " < ", s)
    s = _CLEAN.sub(" ", re.sub(r"'s\b", "", s))
    tokens: list[str] = []
    for raw in s.split():
        tok = raw.strip(".")
        if not tok:
            continue
        ph = _PLACEHOLDER.fullmatch(tok)
        if ph:
            tokens.append(stash[_from_letters(ph.group(1))])
            continue
        if tok in COMPARATORS and tokens and tokens[-1] == tok:
            continue  # "reach more than 4%": one comparator
        tok = ALIASES.get(tok, tok)
        if len(tok) > 4 and tok.endswith("s") and not tok.endswith("ss") and tok.isalpha():
            tok = tok[:-1]  # announces ~ announce, elections ~ election
        tokens.append(tok)
    figures: list[str] = []
    skeleton: list[str] = []
    content: list[str] = []
    for t in tokens:
        if _FIGURE.search(t):
            figures.append(t)
            skeleton.append(t)
        elif t in COMPARATORS or t in MARKERS:
            skeleton.append(t)
        elif t not in STOPWORDS:
            content.append(t)
    return Normalised(
        tokens=tuple(tokens), text=" ".join(tokens), words=frozenset(content), figures=tuple(figures),
        skeleton=tuple(skeleton), content=tuple(content), yearless=any(_YEARLESS.fullmatch(t) for t in figures),
        relative=not RELATIVE.isdisjoint(tokens))


# ------------------------------------------------------------------ synonyms.yml

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
                if not normalise(alt).text:
                    raise ValueError(f"keyword {alt!r} is empty once normalised (punctuation only?)")
        return value

    @field_validator("exclude", mode="after")
    @classmethod
    def _exclude_nonempty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alt in value:
            if not normalise(alt).text:
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


# ------------------------------------------------------------------ building

SIMILAR_MAX_END_GAP = timedelta(days=31)
"""Proposed synonyms end at most this far apart (a series asks the same words about another period)."""


@dataclass
class Built:
    """What :func:`build` found. Unpacks as ``groups, relations = build(...)``."""

    groups: list[SynonymGroup] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Market ids/slugs named in synonyms.yml that are not in the universe."""
    notes: list[str] = field(default_factory=list)
    """Why something in synonyms.yml was not used, and what the matcher skipped (not fatal)."""

    def __iter__(self) -> Iterator[Any]:
        return iter((self.groups, self.relations))


def _key(prefix: str, ids: Iterable[str]) -> str:
    return f"{prefix}:{hashlib.sha1('|'.join(sorted(ids)).encode()).hexdigest()[:12]}"


def _yes_no(m: Market) -> bool:
    return len(m.outcomes) == 2 and (m.outcomes[0].label.lower(), m.outcomes[1].label.lower()) == ("yes", "no")


def _auto_eligible(m: Market) -> bool:
    """Looked at by keyword groups, the similarity matcher and the ladders."""
    return _yes_no(m) and m.active and not m.neg_risk_other


@dataclass(slots=True)
class _Universe:
    markets: Mapping[str, Market]
    norm: dict[str, Normalised]
    negrisk: dict[str, str]
    """Market id → its negRisk event id, for members of negRisk events with several markets."""
    by_slug: dict[str, str]

    def resolve(self, ref: str) -> str | None:
        return ref if ref in self.markets else self.by_slug.get(ref)

    def exclusive(self, a: str, b: str) -> bool:
        """Two outcomes of one negRisk event (mutually exclusive)."""
        ev = self.negrisk.get(a)
        return ev is not None and ev == self.negrisk.get(b)

    def clash(self, ids: Iterable[str]) -> str | None:
        """The negRisk event two of ``ids`` belong to, if any."""
        seen: set[str] = set()
        for mid in ids:
            ev = self.negrisk.get(mid)
            if ev is not None:
                if ev in seen:
                    return ev
                seen.add(ev)
        return None

    def context(self, mid: str) -> str:
        """What a question's words leave implicit: the end year for a date without a year, the end
        day for relative time words."""
        n, end = self.norm[mid], self.markets[mid].end_date
        if n.relative:
            return end.date().isoformat() if end else f"?{mid}"
        if n.yearless:
            return str(end.year) if end else f"?{mid}"
        return ""


def build(config: SynonymsConfig, markets: Mapping[str, Market], events: Mapping[str, Event]) -> Built:
    """Groups and relations for a universe (see the module docstring). Deterministic: the same
    input gives the same keys, in key order."""
    out = Built()
    negrisk: dict[str, str] = {}
    for m in markets.values():
        if not m.event_id:
            continue
        ev = events.get(m.event_id)
        # an event we do not have: trust the market's own negRisk flag
        exclusive = (ev.neg_risk and len(ev.market_ids) > 1) if ev is not None else m.neg_risk
        if exclusive:
            negrisk[m.id] = m.event_id
    norm = {mid: normalise(m.question) for mid, m in markets.items() if _auto_eligible(m)}
    u = _Universe(markets, norm, negrisk, {m.slug: m.id for m in markets.values() if m.slug})

    configured: list[frozenset[str]] = []
    for g in config.groups:
        group = _keyword_group(g, u, out) if g.keywords is not None else _list_group(g, u, out)
        if group is not None:
            out.groups.append(group)
            configured.append(frozenset(group.market_ids))
    if config.matcher.similar:
        for ids in _similar(u, float(config.matcher.min_similarity), config.matcher.max_bucket, out):
            if any(ids <= c for c in configured):
                continue  # already (inside) a group of synonyms.yml
            members = tuple(sorted(ids))
            out.groups.append(SynonymGroup(_key("auto", members), f"similar: {markets[members[0]].question[:60]}",
                                           "similar", members))

    relations: dict[tuple[str, str], Relation] = {}
    if config.matcher.ladders:
        for rel in _ladders(u):
            relations.setdefault((rel.narrower, rel.wider), rel)
    for i, r in enumerate(config.relations):
        n, w = u.resolve(r.narrower), u.resolve(r.wider)
        if n is None or w is None:
            missing = [x for x, y in ((r.narrower, n), (r.wider, w)) if y is None]
            out.unknown.extend(missing)
            out.notes.append(f"relations.{i}: no market {', '.join(map(repr, missing))} in the universe")
            continue
        problem = ("the same market" if n == w else
                   "not binary" if len(markets[n].outcomes) != 2 or len(markets[w].outcomes) != 2 else
                   f"two outcomes of negRisk event {negrisk[n]} (mutually exclusive)" if u.exclusive(n, w) else None)
        if problem:
            out.notes.append(f"relations.{i}: skipped, {problem}")
            continue
        relations[(n, w)] = Relation(f"rel:{n}>{w}", n, w, "declared", r.note)
    for (n, w) in relations:
        if n < w and (w, n) in relations:
            out.notes.append(f"{markets[n].question!r} and {markets[w].question!r} imply each other")
    out.groups.sort(key=lambda g: g.key)
    out.relations = sorted(relations.values(), key=lambda r: r.key)
    return out


def _keyword_group(g: GroupSpec, u: _Universe, out: Built) -> SynonymGroup | None:
    clauses = [[f" {normalise(alt).text} " for alt in clause] for clause in g.keywords or ()]
    excluded = [f" {normalise(alt).text} " for alt in g.exclude]
    ids = []
    for mid, n in u.norm.items():
        years = " ".join(m.group(1) for t in n.figures if (m := _FULL_DATE.fullmatch(t)))
        padded = f" {n.text} {years} "
        if all(any(alt in padded for alt in clause) for clause in clauses) \
                and not any(alt in f" {n.text} " for alt in excluded):
            ids.append(mid)
    ids.sort()
    clash = u.clash(ids)
    if clash is not None:
        out.notes.append(f"group {g.name}: not built, its keywords match several outcomes of negRisk event {clash} "
                         "(mutually exclusive); add words or exclude")
        return None
    if len(ids) < 2:
        out.notes.append(f"group {g.name}: its keywords match {len(ids)} market(s)")
        return None
    return SynonymGroup(f"kw:{g.name}", g.name, "keywords", tuple(ids))


def _list_group(g: GroupSpec, u: _Universe, out: Built) -> SynonymGroup | None:
    ids: set[str] = set()
    for ref in g.markets or ():
        mid = u.resolve(ref)
        if mid is None:
            out.unknown.append(ref)
            out.notes.append(f"group {g.name}: no market {ref!r} in the universe")
        elif len(u.markets[mid].outcomes) != 2:
            out.notes.append(f"group {g.name}: {ref!r} is not a binary market, left out")
        else:
            ids.add(mid)
    clash = u.clash(ids)
    if clash is not None:
        out.notes.append(f"group {g.name}: not built, it lists several outcomes of negRisk event {clash} "
                         "(mutually exclusive)")
        return None
    if len(ids) < 2:
        out.notes.append(f"group {g.name}: fewer than 2 of its markets are in the universe")
        return None
    return SynonymGroup(f"list:{g.name}", g.name, "list", tuple(sorted(ids)))


def _similar(u: _Universe, threshold: float, max_bucket: int, out: Built) -> list[frozenset[str]]:
    """Connected groups of questions that say the same thing (see the module docstring)."""
    cands = {mid: n for mid, n in u.norm.items() if n.words and mid not in u.negrisk}
    df = Counter(w for n in cands.values() for w in n.words)
    index: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for mid, n in cands.items():
        ordered = sorted(n.words, key=lambda w: (df[w], w))  # rarest first
        prefix = len(ordered) - math.ceil(threshold * len(ordered) - 1e-9) + 1
        sig = (n.skeleton, u.context(mid))
        for w in ordered[:max(1, prefix)]:
            index[(sig, w)].append(mid)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    compared: set[tuple[str, str]] = set()
    joined: set[str] = set()
    skipped = 0
    for members in index.values():
        if len(members) > max_bucket:
            skipped += 1
            continue
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                pair = (a, b) if a < b else (b, a)
                if pair in compared:
                    continue
                compared.add(pair)
                if _same_question(u, a, b, threshold):
                    parent[find(a)] = find(b)
                    joined.update(pair)
    if skipped:
        out.notes.append(f"similarity: {skipped} bucket(s) of more than {max_bucket} questions skipped")
    comps: dict[str, set[str]] = defaultdict(set)
    for mid in joined:
        comps[find(mid)].add(mid)
    result = []
    for comp in comps.values():
        events = [u.markets[m].event_id for m in comp if u.markets[m].event_id]
        if len(events) != len(set(events)):
            out.notes.append(f"similarity: a group of {len(comp)} questions spanning two markets of one event "
                             "dropped")
            continue
        result.append(frozenset(comp))
    return result


def _same_question(u: _Universe, a: str, b: str, threshold: float) -> bool:
    ma, mb = u.markets[a], u.markets[b]
    if ma.event_id is not None and ma.event_id == mb.event_id:
        return False  # one event lists different questions
    na, nb = u.norm[a], u.norm[b]
    small, big = (na, nb) if len(na.words) <= len(nb.words) else (nb, na)
    if not small.words <= big.words or len(small.words) / len(big.words) < threshold:
        return False  # a substituted word is another question; too many added words
    if [w for w in na.content if w in small.words] != [w for w in nb.content if w in small.words]:
        return False  # "A beat B" is not "B beat A"
    return not (ma.end_date and mb.end_date and abs(ma.end_date - mb.end_date) > SIMILAR_MAX_END_GAP)


_THRESHOLD = re.compile(r"([<>]) (-?\d+(?:\.\d+)?)(%?)(?= |$)")
_BY_DATE = re.compile(r"\b(by|before) (@\d{4}-\d{2}-\d{2}|@\d{4}-\d{2}|@\d{2}-\d{2}|(?:19|20)\d{2})(?= |$)")


def _ladders(u: _Universe) -> Iterator[Relation]:
    thresholds: dict[tuple[str, str, str, str], list[tuple[Decimal, str]]] = defaultdict(list)
    dates: dict[tuple[str, str, str, int], list[tuple[str, str]]] = defaultdict(list)
    for mid, n in u.norm.items():
        ctx = u.context(mid)
        for m in _THRESHOLD.finditer(n.text):
            template = f"{n.text[:m.start()]}{m.group(1)} <n>{m.group(3)}{n.text[m.end():]}"
            thresholds[(template, m.group(1), m.group(3), ctx)].append((Decimal(m.group(2)), mid))
        for m in _BY_DATE.finditer(n.text):
            template = f"{n.text[:m.start()]}{m.group(1)} <date>{n.text[m.end():]}"
            dates[(template, m.group(1), ctx, len(m.group(2)))].append((m.group(2).lstrip("@"), mid))
    for (_, comparator, pct, _), members in thresholds.items():
        word = "above" if comparator == ">" else "below"
        # "> x": the higher threshold is the narrower outcome; "< x": the lower one
        for (nv, narrower), (wv, wider) in _neighbours(u, members, reverse=comparator == ">"):
            yield Relation(f"rel:{narrower}>{wider}", narrower, wider, "threshold",
                           f"{word} {nv:,f}{pct} ⊂ {word} {wv:,f}{pct}: {u.markets[narrower].question}")
    for (_, by, _, _), members_d in dates.items():
        for (nd, narrower), (wd, wider) in _neighbours(u, members_d, reverse=False):
            yield Relation(f"rel:{narrower}>{wider}", narrower, wider, "date",
                           f"{by} {nd} ⊂ {by} {wd}: {u.markets[narrower].question}")


T = TypeVar("T", Decimal, str)


def _neighbours(u: _Universe, members: Sequence[tuple[T, str]], *,
                reverse: bool) -> Iterator[tuple[tuple[T, str], tuple[T, str]]]:
    """(narrower, wider) pairs between neighbouring levels, narrowest level first; a level of only
    closed/resolved markets is bridged (its live neighbours are related too)."""
    levels: dict[T, list[str]] = defaultdict(list)
    for value, mid in members:
        if mid not in levels[value]:
            levels[value].append(mid)
    if len(levels) < 2:
        return
    order = sorted(levels, reverse=reverse)
    for i, value in enumerate(order):
        for j in range(i + 1, len(order)):
            for a in levels[value]:
                for b in levels[order[j]]:
                    if not u.exclusive(a, b):
                        yield (value, a), (order[j], b)
            if any(u.markets[m].status == "active" for m in levels[order[j]]):
                break


def group_sources(groups: Sequence[SynonymGroup]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for g in groups:
        counts[g.source] = counts.get(g.source, 0) + 1
    return dict(sorted(counts.items()))


def relation_kinds(relations: Sequence[Relation]) -> dict[RelationKind, int]:
    counts: dict[RelationKind, int] = {}
    for r in relations:
        counts[r.kind] = counts.get(r.kind, 0) + 1
    return dict(sorted(counts.items()))
