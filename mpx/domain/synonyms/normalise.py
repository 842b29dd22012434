"""Question normalisation: what every comparison of the matcher looks at.

:func:`normalise` turns a question (or a keyword of ``synonyms.yml``, or a market's resolution
rules) into tokens:

* lower case, ``'s`` and punctuation dropped, hyphens split words, ``n't`` → ``not``;
* numbers to one form, **keeping their unit**: ``$150k`` / ``$150,000`` / ``$150 thousand`` →
  ``$150000`` (a currency amount, ``€``/``£`` likewise), ``150k`` / ``150,000`` → ``150000`` (a
  count: "150k BTC" is not "$150k"), ``$1.5M`` → ``$1500000``, ``3.5%`` stays ``3.5%``; ``-2%``
  keeps its sign;
* dates: ``March 31, 2027`` / ``Mar. 31 2027`` / ``31 March 2027`` → ``@2027-03-31``, without a year
  ``@03-31``; ``May 2026`` → ``@2026-05``;
* comparators, one token per class, and only in front of a number (``reach a deal`` is words):

  ========== =================================================================== ============
  token      words                                                               meaning
  ========== =================================================================== ============
  ``>``      above, over, more/greater/higher than, exceed(s/ed), ``>``           strictly more
  ``>=``     at least, "X or more/higher", "X+", ``≥``, ``>=``                    X or more
  ``reach>`` reach(es/ed), hit(s), surpass(es/ed)                                 touches X at any time
  ``<``      below, under, less/fewer/lower than, ``<``                           strictly less
  ``<=``     at most, "X or less/fewer/lower", ``≤``, ``<=``                      X or less
  ``dip<``   dip(s)/fall(s)/drop(s) to                                            touches X from above
  ========== =================================================================== ============

  Two classes never compare equal: "above $150k" is not "at least $150k", and "reach $150k" (at
  any time) is not "above $150k on December 31";
* a few explicit aliases: btc → bitcoin, eth → ethereum, sol → solana, usa / u.s. → us,
  gop → republican, "federal reserve" → fed; words longer than 4 letters lose a plural ``s``.

Tokens with a digit (numbers, ``2nd``, ``q1``) and dates are *figures*. The *skeleton* of a question
is the ordered list of its figures, comparators and marker words (negations — not, no, never,
without, fail — and the time/relation words by, before, after, until, on, in, during, between,
within, since, from, through, first, only, again, exactly). *Content words* are the remaining tokens
minus a few stopwords (will, the, a, be, of, to, any, …). :func:`names` are the words written with a
capital inside the question (not its first word): "Donald Trump Jr." names donald, trump, jr;
"Party A" names party, a.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

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
NEGATIONS = frozenset({"not", "no", "never", "fail"})
"""Words that negate what follows ("fail to", "n't" → not). ``without`` is a marker, not counted."""
MARKERS = NEGATIONS | frozenset({"without", "by", "before", "after", "until", "till", "on", "in", "during", "between",
                                 "within", "since", "from", "through", "first", "only", "again", "exactly"})
RELATIVE = frozenset({"today", "tonight", "tomorrow", "week", "weekend", "weekly", "month", "monthly", "daily"})

GT, GE, REACH, LT, LE, DIP = ">", ">=", "reach>", "<", "<=", "dip<"
COMPARATORS = frozenset({GT, GE, REACH, LT, LE, DIP})
UPWARD = frozenset({GT, GE, REACH})
"""Comparators whose YES gets narrower as the threshold rises ("above 80k" ⊂ "above 70k")."""
COMPARATOR_WORDS: dict[str, tuple[str, ...]] = {
    # the order matters where one spelling starts another (">=" before ">")
    GE: ("at least", ">=", "≥"),
    LE: ("at most", "<=", "≤"),
    GT: ("more than", "greater than", "higher than", "above", "over", "exceed", "exceeds", "exceeded", ">"),
    LT: ("less than", "fewer than", "lower than", "below", "under", "<"),
    REACH: ("reach", "reaches", "reached", "hit", "hits", "surpass", "surpasses", "surpassed"),
    DIP: ("dip to", "dips to", "fall to", "falls to", "drop to", "drops to"),
}
_GROUP = {GE: "ge", LE: "le", GT: "gt", LT: "lt", REACH: "reach", DIP: "dip"}
_SCALE = {"k": 10**3, "thousand": 10**3, "m": 10**6, "mn": 10**6, "million": 10**6, "b": 10**9, "bn": 10**9,
          "billion": 10**9, "t": 10**12, "tn": 10**12, "trillion": 10**12}


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_MONTH = _alternation(MONTHS)
_DATE_MDY = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?")
_DATE_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH})\b\.?(?:,?\s+(\d{{4}})\b)?")
_DATE_MY = re.compile(rf"\b({_MONTH})\.?,?\s+(\d{{4}})\b")
_NUMBER = re.compile(r"(?<![\w.])(?:(?<![^\s(])(?P<sign>-))?(?P<cur>[$€£])?(?(sign)|(?P<sign2>-)?)\s?"
                     r"(?P<digits>\d[\d,]*(?:\.\d+)?)"
                     r"(?:\s?(?P<word>thousand|million|billion|trillion)|(?P<letter>k|mn|m|bn|b|tn|t))?(?!\w|\.\d)"
                     r"(?P<pct>%)?(?P<plus>\+)?")
_OR_MORE = re.compile(r"(zzfig[a-z]+zz)\s+or\s+(?:more|higher|above|greater|over)\b")
_OR_LESS = re.compile(r"(zzfig[a-z]+zz)\s+or\s+(?:less|fewer|lower|below|under)\b")
_CMP = re.compile("(?<![\\w])(?:" + "|".join(f"(?P<{_GROUP[tok]}>{_alternation(words)})"
                                              for tok, words in COMPARATOR_WORDS.items()) + ")(?![\\w])")
_FOLLOWED_BY_FIGURE = re.compile(
    r"\s*(?:(?:" + _alternation(w for ws in COMPARATOR_WORDS.values() for w in ws) + r")\s*)*zzfig")
_PLACEHOLDER = re.compile(r"zzfig([a-z]+)zz")
_POSSESSIVE = re.compile(r"'s\b")
_CLEAN = re.compile(r"[^a-z0-9.\s]")
_YEARLESS = re.compile(r"@\d{2}-\d{2}")
FULL_DATE = re.compile(r"@(\d{4})-\d{2}(?:-\d{2})?")
_CAPITALISED = re.compile(r"(?<![\w'’.])[A-Z][\w.'’]*")


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
    """Space-joined tokens (numbers canonical with their unit, dates ``@YYYY-MM-DD``, comparator tokens)."""
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


def _canon_number(sign: str | None, currency: str | None, digits: str, word: str | None, letter: str | None) -> str:
    try:
        value = Decimal(digits.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern only admits digits
        return digits
    scale = word or letter
    if scale:
        value *= _SCALE[scale]
    if sign:
        value = -value
    return f"{currency or ''}{value.normalize():f}"


def _word(raw: str) -> str:
    """One cleaned token as :func:`normalise` makes it (aliases, plural ``s`` of long words)."""
    tok = ALIASES.get(raw, raw)
    if len(tok) > 4 and tok.endswith("s") and not tok.endswith("ss") and tok.isalpha():
        tok = tok[:-1]  # announces ~ announce, elections ~ election
    return tok


def normalise(question: str, *, bare_comparators: bool = False) -> Normalised:
    """The normalised form of a question (see the module docstring). ``bare_comparators``: a
    comparator word counts without a number after it (keywords of ``synonyms.yml``: ``">"``)."""
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
        text = _canon_number(m["sign"] or m["sign2"], m["cur"], m["digits"], m["word"], m["letter"]) + (m["pct"] or "")
        return (put(GE) if m["plus"] else "") + put(text)

    s = _NUMBER.sub(number, s)
    s = _OR_MORE.sub(lambda m: put(GE) + m.group(1), s)
    s = _OR_LESS.sub(lambda m: put(LE) + m.group(1), s)

    def comparator(m: re.Match[str]) -> str:
        if not bare_comparators and not _FOLLOWED_BY_FIGURE.match(s, m.end()):
            return m.group(0)  # "reach a deal", "over the weekend": words
        return put(next(tok for tok, group in _GROUP.items() if m.group(group)))

    s = _CMP.sub(comparator, s)
    s = _CLEAN.sub(" ", _POSSESSIVE.sub("", s))
    tokens: list[str] = []
    for raw in s.split():
        tok = raw.strip(".")
        if not tok:
            continue
        ph = _PLACEHOLDER.fullmatch(tok)
        tokens.append(stash[_from_letters(ph.group(1))] if ph else _word(tok))
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


_PHRASES = tuple((phrase, re.compile(rf"\b{phrase}\b", re.IGNORECASE), alias) for phrase, alias in PHRASE_ALIASES)
_TRAILING_POSSESSIVE = re.compile(r"['’]s$")
_NEW_SENTENCE = (". ", "? ", "! ")


def _spelled_as(alias: str) -> Callable[[re.Match[str]], str]:
    return lambda m: alias.capitalize() if m.group(0)[0].isupper() else alias


def names(question: str) -> frozenset[str]:
    """The question's *names*: capitalised words after the first word, cleaned like tokens ("Jr." →
    jr, "BTC" → bitcoin, "Federal Reserve" → fed)."""
    out = set()
    lowered = question.lower()
    for phrase, pattern, alias in _PHRASES:  # "Federal Reserve" names fed, as the tokens say
        if phrase in lowered:
            question = pattern.sub(_spelled_as(alias), question)
    question = question.strip()
    for i, m in enumerate(_CAPITALISED.finditer(question)):
        start = m.start()
        if (i == 0 and start == 0) or question[start - 2:start] in _NEW_SENTENCE:
            continue  # the first word of a sentence is capitalised anyway
        word = _CLEAN.sub("", _TRAILING_POSSESSIVE.sub("", m.group(0).lower())).strip(".")
        if word and not word.isdigit() and word not in MONTHS:
            out.add(_word(word))
    return frozenset(out)
