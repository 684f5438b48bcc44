"""A tenant's configuration version moves with every write a step would read, and only then.

The triggers of migration 0009 keep it on both databases, whatever writes:
the ORM, the secret store, or a plain SQL statement.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from sqlalchemy import select, text, update

from store import Store
from store.config_versions import config_version, prune
from store.models import RmmIntegration, TenantConfigChange
from store.tenants import create_tenant
from store.types import utcnow


def version(store: Store, tenant: str) -> Any:
    with store.engine.connect() as conn:
        return conn.scalar(select(config_version(tenant)))


def connect(store: Store, tenant: str, provider: str = "ninjaone") -> None:
    with store.sessions.begin() as session:
        session.add(
            RmmIntegration(
                tenant=tenant,
                provider=provider,
                instance_url="https://app.ninjarmm.com",
                is_active=True,
                connected_at=utcnow(),
            )
        )


def test_connections_and_secrets_move_the_version_and_syncs_do_not(store: Store) -> None:
    with store.sessions.begin() as session:
        create_tenant(session, "acme")
        create_tenant(session, "globex")
    assert version(store, "acme") is None

    connect(store, "acme")
    after_connect = version(store, "acme")
    assert after_connect is not None

    store.secrets.set("acme", "api_key", SecretStr("one"))
    after_secret = version(store, "acme")
    assert after_secret > after_connect

    # Recording a sync changes nothing a step reads of the connection.
    with store.sessions.begin() as session:
        session.execute(
            update(RmmIntegration)
            .where(RmmIntegration.tenant == "acme")
            .values(last_sync_at=utcnow(), sync_status="ok")
        )
    assert version(store, "acme") == after_secret

    # A rotated secret, a changed URL (in plain SQL) and a deleted secret all count.
    store.secrets.database.update_locked("acme", "api_key", lambda _: "two")
    rotated = version(store, "acme")
    assert rotated > after_secret
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE rmm_integrations SET instance_url = 'https://eu.ninjarmm.com' "
                "WHERE tenant = 'acme'"
            )
        )
    moved = version(store, "acme")
    assert moved > rotated
    assert store.secrets.delete("acme", "api_key")
    deleted = version(store, "acme")
    assert deleted > moved

    # Another tenant's version is its own.
    assert version(store, "globex") is None
    connect(store, "globex")
    assert version(store, "acme") == deleted


def test_pruning_keeps_each_tenants_version(store: Store) -> None:
    with store.sessions.begin() as session:
        create_tenant(session, "acme")
        create_tenant(session, "globex")
    for value in ("a", "b", "c"):
        store.secrets.set("acme", "k", SecretStr(value))
        store.secrets.set("globex", "k", SecretStr(value))
    before = {t: version(store, t) for t in ("acme", "globex")}

    with store.engine.begin() as conn:
        assert prune(conn) == 4
        assert prune(conn) == 0
        left = conn.execute(select(TenantConfigChange.tenant, TenantConfigChange.change_id)).all()
    assert sorted(left) == sorted(before.items())
    # Numbering goes on after a prune: a new change is newer than the kept one.
    store.secrets.set("acme", "k", SecretStr("d"))
    assert version(store, "acme") > before["acme"]
