"""What a worker remembers of its tenants' configuration, while their version stands.

Every step needs its tenant's connection row and secrets; reading them on
every step costs two or three round trips. A worker process keeps them here
instead, per tenant, tagged with the tenant's configuration version (the
newest ``tenant_config_changes`` row, kept by database triggers on every
write to connections and secrets: ``store.config_versions``). The claim that
starts a step reads the version in the same statement, and the step's
:class:`TenantView` is valid for exactly that version: anything remembered
under another is dropped, so a disconnect, a new URL or a rotated token is
seen by the next step on every worker, without a query of its own.

Secrets are kept as stored (encrypted) and decrypted on each use; the
plain value lives only as long as the step that uses it. A step's own
secret writes drop what it remembered of that secret.

Bounded: the least recently used tenants are forgotten beyond ``max_tenants``.
Thread-safe (a threads pool shares one cache; a prefork child has its own).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import SecretStr

from store.secrets import DatabaseSecretStore

T = TypeVar("T")
_MISSING = object()


@dataclass
class _Entry:
    version: Any
    values: dict[Hashable, Any] = field(default_factory=dict)


class TenantConfigCache:
    """Per worker process: each tenant's remembered values and the version they hold for."""

    def __init__(self, max_tenants: int = 1024) -> None:
        self.max_tenants = max_tenants
        self._lock = threading.Lock()
        self._tenants: OrderedDict[str, _Entry] = OrderedDict()

    def view(self, tenant: str, version: Any) -> TenantView:
        """``tenant``'s values as of ``version`` (what its claim read); others are dropped."""
        with self._lock:
            entry = self._tenants.get(tenant)
            if entry is None or entry.version != version:
                entry = _Entry(version)
                self._tenants[tenant] = entry
            self._tenants.move_to_end(tenant)
            while len(self._tenants) > self.max_tenants:
                self._tenants.popitem(last=False)
        return TenantView(tenant, entry, self._lock)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tenants)


class TenantView:
    """One step's window on its tenant's remembered values (one version)."""

    def __init__(self, tenant: str, entry: _Entry, lock: threading.Lock) -> None:
        self.tenant = tenant
        self._entry = entry
        self._lock = lock

    @property
    def version(self) -> Any:
        return self._entry.version

    def remember(self, key: Hashable, load: Callable[[], T]) -> T:
        """The value remembered under ``key``, else ``load()`` (remembered from now on)."""
        with self._lock:
            found = self._entry.values.get(key, _MISSING)
        if found is not _MISSING:
            value: T = found
            return value
        loaded = load()
        with self._lock:
            self._entry.values[key] = loaded
        return loaded

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entry.values.pop(key, None)

    def secret(self, database: DatabaseSecretStore, name: str) -> SecretStr | None:
        """The tenant's stored secret ``name``: remembered encrypted, decrypted here."""
        blob = self.remember(("secret", name), lambda: database.ciphertext(self.tenant, name))
        return None if blob is None else database.decrypt(self.tenant, name, blob)

    def forget_secret(self, name: str) -> None:
        self.forget(("secret", name))
