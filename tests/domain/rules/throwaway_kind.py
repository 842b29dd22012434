"""A rule kind that lives outside mpx: the whole of what adding a kind takes, besides one
``register`` call (see test_registry.py). It reports every tradable market whose YES mid is below
``params.below`` as an indicator."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from mpx.domain.findings import Measure
from mpx.domain.rules.base import Finding, RuleSpec, Universe


class CheapParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    below: Decimal = Decimal("0.10")


class Cheap:
    type: ClassVar[str] = "CHEAP_YES"
    Params: ClassVar[builtins.type[BaseModel]] = CheapParams

    def lookback(self, params: BaseModel) -> timedelta:
        return timedelta(0)

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        params = rule.params
        assert isinstance(params, CheapParams)
        for m in universe.changed_tradable(rule.scope):
            book = universe.fresh_book(m.yes.token_id)
            if book is not None and book.mid is not None and book.mid < params.below:
                yield Finding(subject=f"market:{m.id}", message=f"{m.question}: YES mid {book.mid}", edge_score=0.1,
                              measure=Measure("move_bps", (params.below - book.mid) * 10_000), market_id=m.id)
