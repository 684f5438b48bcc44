"""What every route of the API works with: one executor (its settings, store, catalog).

``create_app`` (``api.app``) builds one :class:`ApiContext` and hands it to
each router factory; routes never build their own stores or catalogs, and
never read global settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from catalog.registration import Catalog
    from executor.api import Executor
    from executor.settings import Settings
    from store import Store


@dataclass(frozen=True)
class ApiContext:
    """The executor the API enqueues on and reads the ledger of."""

    executor: Executor
    max_body_bytes: int = 256 * 1024
    """The largest request body any route accepts (413 beyond it, before parsing)."""

    @property
    def settings(self) -> Settings:
        return self.executor.runtime.settings

    @property
    def store(self) -> Store:
        return self.executor.runtime.store

    @property
    def catalog(self) -> Catalog:
        return self.executor.runtime.catalog
