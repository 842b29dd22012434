"""Synonym groups and implication relations between markets — proven, or candidates for a person.

Pure: no database, no clock. :func:`build` turns a validated :class:`SynonymsConfig`, a universe
(markets, events) and people's :class:`Verdict` objects into the
:class:`~mpx.domain.rules.base.SynonymGroup` and :class:`~mpx.domain.rules.base.Relation` lists that
SYNONYM_MISPRICE and CROSS_MARKET_MISPRICE read, plus the :class:`Candidate` pairs shown to a
person (``mpx synonyms candidates``).

**Equivalence is proven, never guessed from similar text.** A group or relation is *proven*
(``proven=True``; its mispricing may be arbitrage) only when it is

* declared in ``synonyms.yml`` by market ids: a ``markets:`` list group (equivalent), a
  ``relations:`` entry (implies);
* confirmed by a person (``mpx synonyms confirm``), as long as the markets did not change since;
* a structural ladder the matcher proves (:mod:`.ladders`): the same question template, subject,
  units, comparator class and negation, differing in one threshold or one date, with the same
  resolution source and resolution rules identical but for that threshold or date (and, for a
  threshold ladder, the same end date).

Everything else the matcher finds is a *candidate* (``proven=False``, an indicator at most):
keyword groups of ``synonyms.yml`` (``kw:<name>``), groups of similar questions
(``auto:<hash of the member ids>``, :mod:`.similar`) and ladders missing part of a proof. Every
item carries a one-line ``basis``: why it is proven, or why it was proposed and what is missing.

The seams: :mod:`.normalise` (what a question says, as tokens), :mod:`.config` (the file),
:mod:`.similar` and :mod:`.ladders` (the matchers), :mod:`.verdicts` (candidates, verdicts, lapsing),
:mod:`.build` (putting it together).

**Who takes part.** Automatic matching (keywords, similarity, ladders) looks at binary Yes/No
markets that are not placeholders (``active`` false) nor the "Other" market of an augmented negRisk
event; closed and resolved markets stay in (the rules skip them). Markets of one negRisk event
with several markets are mutually exclusive outcomes: never two of them in one group, never a
relation between two of them (a keyword, list or confirmed group that would hold two is not built,
with a note). Across events they take part in ladders and keyword groups — "Bitcoin below $80k on
March 30" from a price-range event is a threshold ladder member with "Bitcoin below $70k on March
30" from another event. The similarity matcher leaves them out: their question is one outcome of
the event's question, and series of events reuse the same outcome wording for another period. Two
markets of one event of any kind are never proposed as synonyms. A date without a year is read in
the year of the market's end date, and questions with relative time words (today, tomorrow, week,
month, …) only match markets ending the same day.
"""

from mpx.domain.synonyms.build import Built, build, group_key, group_sources, proven_counts, relation_kinds
from mpx.domain.synonyms.config import (
    GroupSpec,
    MatcherSpec,
    RelationSpec,
    SynonymsConfig,
    load_config,
    parse_config,
)
from mpx.domain.synonyms.normalise import Normalised, is_figure, names, normalise
from mpx.domain.synonyms.similar import SIMILAR_MAX_END_GAP
from mpx.domain.synonyms.verdicts import (
    Candidate,
    CandidateKind,
    Decision,
    Verdict,
    VerdictState,
    fingerprint_of,
    lapsed_because,
    member_fingerprint,
    state_of,
)

__all__ = [
    "SIMILAR_MAX_END_GAP",
    "Built",
    "Candidate",
    "CandidateKind",
    "Decision",
    "GroupSpec",
    "MatcherSpec",
    "Normalised",
    "RelationSpec",
    "SynonymsConfig",
    "Verdict",
    "VerdictState",
    "build",
    "fingerprint_of",
    "group_key",
    "group_sources",
    "is_figure",
    "lapsed_because",
    "load_config",
    "member_fingerprint",
    "names",
    "normalise",
    "parse_config",
    "proven_counts",
    "relation_kinds",
    "state_of",
]
