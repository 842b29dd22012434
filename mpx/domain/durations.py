"""Durations as written in rules and on the command line: ``90s``, ``5m``, ``1h30m``, ``2d``, ``1w``,
a bare number of seconds, or an ISO-8601 duration (``PT5M``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, TypeAdapter

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: Any) -> timedelta:
    """Parse a duration; raise ``ValueError`` with a readable message when it is not one."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    elif isinstance(value, int | float):
        result = timedelta(seconds=value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            result = timedelta(seconds=float(text))
        elif text and _PART.sub("", text) == "":
            result = timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in _PART.findall(text)))
        elif text.startswith("p"):
            result = TypeAdapter(timedelta).validate_python(value.strip())
        else:
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 1h30m, 2d)")
    else:
        raise ValueError(f"not a duration: {value!r}")
    if result <= timedelta(0):
        raise ValueError(f"duration must be positive: {value!r}")
    return result


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
"""A pydantic field type accepting the forms :func:`parse_duration` understands."""


def format_duration(td: timedelta) -> str:
    """A duration as it is written in a rule file or on the command line (what :func:`parse_duration`
    reads back): ``45s``, ``5m``, ``1h30m``, ``1d``, ``2d3h``; under a second ``0s``. Whole seconds."""
    total = int(td.total_seconds())
    if total <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)
