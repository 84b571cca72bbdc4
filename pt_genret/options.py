"""Recorded options: the fields of a dataclass component (docid scheme, update method).

A component's constructor options are its dataclass fields; :func:`recorded` reads them back
for ``pt_meta.json`` and generation records, and :func:`check_options` is the one validator
of their values, run by each component's ``__post_init__``: the type a field declares (bool,
whole number, number, text, ``None`` where allowed), numbers ``>= 0`` unless the field says
``positive`` (``> 0``) or gives an ``interval``, and ``choices``. A bad value is a one-line
``ValueError`` naming the option and its value, raised before any work starts.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Sequence

_INTERVAL = re.compile(r"^([\[(])\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*([\])])$")


def option(default: Any = dataclasses.MISSING, *, positive: bool = False, interval: str | None = None,
           choices: Sequence[Any] | None = None, record: bool = True) -> Any:
    """A dataclass field that is a recorded option: ``positive`` (``> 0``), ``interval`` such as
    ``"[0, 1]"`` or ``"(0, 1]"``, ``choices``; ``record=False`` leaves it out of the record."""
    meta = {"positive": positive, "interval": interval, "choices": tuple(choices) if choices else None,
            "record": record}
    return dataclasses.field(default=default, metadata=meta)


def option_fields(obj: Any) -> list[dataclasses.Field]:
    """The fields of ``obj`` set by its constructor (its options)."""
    return [f for f in dataclasses.fields(obj) if f.init]


def recorded(obj: Any, exclude: Sequence[str] = ()) -> dict[str, Any]:
    """The options of ``obj`` and their values, as recorded (JSON-serialisable)."""
    return {f.name: getattr(obj, f.name) for f in option_fields(obj)
            if f.metadata.get("record", True) and f.name not in exclude}


def _problem(value: Any, kind: str, meta: Any) -> str | None:
    """What is wrong with ``value`` for a field declared ``kind`` (None: nothing)."""
    if value is None:
        return None if "None" in kind else "expected a value"
    if meta.get("choices") and value not in meta["choices"]:
        return f"must be one of {list(meta['choices'])}"
    if kind.startswith("bool"):
        return None if isinstance(value, bool) else "expected true or false"
    if kind.startswith("str"):
        return None if isinstance(value, str) else "expected text"
    numeric = ("int" in kind or "float" in kind) and not any(s in kind for s in ("Sequence", "list", "tuple"))
    if not numeric:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return "expected a number"
    if "float" not in kind and value != int(value):
        return "expected a whole number"
    interval = meta.get("interval")
    if interval:
        left, low, high, right = _INTERVAL.match(interval).groups()
        low, high = float(low), float(high)
        inside = (value > low if left == "(" else value >= low) and (value < high if right == ")" else value <= high)
        return None if inside else f"must lie in {interval}"
    if meta.get("positive"):
        return None if value > 0 else "must be > 0"
    return None if value >= 0 else "must be >= 0"


def check_options(obj: Any, what: str) -> None:
    """Refuse an option of ``obj`` whose value does not fit its field (``what``: how errors name
    the component, e.g. ``"update"`` gives ``update option lr='abc': expected a number``)."""
    for f in option_fields(obj):
        problem = _problem(getattr(obj, f.name), str(f.type), f.metadata)
        if problem:
            raise ValueError(f"{what} option {f.name}={getattr(obj, f.name)!r}: {problem}")


def accepted(cls: type, exclude: Sequence[str] = ()) -> list[str]:
    """The option names ``cls`` accepts (for error messages)."""
    return [f.name for f in dataclasses.fields(cls) if f.init and f.name not in exclude]
