"""The catalog container and one-call integration module registration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from catalog.actions import ActionRegistry
from catalog.availability import AvailabilityRegistry, AvailabilityResolver
from catalog.errors import RegistrationConflict, RegistrationError
from catalog.modules import IntegrationModule, ModuleRegistry, validate_module
from catalog.vendors import Vendor, VendorRegistry


@dataclass(frozen=True)
class Subscription:
    """Run ``action_id`` for every domain event of ``event_type`` (from the outbox).

    ``build_input`` turns the event payload into the action's input; the
    executor keys the step by the event id, so a redelivered event runs once.
    """

    event_type: str
    action_id: str
    build_input: Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Catalog:
    """Every registered vendor, action, module and availability resolver.

    Built explicitly (``catalog.bootstrap.build_catalog``), never as a side
    effect of importing a module.
    """

    vendors: VendorRegistry = field(default_factory=VendorRegistry)
    actions: ActionRegistry = field(default_factory=ActionRegistry)
    modules: ModuleRegistry = field(default_factory=ModuleRegistry)
    availability: AvailabilityRegistry = field(default_factory=AvailabilityRegistry)
    subscriptions: dict[str, list[Subscription]] = field(default_factory=dict)
    # Derived views (e.g. the designer's static records), keyed by their user.
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


RegisterActions = Callable[[ActionRegistry], None]


def register_vendor(catalog: Catalog, vendor: Vendor) -> None:
    """Declare a vendor's facts (``catalog.vendors``); the same declaration again is a no-op."""
    catalog.vendors.register(vendor)


def subscribe(catalog: Catalog, subscription: Subscription) -> None:
    """Add an event subscription; its action must be registered already."""
    if not catalog.actions.has_id(subscription.action_id):
        raise RegistrationError(
            f"subscription to {subscription.event_type} names unregistered action "
            f"{subscription.action_id!r}"
        )
    existing = catalog.subscriptions.setdefault(subscription.event_type, [])
    if subscription not in existing:
        existing.append(subscription)


def register_integration_module(
    catalog: Catalog,
    *,
    module: IntegrationModule,
    availability: AvailabilityResolver,
    register_actions: RegisterActions,
) -> None:
    """Register an integration's actions, its tile and its availability resolver.

    All or nothing: every check runs before anything is added. Calling it again
    with the same definition is a no-op; a different definition under a taken
    group key, availability key or action id@version is a RegistrationConflict;
    an allowed action id that no registered action has is a RegistrationError.
    """
    validate_module(module)

    # Collect the module's actions in a scratch registry so they can be
    # compared with what is already registered before touching the catalog.
    scratch = ActionRegistry()
    register_actions(scratch)

    new_specs = []
    for spec in scratch.list():
        existing = catalog.actions.find(spec.id, spec.version)
        if existing is None:
            new_specs.append(spec)
        elif existing != spec:
            raise RegistrationConflict(
                f"action {spec.key} is already registered with a different definition"
            )

    for action_id in module.allowed_action_ids:
        if not (scratch.has_id(action_id) or catalog.actions.has_id(action_id)):
            raise RegistrationError(
                f"module {module.group_key!r} allows action {action_id!r}, which is not registered"
            )

    existing_module = catalog.modules.get(module.group_key)
    if existing_module is not None and existing_module != module:
        raise RegistrationConflict(
            f"module {module.group_key!r} is already registered with a different definition"
        )
    existing_resolver = catalog.availability.get(module.availability_key)
    if existing_resolver is not None and existing_resolver != availability:
        raise RegistrationConflict(
            f"availability key {module.availability_key!r} already has a different resolver"
        )

    for spec in new_specs:
        catalog.actions.register(spec)
    catalog.modules.register(module)
    catalog.availability.register(module.availability_key, availability)
