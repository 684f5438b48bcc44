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


def _connected(store: Store, tenant: str) -> set[str]:
    with store.sessions() as session:
        return {s.provider for s in conn.connection_states(session, tenant) if s.connected}


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
        conn.connect(session, "acme", "teams", instance_url=None)
    assert _connected(store, "acme") == {"teams"}
    with store.sessions.begin() as session:
        addon = session.get(TenantAddon, ("acme", "teams"))
        assert addon is not None
        addon.expires_at = utcnow() - timedelta(days=1)
    assert _connected(store, "acme") == set()
    with store.sessions.begin() as session:
        conn.connect(session, "acme", "teams", instance_url=None)
        assert conn.disconnect(session, "acme", "teams") is True
    assert _connected(store, "acme") == set()


def test_unknown_provider_and_tenant_are_refused(store: Store) -> None:
    with store.sessions.begin() as session, pytest.raises(conn.IntegrationConnectionError):
        conn.connect(session, "acme", "datto", instance_url=None)
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
