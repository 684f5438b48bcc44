"""Updates (patches) per device.

- ``GET /v2/updates`` -> cursor list; filters ``device_id`` and
  ``status=available|installed`` (anything else -> 400 ``status must be one
  of: available, installed`` *(choice)*).
- Fields: ``id, device_id, device_hostname, name, category, is_available,
  installed_on`` *(choice: the reference reads these names, vendors.md §2
  "Update"; Level's own schema was not available)*. ``available`` means
  ``is_available`` true; ``installed`` means ``installed_on`` set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.core import SandboxRequest, route
from sandbox.levelio.alerts import Alerts
from sandbox.levelio.api import error

__all__ = ["Update", "Updates"]

_STATUSES = ("available", "installed")


@dataclass
class Update:
    """An update a device has available, or installed (``installed_on``, fake clock)."""

    id: str
    device_id: str
    name: str
    category: str
    installed_on: float | None = None

    @property
    def is_available(self) -> bool:
        return self.installed_on is None


class Updates(Alerts):
    """Devices' updates."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._updates: dict[str, Update] = {}

    def add_update(
        self,
        device_id: str,
        name: str,
        *,
        category: str = "Security",
        installed_ago: float | None = None,
    ) -> Update:
        """An update for ``device_id``: available, or installed ``installed_ago`` seconds ago."""
        with self._lock:
            if device_id not in self._devices:
                raise KeyError(f"no device {device_id}")
            installed = None if installed_ago is None else self.now() - installed_ago
            update = Update(self._new_id("upd"), device_id, name, category, installed)
            self._updates[update.id] = update
            return update

    def update_view(self, update: Update) -> dict[str, Any]:
        """An update as the API shows it."""
        return {
            "id": update.id,
            "device_id": update.device_id,
            "device_hostname": self._hostname(update.device_id),
            "name": update.name,
            "category": update.category,
            "is_available": update.is_available,
            "installed_on": self.iso_at(update.installed_on),
        }

    @route("GET", "/v2/updates")
    def list_updates(self, req: SandboxRequest) -> httpx.Response:
        """Updates, filtered by ``device_id`` and ``status``."""
        updates = list(self._updates.values())
        device_id = req.arg("device_id")
        if device_id:
            updates = [u for u in updates if u.device_id == device_id]
        status = req.arg("status")
        if status:
            if status not in _STATUSES:
                return error(400, f"status must be one of: {', '.join(_STATUSES)}")
            updates = [u for u in updates if u.is_available == (status == "available")]
        return self.cursor_page(req, updates, self.update_view)
