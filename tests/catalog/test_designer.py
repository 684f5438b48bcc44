"""Designer catalog, palette gating, step status and schema export."""

from __future__ import annotations

import pytest

from catalog.designer import action_json_schemas, designer_catalog, palette, step_status
from catalog.errors import UnknownActionError
from catalog.registration import Catalog
from store import Store
from store import connections as conn
from store.tenants import create_tenant
from tests.catalog.test_availability import count_statements
from tests.catalog.testmodules import (
    TEST_PROVIDERS,
    catalog_with,
    echo_spec,
    register_test_integration,
)

ALL = tuple(TEST_PROVIDERS)


@pytest.fixture
def acme(store: Store) -> Store:
    with store.sessions.begin() as session:
        create_tenant(session, "acme")
        create_tenant(session, "globex")
    return store


def _set(
    store: Store, tenant: str, *, connect: tuple[str, ...] = (), disconnect: tuple[str, ...] = ()
) -> None:
    with store.sessions.begin() as session:
        for provider in connect:
            conn.connect(session, tenant, provider, instance_url=None, kind=_kind(provider))
        for provider in disconnect:
            conn.disconnect(session, tenant, provider, kind=_kind(provider))


def _kind(provider: str) -> conn.ConnectionKind:
    return "teams" if provider == "teams" else "rmm"


def _palette_keys(store: Store, catalog: Catalog, tenant: str) -> list[str]:
    with store.sessions() as session:
        return [r.group_key for r in palette(catalog, session, tenant)]


def test_gating_matrix_shows_exactly_the_connected_tiles(acme: Store) -> None:
    catalog = catalog_with(*ALL)
    _set(acme, "acme", connect=("ninjaone", "teams"))
    _set(acme, "globex", connect=("tacticalrmm", "huntress"))

    # App tiles are ordered by label: "Microsoft Teams" before "NinjaOne".
    assert _palette_keys(acme, catalog, "acme") == ["app:teams", "app:ninjaone"]
    assert _palette_keys(acme, catalog, "globex") == ["app:huntress", "app:tacticalrmm"]

    # Connect and disconnect flip exactly the tile concerned.
    _set(acme, "acme", connect=("huntress",), disconnect=("teams",))
    assert _palette_keys(acme, catalog, "acme") == ["app:huntress", "app:ninjaone"]
    _set(acme, "acme", disconnect=("ninjaone", "huntress"))
    assert _palette_keys(acme, catalog, "acme") == []
    assert _palette_keys(acme, catalog, "globex") == ["app:huntress", "app:tacticalrmm"]


def test_catalog_keeps_disconnected_tiles_flagged_unavailable(acme: Store) -> None:
    catalog = catalog_with(*ALL)
    catalog.actions.register(echo_spec("scheduling.create_entry", label="Create schedule entry"))
    _set(acme, "acme", connect=("tacticalrmm",))
    with acme.sessions() as session:
        records = designer_catalog(catalog, session, "acme")
    by_key = {r.group_key: r for r in records}
    # Core groups first (fixed order), then app tiles by label.
    assert [r.group_key for r in records] == [
        "scheduling",
        "app:huntress",
        "app:teams",
        "app:ninjaone",
        "app:tacticalrmm",
    ]
    assert [r.label for r in records[1:]] == [
        "Huntress",
        "Microsoft Teams",
        "NinjaOne",
        "Tactical RMM",
    ]
    assert by_key["scheduling"].available is None
    assert "available" not in by_key["scheduling"].to_json()
    assert by_key["app:tacticalrmm"].available is True
    assert by_key["app:ninjaone"].available is False
    assert by_key["app:ninjaone"].to_json()["available"] is False
    ninja = by_key["app:ninjaone"]
    assert ninja.icon_token == "ninjaone"
    assert ninja.default_action_id == "ninjaone.test.echo"
    assert [a.label for a in ninja.actions] == ["Echo", "Ping"]
    assert ninja.actions[0].input_field_names == ["device_id", "note"]
    assert ninja.actions[0].output_field_names == ["device_id", "echoed"]


def test_actions_outside_any_module_get_a_provider_tile(acme: Store) -> None:
    catalog = Catalog()
    catalog.actions.register(echo_spec("zeta_vendor.things.echo"))
    with acme.sessions() as session:
        records = designer_catalog(catalog, session, "acme")
    assert [(r.group_key, r.label, r.available) for r in records] == [
        ("app:zeta_vendor", "Zeta Vendor", None)
    ]


def test_disconnected_step_status(acme: Store) -> None:
    catalog = catalog_with(*ALL)
    with acme.sessions() as session:
        status = step_status(catalog, session, "acme", action_id="ninjaone.test.ping")
    assert status.available is False
    assert status.group_key == "app:ninjaone"
    assert status.banner == "NinjaOne is not connected"
    assert status.badge == "Disconnected"
    assert status.tooltip == (
        "NinjaOne is not connected; this step will fail at run time until it is reconnected."
    )
    assert status.message is not None and "patchbay connect ninjaone" in status.message

    _set(acme, "acme", connect=("ninjaone",))
    with acme.sessions() as session:
        status = step_status(
            catalog, session, "acme", action_id="ninjaone.test.ping", group_key="app:ninjaone"
        )
    assert status.available is True
    assert (status.banner, status.badge, status.tooltip) == (None, None, None)

    with acme.sessions() as session, pytest.raises(UnknownActionError):
        step_status(catalog, session, "acme", action_id="nobody.has.this")


def test_schemas_come_from_the_unfiltered_registry() -> None:
    catalog = catalog_with("ninjaone")
    catalog.actions.register(echo_spec("ninjaone.test.echo", version=2))
    schemas = action_json_schemas(catalog)
    assert sorted(schemas) == [
        "ninjaone.test.echo@1",
        "ninjaone.test.echo@2",
        "ninjaone.test.ping@1",
    ]
    one = action_json_schemas(catalog, "ninjaone.test.ping")
    assert list(one) == ["ninjaone.test.ping@1"]
    assert one["ninjaone.test.ping@1"]["input"]["title"] == "ninjaone.test.ping@1.input"
    assert set(one["ninjaone.test.ping@1"]["input"]["required"]) == {"device_id"}
    with pytest.raises(UnknownActionError):
        action_json_schemas(catalog, "ninjaone.nope")


def test_palette_costs_at_most_two_statements_whatever_the_modules(acme: Store) -> None:
    catalog = Catalog()
    for provider in ALL:
        register_test_integration(catalog, provider)
    # A fifth module sharing the RMM factory (Level) adds no statement.
    from catalog.availability import rmm_integration_availability
    from catalog.modules import IntegrationModule
    from catalog.registration import register_integration_module

    register_integration_module(
        catalog,
        module=IntegrationModule(
            group_key="app:levelio",
            label="Level",
            description="Level test actions.",
            icon_token="levelio",
            default_action_id="levelio.test.echo",
            allowed_action_ids=("levelio.test.echo",),
            availability_key="rmm:levelio",
        ),
        availability=rmm_integration_availability("levelio"),
        register_actions=lambda actions: actions.register(echo_spec("levelio.test.echo")),
    )
    _set(acme, "acme", connect=("levelio", "teams"))
    with acme.sessions() as session, count_statements(acme.engine) as statements:
        keys = [r.group_key for r in palette(catalog, session, "acme")]
    assert keys == ["app:levelio", "app:teams"]
    assert len(statements) <= 2, statements
