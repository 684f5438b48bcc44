"""Shared fixtures: a migrated store on SQLite and on PostgreSQL.

PostgreSQL is the real server at ``PATCHBAY_TEST_POSTGRES_URL`` (default: the
local ``test`` database). Each test run gets its own schema, migrated once;
each test starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from executor.settings import Settings
from store import Store, db
from store.models import Base
from tests.capture import CaptureServer, serve_capture

# The tests' fake vendors listen on loopback: sandbox mode is on for the whole
# run (and the worker processes it starts). Tests of the outbound URL policy
# itself turn it off explicitly.
os.environ["PATCHBAY_SANDBOX"] = "1"

POSTGRES_URL = os.environ.get(
    "PATCHBAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgres")


def postgres_schema_url(schema: str) -> str:
    """The test server's URL with ``search_path`` set to ``schema``."""
    url = make_url(POSTGRES_URL)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A fresh schema on the test server, migrated to head, dropped at the end."""
    admin = create_engine(POSTGRES_URL)
    schema = f"pbtest_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not usable: {type(exc).__name__}: {exc}")
    engine = db.make_engine(postgres_schema_url(schema))
    db.upgrade(engine)
    engine.dispose()
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the test runs on (every store test runs on both)."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of the requested backend."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "patchbay.sqlite"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    schema: str = request.getfixturevalue("postgres_schema")
    url = postgres_schema_url(schema)
    engine = create_engine(url)
    _truncate_all(engine)
    try:
        yield url
    finally:
        _truncate_all(engine)
        engine.dispose()


CANARY_KEY = "test-only-encryption-key-0123456789"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own data dir and database, a fixed test key."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=SecretStr(CANARY_KEY),
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A store on the test database."""
    s = Store.from_settings(settings)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    """A loopback TCP listener recording every connection (it must see none when refused)."""
    with serve_capture() as server:
        yield server
