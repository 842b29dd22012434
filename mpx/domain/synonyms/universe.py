"""The markets one build looks at, normalised once, with what every matcher asks of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mpx.domain.models import Event, Market
from mpx.domain.synonyms.normalise import Normalised, names, normalise


def yes_no(m: Market) -> bool:
    return len(m.outcomes) == 2 and (m.outcomes[0].label.lower(), m.outcomes[1].label.lower()) == ("yes", "no")


def auto_eligible(m: Market) -> bool:
    """Looked at by keyword groups, the similarity matcher and the ladders."""
    return yes_no(m) and m.active and not m.neg_risk_other


@dataclass(slots=True)
class MatchUniverse:
    markets: Mapping[str, Market]
    norm: dict[str, Normalised]
    """Normalised questions of the markets automatic matching looks at (:func:`auto_eligible`)."""
    negrisk: dict[str, str]
    """Market id → its negRisk event id, for members of negRisk events with several markets."""
    by_slug: dict[str, str]
    _rules: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _names: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, markets: Mapping[str, Market], events: Mapping[str, Event]) -> MatchUniverse:
        negrisk: dict[str, str] = {}
        for m in markets.values():
            if not m.event_id:
                continue
            ev = events.get(m.event_id)
            # an event we do not have: trust the market's own negRisk flag
            exclusive = (ev.neg_risk and len(ev.market_ids) > 1) if ev is not None else m.neg_risk
            if exclusive:
                negrisk[m.id] = m.event_id
        norm = {mid: normalise(m.question) for mid, m in markets.items() if auto_eligible(m)}
        return cls(markets, norm, negrisk, {m.slug: m.id for m in markets.values() if m.slug})

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

    def rules(self, mid: str) -> tuple[str, ...]:
        """The market's resolution rules (description), normalised like questions (cached)."""
        tokens = self._rules.get(mid)
        if tokens is None:
            tokens = self._rules[mid] = normalise(self.markets[mid].description).tokens
        return tokens

    def names(self, mid: str) -> frozenset[str]:
        """The names in the market's question (:func:`~.normalise.names`, cached)."""
        found = self._names.get(mid)
        if found is None:
            found = self._names[mid] = names(self.markets[mid].question)
        return found
