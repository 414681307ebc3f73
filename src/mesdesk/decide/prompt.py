"""The prompt of the LLM deciders: only what is known at the decision time, as compact canonical JSON.

The user message is one JSON document: the decision time, a summary of the bars that CLOSED at or
before it, and each candidate with its features and what learning knows about it (fingerprint
stats, hard negatives: `DecisionContext.memory[candidate.key]`). Floats are rounded and keys sorted
so that the same inputs give the same bytes, hence the same cache key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from mesdesk.calendar import CT
from mesdesk.decider import DecisionContext
from mesdesk.model import Candidate

SCHEMA_NAME = "trade_decisions"
RECENT_BAR_ROWS = 12


@dataclass(frozen=True, slots=True)
class TradeTerms:
    """The bracket and costs the prompt states, in points (the composition root derives them from the
    engine config in use, so the model is told the bracket that will really be traded)."""

    tp_pts: float = 1.25
    sl_pts: float = 0.75
    breakeven_at_pts: float | None = 0.50
    trail_after_pts: float | None = 1.00
    cost_pts: float = 0.248

    def sentence(self) -> str:
        parts = [f"target +{self.tp_pts:.2f} points", f"stop -{self.sl_pts:.2f} points"]
        if self.breakeven_at_pts is not None:
            parts.append(f"stop to breakeven at +{self.breakeven_at_pts:.2f}")
        trail = "" if self.trail_after_pts is None else f", trailing\nafter +{self.trail_after_pts:.2f}"
        return (
            f"open with a bracket: {', '.join(parts)}{trail}. "
            f"Costs are about {self.cost_pts:.2f} points per round trip."
        )


SEED_TERMS = TradeTerms()


def system_prompt(terms: TradeTerms = SEED_TERMS) -> str:
    """The system prompt with the bracket in use (the seed's bracket gives the seed-era text, byte for byte)."""
    return f"""\
You review intraday MES (Micro E-mini S&P 500 futures) scalp candidates for a rule-based system.
Each candidate is a technical setup seen at the close of a bar; an entry would fill at the next bar's
{terms.sentence()}
For EVERY candidate id given, answer: action "take" or "skip"; confidence = your probability, in
percent 0-100, that the trade reaches the target before the stop; reason = at most 25 words.
Use only the data given: it is everything known at the decision time. Prefer "skip" when the
evidence is thin, and respect hard negatives (patterns that lost before) unless the data clearly
differs. Answer through the schema only."""


SYSTEM_PROMPT = system_prompt()

DECISIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "decisions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "action": {"type": "string", "enum": ["take", "skip"]},
                    "confidence": {"type": "integer"},
                    "reason": {"type": "string"},
                },
                "required": ["id", "action", "confidence", "reason"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["decisions"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class Prompt:
    """What is sent: system and user text, the JSON schema, and the candidate ids in order."""

    system: str
    user: str
    schema: Mapping[str, Any]
    schema_name: str
    ids: tuple[str, ...]


def _num(value: object, digits: int = 4) -> float | int | None:
    """JSON-safe rounded number; NaN/inf become null."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else None
    return None


def _json_safe(value: object, depth: int = 0) -> object:
    """Memory entries as JSON: numbers rounded, mappings with str keys, sequences as lists (depth <= 4)."""
    if depth > 4:
        return None
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, int | float):
        return _num(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_json_safe(v, depth + 1) for v in list(value)[:20]]
    return str(value)


def _bar_span(index: pd.DatetimeIndex) -> pd.Timedelta:
    if len(index) < 2:
        return pd.Timedelta(minutes=1)
    diffs = index[1:] - index[:-1]
    return pd.Timedelta(diffs.min())


def bars_summary(bars: pd.DataFrame, now: datetime, rows: int = RECENT_BAR_ROWS) -> dict[str, object]:
    """A compact view of the bars closed at or before `now`: the last `rows` bars and a few moves (points)."""
    if bars.empty:
        return {"bars": 0}
    index = pd.DatetimeIndex(bars.index)
    known = bars[(index + _bar_span(index)) <= pd.Timestamp(now)]
    if known.empty:
        return {"bars": 0}
    close = known["close"].to_numpy(dtype=float)
    last = float(close[-1])
    tail = known.iloc[-rows:]
    tail_ct = pd.DatetimeIndex(tail.index).tz_convert(CT).strftime("%H:%M")
    moves = {f"chg_{n}_bars_pts": _num(last - float(close[-1 - n]), 2) for n in (5, 15, 30, 60) if len(close) > n}
    return {
        "bars": len(known),
        "bar_minutes": _bar_span(index).total_seconds() / 60.0,
        "last_close": _num(last, 2),
        "high_last_60": _num(float(known["high"].iloc[-60:].max()), 2),
        "low_last_60": _num(float(known["low"].iloc[-60:].min()), 2),
        **moves,
        "recent_ohlcv_ct": [
            [t, _num(o, 2), _num(h, 2), _num(lo, 2), _num(c, 2), int(v)]
            for t, o, h, lo, c, v in zip(
                tail_ct,
                tail["open"].to_numpy(dtype=float),
                tail["high"].to_numpy(dtype=float),
                tail["low"].to_numpy(dtype=float),
                tail["close"].to_numpy(dtype=float),
                tail["volume"].to_numpy(),
                strict=True,
            )
        ],
    }


def candidate_view(candidate: Candidate, cid: str, memory: Mapping[str, object] | None) -> dict[str, object]:
    return {
        "id": cid,
        "time_ct": candidate.ts.astimezone(CT).strftime("%Y-%m-%dT%H:%M:%S"),
        "setup": str(candidate.setup_type),
        "direction": candidate.direction.value,
        "ref_entry": _num(candidate.ref_entry, 2),
        "prefilter_score": _num(candidate.prefilter_score, 1),
        "volume_multiple": _num(candidate.volume_multiple, 2),
        "atr_5m_pts": _num(candidate.atr_5m, 2),
        "session": candidate.session_label,
        "features": {k: _num(v) for k, v in sorted(candidate.features.items())},
        "memory": _json_safe(memory) if memory else {},
    }


def build_prompt(candidates: Sequence[Candidate], context: DecisionContext, terms: TradeTerms = SEED_TERMS) -> Prompt:
    """The prompt for a batch; refuses candidates seen after the decision time (a look-ahead)."""
    if not candidates:
        raise ValueError("build_prompt needs at least one candidate")
    for c in candidates:
        if c.ts > context.now:
            raise ValueError(f"candidate {c.key} is after the decision time {context.now.isoformat()}")
    ids = tuple(f"c{i + 1}" for i in range(len(candidates)))
    document = {
        "decision_time_utc": context.now.isoformat(),
        "decision_time_ct": context.now.astimezone(CT).strftime("%Y-%m-%dT%H:%M:%S"),
        "market": bars_summary(context.recent_bars, context.now),
        "candidates": [
            candidate_view(c, cid, context.memory.get(c.key)) for c, cid in zip(candidates, ids, strict=True)
        ],
    }
    user = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return Prompt(system_prompt(terms), user, DECISIONS_SCHEMA, SCHEMA_NAME, ids)
