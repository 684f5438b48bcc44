"""Connecting and disconnecting a tenant's integrations.

These rows are what the catalog's availability resolvers read: an RMM-style
vendor is connected when its ``rmm_integrations`` row is active with a
``connected_at``; Teams when the ``teams`` add-on is active and the install is
``active``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import RmmIntegration, TeamsIntegration, TenantAddon
from store.types import utcnow

# Vendors whose connection is a row in rmm_integrations (Huntress included,
# as in the reference: it shares the table and the availability factory).
RMM_PROVIDERS: tuple[str, ...] = ("ninjaone", "tacticalrmm", "levelio", "huntress")
TEAMS_PROVIDER = "teams"
TEAMS_ADDON_KEY = "teams"
PROVIDERS: tuple[str, ...] = (*RMM_PROVIDERS, TEAMS_PROVIDER)


class IntegrationConnectionError(Exception):
    """A connect/disconnect request was refused."""


@dataclass(frozen=True)
class ConnectionState:
    provider: str
    kind: Literal["rmm", "teams"]
    connected: bool
    instance_url: str | None
    allow_custom_host: bool = False


# The key in ``rmm_integrations.settings`` under which a connection records that
# its admin explicitly allowed a host outside the vendor's known hosts.
ALLOW_CUSTOM_HOST = "allow_custom_host"


def allows_custom_host(settings: dict[str, object] | None) -> bool:
    """Whether a connection's settings explicitly allow a custom vendor host."""
    return bool((settings or {}).get(ALLOW_CUSTOM_HOST) is True)


def check_provider(provider: str) -> str:
    """Return ``provider`` if patchbay knows it, else raise naming the known ones."""
    if provider not in PROVIDERS:
        raise IntegrationConnectionError(
            f"unknown provider {provider!r} (known: {', '.join(PROVIDERS)})"
        )
    return provider


def _has_userinfo(url: str) -> bool:
    text = url.strip()
    netloc = urlsplit(text if "//" in text else f"//{text}").netloc
    return "@" in netloc


def connect(
    session: Session,
    tenant: str,
    provider: str,
    *,
    instance_url: str | None,
    allow_custom_host: bool = False,
) -> None:
    """Mark ``provider`` active and connected for ``tenant`` (idempotent).

    ``instance_url`` must already have passed the vendor's outbound URL policy
    (the front doors check it); as a last line, a URL carrying userinfo is
    refused here so a password can never land in a row.
    """
    if instance_url is not None and _has_userinfo(instance_url):
        raise IntegrationConnectionError(
            "the instance URL may not carry a user name or password (store credentials as secrets)"
        )
    check_provider(provider)
    now = utcnow()
    if provider == TEAMS_PROVIDER:
        addon = session.get(TenantAddon, (tenant, TEAMS_ADDON_KEY))
        if addon is None:
            session.add(TenantAddon(tenant=tenant, addon_key=TEAMS_ADDON_KEY, activated_at=now))
        else:
            addon.expires_at = None
        teams = session.get(TeamsIntegration, tenant)
        if teams is None:
            teams = TeamsIntegration(tenant=tenant)
            session.add(teams)
        teams.install_status = "active"
        teams.last_error = None
        if instance_url:
            teams.package_metadata = {**(teams.package_metadata or {}), "baseUrl": instance_url}
        teams.package_metadata = {
            **(teams.package_metadata or {}),
            ALLOW_CUSTOM_HOST: allow_custom_host,
        }
        session.flush()
        return
    row = session.scalar(
        select(RmmIntegration).where(
            RmmIntegration.tenant == tenant, RmmIntegration.provider == provider
        )
    )
    if row is None:
        row = RmmIntegration(tenant=tenant, provider=provider)
        session.add(row)
    row.is_active = True
    row.connected_at = now
    row.sync_status = "pending"
    row.sync_error = None
    if instance_url is not None:
        row.instance_url = instance_url
    row.settings = {**(row.settings or {}), ALLOW_CUSTOM_HOST: allow_custom_host}
    session.flush()


def disconnect(session: Session, tenant: str, provider: str) -> bool:
    """Mark ``provider`` disconnected; False when it was not connected."""
    check_provider(provider)
    if provider == TEAMS_PROVIDER:
        teams = session.get(TeamsIntegration, tenant)
        if teams is None or teams.install_status == "not_configured":
            return False
        teams.install_status = "not_configured"
        session.flush()
        return True
    row = session.scalar(
        select(RmmIntegration).where(
            RmmIntegration.tenant == tenant, RmmIntegration.provider == provider
        )
    )
    if row is None or (not row.is_active and row.connected_at is None):
        return False
    row.is_active = False
    row.connected_at = None
    session.flush()
    return True


def connection_states(session: Session, tenant: str) -> list[ConnectionState]:
    """The connection state of every known provider for ``tenant``."""
    rows = {
        r.provider: r
        for r in session.scalars(select(RmmIntegration).where(RmmIntegration.tenant == tenant))
    }
    states = [
        ConnectionState(
            provider=p,
            kind="rmm",
            connected=bool(p in rows and rows[p].is_active and rows[p].connected_at is not None),
            instance_url=rows[p].instance_url if p in rows else None,
            allow_custom_host=p in rows and allows_custom_host(rows[p].settings),
        )
        for p in RMM_PROVIDERS
    ]
    teams = session.get(TeamsIntegration, tenant)
    addon = session.get(TenantAddon, (tenant, TEAMS_ADDON_KEY))
    addon_active = addon is not None and (addon.expires_at is None or addon.expires_at > utcnow())
    states.append(
        ConnectionState(
            provider=TEAMS_PROVIDER,
            kind="teams",
            connected=bool(addon_active and teams and teams.install_status.strip() == "active"),
            instance_url=(teams.package_metadata or {}).get("baseUrl") if teams else None,
            allow_custom_host=bool(teams and allows_custom_host(teams.package_metadata)),
        )
    )
    return states
