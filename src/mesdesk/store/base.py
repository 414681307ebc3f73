"""Engine, declarative base and migrations of the store.

Every table is declared on `Base` in the module of the area that owns it (budget, journal,
learning, runner...). Each area adds its own Alembic revision under `migrations/versions/` whose
`down_revision` is "0001_base"; `migrate()` upgrades to all heads. Nothing is created at import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from mesdesk.config import mask_password
from mesdesk.errors import StoreError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class Base(DeclarativeBase):
    """Declarative base of every mesdesk table."""


SUPPORTED = "sqlite:///path/to/file.sqlite or postgresql://user@host:5432/db"


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and foreign keys (safe under threads).

    StoreError (one line, password masked) for a URL that is not SQLite or PostgreSQL, cannot be
    parsed, or names a SQLite file in a directory that does not exist (never created here: a typo
    must not become a new, empty database).
    """
    shown = mask_password(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"database URL {shown!r} cannot be parsed: expected {SUPPORTED}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, parsed.database)
    if backend not in ("postgresql", "postgres"):
        raise StoreError(f"database URL {shown!r}: {backend!r} is not supported; use {SUPPORTED}")
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:  # a driver that is not installed, a bad option
        raise StoreError(f"database URL {shown!r}: {one_line(exc)}") from None


def _sqlite_engine(url: str, path: str | None) -> Engine:
    on_disk = bool(path) and path != ":memory:" and not str(path).startswith("file:")
    if on_disk:
        parent = Path(str(path)).parent
        if not parent.is_dir():
            raise StoreError(f"SQLite database {path}: directory {parent} does not exist (create it first)")
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    identity = _FileIdentity(Path(str(path))) if on_disk else None

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        if identity is not None:
            identity.check()

    if identity is not None:

        @event.listens_for(engine, "do_connect")
        def _before_open(_dialect, _record, _cargs, _cparams):  # type: ignore[no-untyped-def]
            identity.check()  # before sqlite3 opens (and would create) the file

        @event.listens_for(engine, "checkout")
        def _same_file(_dbapi_conn, _record, _proxy):  # type: ignore[no-untyped-def]
            identity.check()

    return engine


class _FileIdentity:
    """The (device, inode) a SQLite engine first opened: a file deleted or replaced under a running
    service is refused (StoreError) instead of silently written to (the unlinked file, whose rows
    vanish) or recreated empty."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._known: tuple[int, int] | None = None

    def check(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            if self._known is None:
                return  # not created yet: the first connection creates it
            raise StoreError(
                f"SQLite database {self.path} was deleted while in use: writes paused "
                "(restore the file, or restart to start a new, empty store)"
            ) from None
        now = (st.st_dev, st.st_ino)
        if self._known is None:
            self._known = now
        elif now != self._known:
            raise StoreError(f"SQLite database {self.path} was replaced by another file while in use: writes paused")


def one_line(exc: BaseException) -> str:
    """The first line of a driver's message, passwords masked (SQLAlchemy appends SQL and a link)."""
    inner = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(inner).splitlines() if ln.strip()]
    return mask_password(lines[0] if lines else type(inner).__name__)[:300]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision of every area (alembic upgrade heads)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
    except Exception as exc:  # alembic raises many kinds; name the database
        where = engine.url.render_as_string(hide_password=True)
        raise StoreError(f"migrating {where} failed: {one_line(exc)}") from exc


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()
