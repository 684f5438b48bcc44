"""The catalog: actions, integration modules, availability, and the designer's views."""

from catalog.actions import ActionRegistry
from catalog.availability import (
    AvailabilityRegistry,
    rmm_integration_availability,
    teams_integration_availability,
)
from catalog.errors import CatalogError, RegistrationConflict, RegistrationError, UnknownActionError
from catalog.modules import IntegrationModule, ModuleRegistry
from catalog.registration import Catalog, register_integration_module

__all__ = [
    "ActionRegistry",
    "AvailabilityRegistry",
    "Catalog",
    "CatalogError",
    "IntegrationModule",
    "ModuleRegistry",
    "RegistrationConflict",
    "RegistrationError",
    "UnknownActionError",
    "register_integration_module",
    "rmm_integration_availability",
    "teams_integration_availability",
]
