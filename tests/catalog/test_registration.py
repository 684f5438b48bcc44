"""register_integration_module: idempotent, conflicts rejected, all or nothing."""

from __future__ import annotations

import dataclasses

import pytest

from catalog.actions import ActionRegistry
from catalog.availability import rmm_integration_availability
from catalog.errors import RegistrationConflict, RegistrationError
from catalog.registration import Catalog, register_integration_module
from tests.catalog.testmodules import (
    echo_spec,
    make_module,
    register_test_actions,
    register_test_integration,
)


def _sizes(catalog: Catalog) -> tuple[int, int, bool]:
    return (
        len(catalog.actions),
        len(catalog.modules),
        catalog.availability.has("rmm:ninjaone"),
    )


def test_registering_the_same_definition_twice_duplicates_nothing() -> None:
    catalog = Catalog()
    register_test_integration(catalog, "ninjaone")
    register_test_integration(catalog, "ninjaone")
    assert _sizes(catalog) == (2, 1, True)
    assert [m.group_key for m in catalog.modules.list()] == ["app:ninjaone"]


def test_a_different_module_under_a_taken_group_key_is_rejected() -> None:
    catalog = Catalog()
    register_test_integration(catalog, "ninjaone")
    changed = dataclasses.replace(make_module("ninjaone"), label="Ninja Two")
    with pytest.raises(RegistrationConflict, match="app:ninjaone"):
        register_integration_module(
            catalog,
            module=changed,
            availability=rmm_integration_availability("ninjaone"),
            register_actions=register_test_actions("ninjaone"),
        )
    assert catalog.modules.get("app:ninjaone") == make_module("ninjaone")


def test_a_different_resolver_under_a_taken_availability_key_is_rejected() -> None:
    catalog = Catalog()
    register_test_integration(catalog, "ninjaone")
    with pytest.raises(RegistrationConflict, match="rmm:ninjaone"):
        register_integration_module(
            catalog,
            module=make_module("ninjaone"),
            availability=rmm_integration_availability("tacticalrmm"),
            register_actions=register_test_actions("ninjaone"),
        )


def test_a_different_action_under_a_taken_id_is_rejected_and_nothing_is_added() -> None:
    catalog = Catalog()
    catalog.actions.register(echo_spec("tacticalrmm.test.echo", label="Something else"))

    with pytest.raises(RegistrationConflict, match=r"tacticalrmm.test.echo@1"):
        register_test_integration(catalog, "tacticalrmm")
    # All or nothing: neither the other action nor the tile nor the resolver landed.
    assert len(catalog.actions) == 1
    assert catalog.modules.get("app:tacticalrmm") is None
    assert not catalog.availability.has("rmm:tacticalrmm")


def test_an_allowed_action_that_is_not_registered_is_an_error() -> None:
    def only_echo(actions: ActionRegistry) -> None:
        actions.register(echo_spec("ninjaone.test.echo"))

    catalog = Catalog()
    with pytest.raises(RegistrationError, match=r"ninjaone.test.ping.*not registered"):
        register_integration_module(
            catalog,
            module=make_module("ninjaone"),
            availability=rmm_integration_availability("ninjaone"),
            register_actions=only_echo,
        )
    assert _sizes(catalog) == (0, 0, False)


def test_a_module_without_availability_key_is_an_error() -> None:
    module = dataclasses.replace(make_module("ninjaone"), availability_key=" ")
    with pytest.raises(RegistrationError, match="availability_key is required"):
        register_integration_module(
            Catalog(),
            module=module,
            availability=rmm_integration_availability("ninjaone"),
            register_actions=register_test_actions("ninjaone"),
        )


def test_default_action_must_be_allowed() -> None:
    module = dataclasses.replace(make_module("ninjaone"), default_action_id="ninjaone.other")
    with pytest.raises(RegistrationError, match="default_action_id"):
        register_integration_module(
            Catalog(),
            module=module,
            availability=rmm_integration_availability("ninjaone"),
            register_actions=register_test_actions("ninjaone"),
        )
