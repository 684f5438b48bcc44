"""Connecting and disconnecting integrations writes what the resolvers read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from store import Store
from store import connections as conn
from store.models import RmmIntegration, TenantAddon
from store.tenants import TenantError, create_tenant, list_tenants, require_tenant
from store.types import utcnow

# What the vendors' packages declare (``catalog.vendors``), as the CLI passes it.
KINDS: list[tuple[str, conn.ConnectionKind]] = [
    ("ninjaone", "rmm"),
    ("tacticalrmm", "rmm"),
    ("levelio", "rmm"),
    ("huntress", "rmm"),
    ("teams", "teams"),
]


def _connected(store: Store, tenant: str) -> set[str]:
    with store.sessions() as session:
        return {s.provider for s in conn.connection_states(session, tenant, KINDS) if s.connected}


def test_connect_and_disconnect_an_rmm_provider(store: Store) -> None:
    with store.sessions.begin() as session:
        create_tenant(session, "acme")
        conn.connect(session, "acme", "ninjaone", instance_url="https://eu.ninjarmm.com")
    assert _connected(store, "acme") == {"ninjaone"}
    with store.sessions.begin() as session:
        conn.connect(session, "acme", "ninjaone", instance_url=None)  # idempotent
        count = session.scalar(select(func.count()).select_from(RmmIntegration))
        url = session.scalar(select(RmmIntegration.instance_url))
    assert count == 1
    assert url == "https://eu.ninjarmm.com"
    with store.sessions.begin() as session:
        assert conn.disconnect(session, "acme", "ninjaone") is True
        assert conn.disconnect(session, "acme", "ninjaone") is False
    assert _connected(store, "acme") == set()


def test_connect_teams_needs_addon_and_active_install(store: Store) -> None:
    with store.sessions.begin() as session:
        create_tenant(session, "acme")
        conn.connect(session, "acme", "teams", instance_url=None, kind="teams")
    assert _connected(store, "acme") == {"teams"}
    with store.sessions.begin() as session:
        addon = session.get(TenantAddon, ("acme", "teams"))
        assert addon is not None
        addon.expires_at = utcnow() - timedelta(days=1)
    assert _connected(store, "acme") == set()
    with store.sessions.begin() as session:
        conn.connect(session, "acme", "teams", instance_url=None, kind="teams")
        assert conn.disconnect(session, "acme", "teams", kind="teams") is True
    assert _connected(store, "acme") == set()


def test_an_unknown_tenant_is_refused(store: Store) -> None:
    # An unknown *provider* is the CLI's to refuse: the store keeps no list of
    # vendors (each declares itself in the catalog), see tests/cli/test_cli.py.
    with store.sessions() as session, pytest.raises(TenantError, match="unknown tenant"):
        require_tenant(session, "nobody")


def test_tenant_ids_are_validated_and_unique(store: Store) -> None:
    with store.sessions.begin() as session:
        create_tenant(session, "acme", "Acme MSP")
    with store.sessions.begin() as session, pytest.raises(TenantError, match="already exists"):
        create_tenant(session, "acme")
    with store.sessions.begin() as session, pytest.raises(TenantError, match="invalid tenant id"):
        create_tenant(session, "bad id!")
    with store.sessions() as session:
        assert [(t.tenant, t.name) for t in list_tenants(session)] == [("acme", "Acme MSP")]


def test_a_url_carrying_a_password_never_lands_in_a_row(store: Store) -> None:
    with store.sessions.begin() as session:
        create_tenant(session, "acme")
    for url in ("https://admin:hunter2@eu.ninjarmm.com", "admin:hunter2@eu.ninjarmm.com"):
        with (
            pytest.raises(conn.IntegrationConnectionError, match="user name or password"),
            store.sessions.begin() as session,
        ):
            conn.connect(session, "acme", "ninjaone", instance_url=url)
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RmmIntegration)) == 0
