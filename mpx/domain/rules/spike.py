"""SPIKE — a price move of at least Δ within a window, ignoring thin or wide books."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mpx.domain.durations import Duration
from mpx.domain.rules.base import Finding, RuleSpec, Universe


class SpikeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Duration = Field(timedelta(minutes=5), description="look back this far for the move")
    min_move: Decimal = Field(Decimal("0.05"), gt=0, lt=1, description="minimum absolute mid-price move")
    min_top_size: Decimal = Field(Decimal("50"), ge=0, description="ignore books thinner than this at the top")
    max_spread: Decimal = Field(Decimal("0.05"), gt=0, le=1, description="ignore books wider than this")


class Spike:
    type: ClassVar[str] = "SPIKE"
    Params: ClassVar[type[BaseModel]] = SpikeParams

    def lookback(self, params: BaseModel) -> timedelta:
        assert isinstance(params, SpikeParams)
        return params.window

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        raise NotImplementedError
