"""The `--param` grammar and the grid it spans.

``--param NAME=v1,v2,...`` lists values; ``--param NAME=lo:hi:step`` spans lo, lo+step, ... up to hi
(inclusive, within a millionth of a step). Values take the parameter's type: whole numbers for
integer parameters, ``true``/``false`` for switches, ``none`` (or ``off``) for an optional distance
such as ``bracket.breakeven_at_pts``, ``HH:MM`` (lists only) for times of day, the text itself for a
text parameter of a user setup, and for a user setup's parameter whose default is ``None`` a number,
``true``/``false`` or else the text. Every error is one line naming the parameter.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from itertools import product
from typing import Literal

Kind = Literal["float", "int", "bool", "optional_float", "time", "str", "any"]
Value = float | int | bool | time | str | None
Assignment = dict[str, Value]

MAX_GRID = 100_000


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One searched parameter and its values, in the order given (ranges ascending)."""

    name: str
    values: tuple[Value, ...]


def _value(text: str, name: str, kind: Kind) -> Value:
    """A value of any kind: text as given, a loose value, or `_number`."""
    if kind == "str":
        return text.strip()
    if kind == "any":
        return _any(text.strip())
    return _number(text, name, kind)


def _number(text: str, name: str, kind: Kind) -> Value:
    t = text.strip().lower()
    if kind == "optional_float" and t in ("none", "off"):
        return None
    if kind == "bool":
        if t in ("true", "1", "yes", "on"):
            return True
        if t in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"--param {name}: {text!r} is not true or false")
    if kind == "time":
        try:
            hh, mm = t.split(":")
            return time(int(hh), int(mm))
        except ValueError:
            raise ValueError(f"--param {name}: {text!r} is not a time HH:MM") from None
    try:
        value = float(t)
    except ValueError:
        raise ValueError(f"--param {name}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"--param {name}: {text!r} is not a finite number")
    if kind == "int":
        if value != int(value):
            raise ValueError(f"--param {name}: {text!r} is not a whole number")
        return int(value)
    return value


def _any(text: str) -> Value:
    """A number, a switch or else the text (a user setup's parameter declared with a None default)."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "off"):
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return int(number) if number == int(number) and "." not in text and "e" not in low else number


def _span(body: str, name: str, kind: Kind) -> tuple[Value, ...]:
    lo_s, hi_s, step_s = body.split(":")
    lo, hi, step = (_number(x, name, "float") for x in (lo_s, hi_s, step_s))
    assert isinstance(lo, float)
    assert isinstance(hi, float)
    assert isinstance(step, float)
    if step <= 0:
        raise ValueError(f"--param {name}={body}: step must be > 0")
    if hi < lo:
        raise ValueError(f"--param {name}={body}: empty range (hi < lo)")
    count = int(math.floor((hi - lo) / step + 1e-6)) + 1
    if count > MAX_GRID:
        raise ValueError(f"--param {name}={body}: {count:,} values (more than {MAX_GRID:,})")
    values = [round(lo + i * step, 10) for i in range(count)]
    if kind == "int":
        if any(v != int(v) for v in values):
            raise ValueError(f"--param {name}={body}: an integer parameter needs whole lo and step")
        return tuple(int(v) for v in values)
    return tuple(values)


def parse_param(text: str, kinds: Mapping[str, Kind]) -> ParamSpec:
    """Parse one ``NAME=...`` against the known parameters `kinds` (name -> type)."""
    name, sep, body = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ValueError(f"--param {text!r}: expected NAME=v1,v2,... or NAME=lo:hi:step")
    if name not in kinds:
        raise ValueError(f"--param {name}: unknown parameter; valid: {', '.join(sorted(kinds))}")
    kind = kinds[name]
    body = body.strip()
    if not body:
        raise ValueError(f"--param {name}: empty grid (no values)")
    if kind not in ("time", "str") and "," not in body and body.count(":") == 2:
        values = _span(body, name, kind)
    else:
        values = tuple(_value(v, name, kind) for v in body.split(",") if v.strip())
    if not values:
        raise ValueError(f"--param {name}: empty grid (no values)")
    unique = tuple(dict.fromkeys(values))  # drop repeats, keep the order given
    return ParamSpec(name, unique)


def parse_params(texts: Sequence[str], kinds: Mapping[str, Kind]) -> tuple[ParamSpec, ...]:
    """All `--param` options; a name given twice is an error."""
    specs = [parse_param(t, kinds) for t in texts]
    seen: set[str] = set()
    for s in specs:
        if s.name in seen:
            raise ValueError(f"--param {s.name}: given twice")
        seen.add(s.name)
    return tuple(specs)


def grid_size(specs: Sequence[ParamSpec]) -> int:
    return math.prod(len(s.values) for s in specs) if specs else 1


def grid(specs: Sequence[ParamSpec]) -> Iterator[Assignment]:
    """Every assignment of the grid, the first parameter varying slowest."""
    names = [s.name for s in specs]
    for combo in product(*(s.values for s in specs)):
        yield dict(zip(names, combo, strict=True))


def format_value(value: Value) -> str:
    """The text form of a value, as `parse_param` reads it back."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def config_key(assignment: Mapping[str, Value]) -> str:
    """A canonical text key of an assignment (sorted names): one configuration, one key."""
    return ";".join(f"{k}={format_value(assignment[k])}" for k in sorted(assignment))
