"""One way typed records cross into JSON (signal payloads, intent legs, fills, the audit trail) and
back: exact, by the dataclass's own field types — no hand-written ``as_dict`` per class.

* ``Decimal`` ↔ its exact string; ``datetime`` ↔ ISO 8601; ``None`` stays ``null``;
* ``str``, ``int``, ``bool`` as they are; a ``Literal`` is checked against its values;
* nested dataclasses and ``tuple[X, ...]`` recursively;
* reading back, a missing key takes the field's default (a required field missing is an error),
  unknown keys are ignored (what older or newer versions wrote).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

T = TypeVar("T")


class CodecError(ValueError):
    """A stored record that does not fit its type (which field, and why)."""


def to_json(obj: Any) -> Any:
    """A dataclass (or a value inside one) as JSON-able data, exactly."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, tuple | list):
        return [to_json(x) for x in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_json(v) for k, v in obj.items()}
    return obj


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = typing.get_type_hints(cls)
    return found


def from_json(cls: type[T], data: Any) -> T:
    """``data`` read back as ``cls`` (see the module docstring); :class:`CodecError` naming the field."""
    if not isinstance(data, Mapping):
        raise CodecError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise CodecError(f"{cls.__name__}.{f.name}: missing")
            continue
        try:
            values[f.name] = _value(hints[f.name], data[f.name])
        except CodecError as exc:
            raise CodecError(f"{cls.__name__}.{f.name}: {exc}") from None
    return cls(**values)


def _value(tp: Any, raw: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if raw is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _value(inner[0], raw)
        raise CodecError(f"cannot read a value of type {tp}")
    if origin is Literal:
        if raw not in get_args(tp):
            raise CodecError(f"{raw!r} is not one of {', '.join(map(repr, get_args(tp)))}")
        return raw
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(raw, list | tuple):
            raise CodecError(f"expected a list, got {type(raw).__name__}")
        return tuple(_value(args[0], x) for x in raw)
    if tp is Decimal:
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise CodecError(f"expected a decimal as text, got {raw!r}")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise CodecError(f"{raw!r} is not a number") from None
        if not value.is_finite():
            raise CodecError(f"{raw!r} is not a finite number")
        return value
    if tp is datetime:
        try:
            return datetime.fromisoformat(raw)
        except (TypeError, ValueError):
            raise CodecError(f"{raw!r} is not an ISO 8601 time") from None
    if tp in (str, int, bool):
        if not isinstance(raw, tp) or (tp is int and isinstance(raw, bool)):
            raise CodecError(f"expected {tp.__name__}, got {raw!r}")
        return raw
    if dataclasses.is_dataclass(tp):
        return from_json(tp, raw)  # type: ignore[arg-type]
    raise CodecError(f"cannot read a value of type {tp}")
