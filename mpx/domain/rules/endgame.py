"""ENDGAME — a market ending within H hours whose likely outcome still trades below a threshold:
buy it, hold to resolution; reports the return after fees and its annualised rate."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mpx.domain.durations import Duration
from mpx.domain.rules.base import Finding, RuleSpec, Universe


class EndgameParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    within: Duration = Field(timedelta(hours=24), description="market ends within this")
    min_probability: Decimal = Field(Decimal("0.85"), gt=0, lt=1, description="the outcome's mid must be ≥ this")
    max_price: Decimal = Field(Decimal("0.99"), gt=0, lt=1, description="…and its ask ≤ this")
    size: Decimal = Field(Decimal("100"), gt=0, description="target shares")


class Endgame:
    type: ClassVar[str] = "ENDGAME"
    Params: ClassVar[type[BaseModel]] = EndgameParams

    def lookback(self, params: BaseModel) -> timedelta:
        return timedelta(0)

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        raise NotImplementedError
