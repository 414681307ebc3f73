"""Fixtures of the decisions tests: a migrated store (SQLite file; PostgreSQL when configured)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from mesdesk.store.base import make_engine, migrate


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'store.sqlite').as_posix()}"


@pytest.fixture(name="store_url")
def fixture_store_url(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path)
    migrate(make_engine(url))
    return url


@pytest.fixture(name="store")
def fixture_store(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture(name="pg_url")
def fixture_pg_url() -> Iterator[str]:
    """A private schema in MESDESK_TEST_DATABASE_URL, dropped afterwards (skips when unset)."""
    base = os.environ.get("MESDESK_TEST_DATABASE_URL")
    if not base:
        pytest.skip("MESDESK_TEST_DATABASE_URL not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    migrate(make_engine(url))
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
