"""Availability resolvers: called with (session, tenant), fail closed, logged, batched."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from catalog.availability import (
    AvailabilityRegistry,
    rmm_integration_availability,
    teams_integration_availability,
)
from catalog.bootstrap import build_catalog
from store import Store
from store import connections as conn
from store.models import RmmIntegration, TeamsIntegration, TenantAddon
from store.tenants import create_tenant
from store.types import utcnow


@pytest.fixture
def tenants(store: Store) -> Store:
    with store.sessions.begin() as session:
        create_tenant(session, "acme")
        create_tenant(session, "globex")
    return store


@contextmanager
def count_statements(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_resolver_is_called_with_session_and_tenant(tenants: Store) -> None:
    calls: list[tuple[Session, str]] = []

    def resolver(session: Session, tenant_id: str) -> bool:
        calls.append((session, tenant_id))
        return True

    registry = AvailabilityRegistry()
    registry.register("custom:thing", resolver)
    with tenants.sessions() as session:
        assert registry.evaluate(session, "acme", ["custom:thing"]) == {"custom:thing": True}
        assert calls == [(session, "acme")]


def test_a_key_without_a_resolver_is_unavailable(tenants: Store) -> None:
    registry = AvailabilityRegistry()
    with tenants.sessions() as session:
        assert registry.evaluate(session, "acme", ["rmm:ninjaone"]) == {"rmm:ninjaone": False}


def test_a_raising_resolver_is_unavailable_and_logged_once(
    tenants: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(session: Session, tenant_id: str) -> bool:
        raise RuntimeError("relation vendor_table does not exist; password=hunter2")

    registry = AvailabilityRegistry()
    registry.register("custom:broken", broken)
    registry.register("rmm:ninjaone", rmm_integration_availability("ninjaone"))
    with tenants.sessions.begin() as session:
        conn.connect(session, "acme", "ninjaone", instance_url=None)
    caplog.set_level(logging.WARNING, logger="catalog.availability")
    with tenants.sessions() as session:
        result = registry.evaluate(session, "acme", ["custom:broken", "rmm:ninjaone"])
    assert result == {"custom:broken": False, "rmm:ninjaone": True}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "custom:broken" in message
    assert "acme" in message
    assert "RuntimeError" in message
    assert "hunter2" not in caplog.text  # the exception's message is not logged


def test_a_resolver_whose_query_fails_does_not_break_the_next_one(
    tenants: Store, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import text

    def bad_sql(session: Session, tenant_id: str) -> bool:
        return bool(session.execute(text("SELECT * FROM no_such_table")).first())

    registry = AvailabilityRegistry()
    registry.register("custom:bad_sql", bad_sql)
    registry.register("integration:teams", teams_integration_availability)
    with tenants.sessions.begin() as session:
        conn.connect(session, "acme", "teams", instance_url=None, kind="teams")
    with tenants.sessions() as session:
        result = registry.evaluate(session, "acme", ["custom:bad_sql", "integration:teams"])
    assert result == {"custom:bad_sql": False, "integration:teams": True}


def clause_says(session: Session, resolver: Any, tenant: str) -> bool:
    """What ``resolver``'s SQL (``clause``) says of ``tenant`` now."""
    return bool(session.scalar(select(resolver.clause(tenant, utcnow()))))


def test_a_resolver_without_sql_has_no_clause() -> None:
    registry = AvailabilityRegistry()
    registry.register("integration:plain", lambda session, tenant: True)
    registry.register("integration:ninjaone", rmm_integration_availability("ninjaone"))
    assert registry.clause("integration:plain", "acme", utcnow()) is None
    assert registry.clause("integration:missing", "acme", utcnow()) is None
    assert registry.clause("integration:ninjaone", "acme", utcnow()) is not None


@pytest.mark.parametrize(
    ("provider", "is_active", "connected", "expected"),
    [
        ("ninjaone", True, True, True),
        ("ninjaone", False, True, False),
        ("ninjaone", True, False, False),
        ("tacticalrmm", True, True, False),  # a connected row of another provider
    ],
)
def test_rmm_factory_requires_an_active_connected_row_of_the_same_provider(
    tenants: Store, provider: str, is_active: bool, connected: bool, expected: bool
) -> None:
    with tenants.sessions.begin() as session:
        session.add(
            RmmIntegration(
                tenant="acme",
                provider=provider,
                is_active=is_active,
                connected_at=utcnow() if connected else None,
            )
        )
        # Another tenant's connected row must not count.
        conn.connect(session, "globex", "ninjaone", instance_url=None)
    resolver = rmm_integration_availability("ninjaone")
    with tenants.sessions() as session:
        assert resolver(session, "acme") is expected
        assert resolver(session, "globex") is True
        # The SQL the executor's claim reads instead says the same.
        assert clause_says(session, resolver, "acme") is expected
        assert clause_says(session, resolver, "globex") is True


@pytest.mark.parametrize(
    ("addon_expiry_days", "install_status", "expected"),
    [
        (None, "active", True),
        (30, "active", True),
        (-1, "active", False),
        (None, "install_pending", False),
        (None, "error", False),
        ("no-addon", "active", False),
    ],
)
def test_teams_resolver_needs_live_addon_and_active_install(
    tenants: Store, addon_expiry_days: object, install_status: str, expected: bool
) -> None:
    with tenants.sessions.begin() as session:
        if addon_expiry_days != "no-addon":
            expires = (
                None
                if addon_expiry_days is None
                else utcnow() + timedelta(days=int(str(addon_expiry_days)))
            )
            session.add(TenantAddon(tenant="acme", addon_key="teams", expires_at=expires))
        session.add(TeamsIntegration(tenant="acme", install_status=install_status))
    with tenants.sessions() as session:
        assert teams_integration_availability(session, "acme") is expected
        assert clause_says(session, teams_integration_availability, "acme") is expected
        assert clause_says(session, teams_integration_availability, "globex") is False


def test_all_rmm_resolvers_in_one_listing_share_one_query(tenants: Store) -> None:
    registry = AvailabilityRegistry()
    keys = []
    for provider in build_catalog().vendors.rmm_providers():
        keys.append(f"rmm:{provider}")
        registry.register(f"rmm:{provider}", rmm_integration_availability(provider))
    with tenants.sessions.begin() as session:
        conn.connect(session, "acme", "levelio", instance_url=None)
        conn.connect(session, "acme", "huntress", instance_url=None)
    with tenants.sessions() as session, count_statements(tenants.engine) as statements:
        result = registry.evaluate(session, "acme", keys)
    assert result == {
        "rmm:ninjaone": False,
        "rmm:tacticalrmm": False,
        "rmm:levelio": True,
        "rmm:huntress": True,
    }
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, statements
