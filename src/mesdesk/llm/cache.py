"""The decision cache: LLM answers kept in the store under (provider, model, sha256 of the prompt).

Modes:

- ``record`` (the default): a hit is reused at no cost and sends nothing; a miss is asked and its
  answer stored. A crash-and-restart that asks the same prompt again does not pay twice.
- ``replay``: nothing is ever sent. A hit is reused; a miss is not asked at all, the fallback
  decides and the decision says ``cache_miss``. A backtest in replay is free and deterministic.
- ``off``: neither read nor written.

The prompt hash covers the system text, the user text, the schema and its name (canonical JSON),
so any change of what the model would see is a different key. The first answer stored for a key
wins; a second writer of the same key keeps the first.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import Engine, Table, func, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mesdesk.errors import ConfigError, StoreError
from mesdesk.llm.client import LLMReply
from mesdesk.store.decisions import CachedAnswer

log = logging.getLogger(__name__)

CacheMode = Literal["record", "replay", "off"]
CACHE_MODES: tuple[str, ...] = get_args(CacheMode)


@dataclass(frozen=True, slots=True)
class CacheKey:
    provider: str
    model: str
    prompt_sha256: str


def prompt_key(
    provider: str, model: str, system: str, user: str, schema: Mapping[str, Any], schema_name: str
) -> CacheKey:
    """The cache key of one prompt: sha256 over the canonical JSON of what is sent."""
    canonical = json.dumps(
        {"system": system, "user": user, "schema": schema, "schema_name": schema_name},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return CacheKey(provider, model, hashlib.sha256(canonical.encode("utf-8")).hexdigest())


def parse_cache_mode(value: str) -> CacheMode:
    if value not in CACHE_MODES:
        raise ConfigError(f"cache mode {value!r}: expected one of {', '.join(CACHE_MODES)}")
    return value  # type: ignore[return-value]


def _table() -> Table:
    table = CachedAnswer.__table__
    assert isinstance(table, Table)
    return table


class DecisionCache:
    """Answers by prompt in the store (`decision_cache`); `mode` says whether to read, write, or send."""

    def __init__(self, engine: Engine | None, mode: CacheMode = "record") -> None:
        parse_cache_mode(mode)
        if engine is None and mode != "off":
            raise ConfigError(f"cache mode {mode!r} needs a store")
        self._engine = engine
        self.mode: CacheMode = mode

    @property
    def reads(self) -> bool:
        return self.mode in ("record", "replay")

    @property
    def writes(self) -> bool:
        return self.mode == "record"

    @property
    def may_send(self) -> bool:
        """False in replay: a miss must not reach the provider."""
        return self.mode != "replay"

    def get(self, key: CacheKey) -> LLMReply | None:
        """The stored answer with the usage it had when bought (cost is not spent again)."""
        if not self.reads or self._engine is None:
            return None
        table = _table()
        query = select(table).where(
            table.c.provider == key.provider, table.c.model == key.model, table.c.prompt_sha256 == key.prompt_sha256
        )
        try:
            with self._engine.connect() as conn:
                row = conn.execute(query).first()
        except SQLAlchemyError as exc:  # a cache that cannot be read is a miss, said in the log
            log.warning("decision cache unreadable, treated as a miss: %s", exc)
            return None
        if row is None:
            return None
        try:
            data = json.loads(row.answer_json)
        except json.JSONDecodeError as exc:
            raise StoreError(f"decision_cache row {key.prompt_sha256[:12]} holds invalid JSON: {exc}") from exc
        return LLMReply(
            data=data,
            input_tokens=int(row.input_tokens),
            output_tokens=int(row.output_tokens),
            cost_usd=float(row.cost_usd),
            latency_ms=0.0,
            model=key.model,
            provider=key.provider,
            attempts=0,
        )

    def put(self, key: CacheKey, schema_name: str, reply: LLMReply) -> None:
        """Store a bought answer (record mode only); an existing answer for the key is kept."""
        if not self.writes or self._engine is None:
            return
        row = {
            "provider": key.provider,
            "model": key.model,
            "prompt_sha256": key.prompt_sha256,
            "schema_name": schema_name,
            "answer_json": json.dumps(reply.data, sort_keys=True),
            "input_tokens": reply.input_tokens,
            "output_tokens": reply.output_tokens,
            "cost_usd": reply.cost_usd,
            "created_at": datetime.now(UTC),
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(_table()).values(**row))
        except IntegrityError:
            return  # the first answer stored for this prompt wins
        except SQLAlchemyError as exc:
            log.warning("decision cache unwritable, answer not stored: %s", exc)

    def count(self) -> int:
        if self._engine is None:
            return 0
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(_table())).scalar_one())
