"""SUM_LT_1 — buy every YES of a negRisk event (or YES + NO of one binary market) for less than
the 1 USDC the set is certain to pay, after taker fees and at executable depth."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mpx.domain.rules.base import Finding, RuleSpec, Universe


class SumLt1Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    size: Decimal = Field(Decimal("100"), gt=0, description="target shares per leg")
    include_binary: bool = Field(True, description="also check YES + NO of single binary markets")
    include_neg_risk: bool = Field(True, description="check the YES legs of negRisk events")


class SumLt1:
    type: ClassVar[str] = "SUM_LT_1"
    Params: ClassVar[type[BaseModel]] = SumLt1Params

    def lookback(self, params: BaseModel) -> timedelta:
        return timedelta(0)

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        raise NotImplementedError
