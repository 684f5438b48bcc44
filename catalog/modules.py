"""Integration modules: the app tiles of the designer palette."""

from __future__ import annotations

import re
from dataclasses import dataclass

from catalog.errors import RegistrationConflict, RegistrationError

GROUP_KEY_PATTERN = re.compile(r"^app:[a-z][a-z0-9_.-]*$")


@dataclass(frozen=True)
class IntegrationModule:
    """One app tile: which actions it offers and which availability key gates it.

    The vendor behind it (connection, secrets, rate limit, hosts) is declared
    separately (``catalog.vendors``), under the tile's ``provider``.
    """

    group_key: str
    label: str
    description: str
    icon_token: str
    default_action_id: str
    allowed_action_ids: tuple[str, ...]
    availability_key: str
    tile_kind: str = "app"

    @property
    def provider(self) -> str:
        """``ninjaone`` for ``app:ninjaone``."""
        return self.group_key.removeprefix("app:")


def validate_module(module: IntegrationModule) -> None:
    """Reject a malformed module definition."""
    where = f"module {module.group_key!r}"
    if not GROUP_KEY_PATTERN.match(module.group_key):
        raise RegistrationError(f"{where}: group_key must look like 'app:<provider>'")
    if not module.availability_key.strip():
        raise RegistrationError(f"{where}: availability_key is required")
    if not module.label.strip():
        raise RegistrationError(f"{where}: label must not be blank")
    if not module.allowed_action_ids:
        raise RegistrationError(f"{where}: allowed_action_ids must not be empty")
    if len(set(module.allowed_action_ids)) != len(module.allowed_action_ids):
        raise RegistrationError(f"{where}: allowed_action_ids has duplicates")
    if module.default_action_id not in module.allowed_action_ids:
        raise RegistrationError(
            f"{where}: default_action_id {module.default_action_id!r} is not an allowed action"
        )


class ModuleRegistry:
    """Modules by group key; listing is ordered by label."""

    def __init__(self) -> None:
        self._modules: dict[str, IntegrationModule] = {}
        self._by_action: dict[str, IntegrationModule] = {}

    def register(self, module: IntegrationModule) -> None:
        """Add ``module``; the same definition again is a no-op, a different one an error."""
        validate_module(module)
        existing = self._modules.get(module.group_key)
        if existing is not None:
            if existing == module:
                return
            raise RegistrationConflict(
                f"module {module.group_key!r} is already registered with a different definition"
            )
        self._modules[module.group_key] = module
        for action_id in module.allowed_action_ids:
            self._by_action[action_id] = module

    def of_action(self, action_id: str) -> IntegrationModule | None:
        """The module that offers ``action_id`` (None for core actions)."""
        return self._by_action.get(action_id)

    def get(self, group_key: str) -> IntegrationModule | None:
        return self._modules.get(group_key)

    def list(self) -> list[IntegrationModule]:
        return sorted(self._modules.values(), key=lambda m: (m.label.lower(), m.group_key))

    def __len__(self) -> int:
        return len(self._modules)
