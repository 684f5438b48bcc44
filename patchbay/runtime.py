"""Wiring for the front door: settings -> store (migrated) + catalog."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from catalog.bootstrap import build_catalog
from catalog.registration import Catalog
from store import Store, db
from store.settings import Settings


class SchemaOutOfDate(Exception):
    """The configured database is not at the schema this code needs."""


@dataclass
class Runtime:
    settings: Settings
    store: Store
    catalog: Catalog


def ensure_schema(settings: Settings, store: Store) -> None:
    """Migrate the embedded SQLite database on first use; demand it elsewhere.

    A database the operator configured is never migrated behind their back.
    """
    if db.current_revision(store.engine) == db.head_revision():
        return
    if settings.database_url is None:
        store.upgrade()
        return
    raise SchemaOutOfDate("the database schema is not up to date: run `patchbay db upgrade` first")


@contextmanager
def open_runtime(settings: Settings | None = None, *, migrate: bool = True) -> Iterator[Runtime]:
    """A store and catalog for one CLI command; connections are released after."""
    settings = settings or Settings()
    store = Store.from_settings(settings)
    try:
        if migrate:
            ensure_schema(settings, store)
        yield Runtime(settings=settings, store=store, catalog=build_catalog())
    finally:
        store.close()
