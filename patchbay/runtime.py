"""Wiring for the front door: settings -> store (migrated) + catalog."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from catalog.bootstrap import build_catalog
from catalog.registration import Catalog
from executor.settings import Settings
from store import SchemaOutOfDate, Store

__all__ = ["Runtime", "SchemaOutOfDate", "open_runtime"]


@dataclass
class Runtime:
    settings: Settings
    store: Store
    catalog: Catalog


@contextmanager
def open_runtime(settings: Settings | None = None, *, migrate: bool = True) -> Iterator[Runtime]:
    """A store and catalog for one CLI command; connections are released after."""
    settings = settings or Settings()
    store = Store.from_settings(settings)
    try:
        if migrate:
            store.ensure_schema(settings)
        yield Runtime(settings=settings, store=store, catalog=build_catalog())
    finally:
        store.close()
