"""Errors raised while building or querying the catalog.

CatalogError
├── RegistrationError          a definition is malformed (checked eagerly)
│   └── RegistrationConflict   a different definition under a taken key
└── UnknownActionError         no action with that id (and version)
"""

from __future__ import annotations


class CatalogError(Exception):
    """Base of every catalog error."""


class RegistrationError(CatalogError):
    """An action, module or resolver definition is malformed or incomplete."""


class RegistrationConflict(RegistrationError):
    """A different definition was registered under a key that is already taken."""


class UnknownActionError(CatalogError):
    """No action is registered under the requested id (and version)."""

    def __init__(self, action_id: str, version: int | None = None) -> None:
        self.action_id = action_id
        self.version = version
        label = action_id if version is None else f"{action_id}@{version}"
        super().__init__(f"Unknown action {label}")
