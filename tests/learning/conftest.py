from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from mesdesk.store.base import make_engine, migrate


def _backends() -> list[str]:
    backends = ["sqlite"]
    if os.environ.get("MESDESK_TEST_DATABASE_URL"):
        backends.append("postgres")
    return backends


@pytest.fixture(name="store_engine", params=_backends())
def fixture_store_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated store on SQLite, and on PostgreSQL (own schema) when MESDESK_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
        migrate(engine)
        yield engine
        engine.dispose()
        return
    base_url = os.environ["MESDESK_TEST_DATABASE_URL"]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base_url else "?"
    engine = make_engine(f"{base_url}{sep}options=-csearch_path%3D{schema}")
    migrate(engine)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
