"""Engines, sessions and schema migrations.

Alembic (and the dialects' upsert statements) are imported only where they
are used: every command opens an engine and checks the schema revision, and
importing Alembic for that cost 0.4 s. The check itself is two cheap reads
(``current_revision``, ``head_revision``).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, column, create_engine, event, inspect, select, table
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.dialects import postgresql, sqlite

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"

# URL schemes that name PostgreSQL without a driver. SQLAlchemy reads
# ``postgresql://`` as psycopg2 and does not know ``postgres://`` at all, but
# libpq, Heroku, Docker images and most tools hand out exactly these; patchbay
# ships one PostgreSQL driver, psycopg 3, so they mean ``postgresql+psycopg://``.
_DRIVERLESS_POSTGRES = frozenset({"postgres", "postgresql"})


class DatabaseUrlError(ValueError):
    """The database URL cannot be used: malformed, or a dialect/driver patchbay lacks."""


def parse_database_url(url: str) -> URL:
    """``url`` parsed, with a driverless PostgreSQL scheme meaning psycopg 3.

    Raises ``DatabaseUrlError`` (never quoting the URL, which may hold a password).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(
            "PATCHBAY_DATABASE_URL is not a database URL: use "
            "postgresql+psycopg://user@host/dbname or sqlite:///path/to/file"
        ) from None
    if parsed.drivername in _DRIVERLESS_POSTGRES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout.

    SQLite defaults are wrong for a multi-threaded worker: foreign keys are off
    and a second writer fails at once with "database is locked".
    """
    parsed = parse_database_url(url)
    try:
        return _make_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseUrlError(
            f"PATCHBAY_DATABASE_URL names {parsed.drivername}://, which patchbay cannot use "
            f"({type(exc).__name__}): use postgresql+psycopg://user@host/dbname "
            "or sqlite:///path/to/file"
        ) from None


def _make_engine(url: URL, **kwargs: Any) -> Engine:
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # No pre-ping: it doubles the round trips of every short transaction (the
    # executor's ledger makes several per step). Connections are recycled
    # instead, and a connection found dead is invalidated by SQLAlchemy and
    # the task is retried (see executor.app).
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(url, **kwargs)


def insert_for(bind: Engine | Connection) -> Callable[..., postgresql.Insert | sqlite.Insert]:
    """The ``insert`` of ``bind``'s dialect, whose statements have ``on_conflict_do_*``.

    The core ``insert`` has no upsert; PostgreSQL and SQLite each have their own
    (same methods, same ``index_elements=``/``set_=``/``where=`` arguments).
    """
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (results outlive the session)."""
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` (the same migrations on every backend)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the schema to ``revision`` (``base`` drops everything)."""
    from alembic import command

    command.downgrade(_alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at, or None when it was never migrated.

    Alembic's version table read directly (what ``MigrationContext`` does,
    without importing Alembic).
    """
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        revisions: list[str] = list(
            conn.scalars(select(column("version_num")).select_from(table(VERSION_TABLE)))
        )
    if len(revisions) > 1:
        raise RuntimeError(f"the database has several schema heads: {sorted(revisions)}")
    return revisions[0] if revisions else None


_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(.+)$", re.MULTILINE)


@functools.cache
def head_revision() -> str | None:
    """The newest migration shipped with this code.

    Read from the migration files' ``revision``/``down_revision`` lines (the
    one revision no other names as its parent) rather than by Alembic's
    ``ScriptDirectory``, which imports Alembic and runs every migration file;
    ``tests/store`` checks both agree. Anything unusual (no single head, a
    line that is not a literal) falls back to Alembic.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
            fields = dict(_REVISION_LINE.findall(path.read_text()))
            revisions.add(ast.literal_eval(fields["revision"]))
            down = ast.literal_eval(fields["down_revision"])
            parents.update(down if isinstance(down, tuple) else [down] if down else [])
    except (KeyError, ValueError, SyntaxError):
        return _alembic_head()
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else _alembic_head()


def _alembic_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(
        _alembic_config(create_engine("sqlite://"))
    ).get_current_head()
