"""Connecting and disconnecting a tenant's integrations.

These rows are what the catalog's availability resolvers read: an RMM-style
vendor is connected when its ``rmm_integrations`` row is active with a
``connected_at``; Teams when the ``teams`` add-on is active and the install is
``active``.

An RMM row's ``settings`` (JSON) holds ``allow_custom_host`` and the
vendor's own connection settings (``patchbay connect --setting``, declared
by the vendor as ``catalog.vendors.VendorSetting``), e.g. Tactical RMM's
``auth_mode``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import teams as teams_setup
from store.models import RmmIntegration, TeamsIntegration, TenantAddon
from store.types import json_object, utcnow

# Which rows mark a vendor connected: an ``rmm_integrations`` row (NinjaOne,
# Tactical RMM, Level, Huntress: they share the table, as in the reference) or
# the ``teams`` add-on plus a Teams install. Which vendor uses which is the
# vendor's own declaration (``catalog.vendors.Vendor.connection``); the store
# takes it as an argument and keeps no list of vendors.
ConnectionKind = Literal["rmm", "teams"]
TEAMS_ADDON_KEY = "teams"


class IntegrationConnectionError(Exception):
    """A connect/disconnect request was refused."""


@dataclass(frozen=True)
class ConnectionState:
    provider: str
    kind: ConnectionKind
    connected: bool
    instance_url: str | None
    allow_custom_host: bool = False
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The row's settings (RMM rows) or the Teams set-up (``store.teams.SETTINGS``)."""


# The key in ``rmm_integrations.settings`` under which a connection records that
# its admin explicitly allowed a host outside the vendor's known hosts.
ALLOW_CUSTOM_HOST = "allow_custom_host"


def allows_custom_host(settings: Mapping[str, object] | None) -> bool:
    """Whether a connection's settings explicitly allow a custom vendor host."""
    return bool((settings or {}).get(ALLOW_CUSTOM_HOST) is True)


def settings_of(raw: object) -> dict[str, Any]:
    """A row's ``settings`` as a dict: the reference's rows may hold a JSON string."""
    return json_object(raw)


def stored_settings(
    session: Session, tenant: str, provider: str, *, kind: ConnectionKind = "rmm"
) -> dict[str, Any]:
    """The settings of ``tenant``'s ``provider`` connection (empty when there is none).

    An RMM row's ``settings``; for Teams, its set-up read back (``store.teams``).
    """
    if kind == "teams":
        return dict(teams_setup.stored_settings(session, tenant))
    raw = session.scalar(
        select(RmmIntegration.settings).where(
            RmmIntegration.tenant == tenant, RmmIntegration.provider == provider
        )
    )
    return settings_of(raw)


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
    kind: ConnectionKind = "rmm",
    settings: Mapping[str, str] | None = None,
) -> None:
    """Mark ``provider`` active and connected for ``tenant`` (idempotent).

    ``instance_url`` must already have passed the vendor's outbound URL policy
    (the front doors check it); as a last line, a URL carrying userinfo is
    refused here so a password can never land in a row. ``settings``: the
    vendor's connection settings (already checked against its declaration),
    merged into the RMM row's stored ones.
    """
    given = dict(settings or {})
    if ALLOW_CUSTOM_HOST in given:
        raise IntegrationConnectionError(f"{ALLOW_CUSTOM_HOST} is not a vendor setting")
    if instance_url is not None and _has_userinfo(instance_url):
        raise IntegrationConnectionError(
            "the instance URL may not carry a user name or password (store credentials as secrets)"
        )
    now = utcnow()
    if kind == "teams":
        addon = session.get(TenantAddon, (tenant, TEAMS_ADDON_KEY))
        if addon is None:
            session.add(TenantAddon(tenant=tenant, addon_key=TEAMS_ADDON_KEY, activated_at=now))
        else:
            addon.expires_at = None
        teams = session.get(TeamsIntegration, tenant)
        created = teams is None
        if teams is None:
            teams = TeamsIntegration(tenant=tenant, enabled_capabilities=[], package_metadata={})
            session.add(teams)
            session.flush()
        try:
            teams_setup.configure(session, teams, given, created=created)
        except teams_setup.TeamsSetupError as exc:
            raise IntegrationConnectionError(str(exc)) from None
        teams.install_status = "active"
        teams.last_error = None
        metadata = json_object(teams.package_metadata)
        if instance_url:
            metadata["baseUrl"] = instance_url
        teams.package_metadata = {**metadata, ALLOW_CUSTOM_HOST: allow_custom_host}
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
    row.settings = {**settings_of(row.settings), **given, ALLOW_CUSTOM_HOST: allow_custom_host}
    session.flush()


def disconnect(
    session: Session, tenant: str, provider: str, *, kind: ConnectionKind = "rmm"
) -> bool:
    """Mark ``provider`` disconnected; False when it was not connected."""
    if kind == "teams":
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


def connection_states(
    session: Session, tenant: str, providers: Sequence[tuple[str, ConnectionKind]]
) -> list[ConnectionState]:
    """The connection state of each of ``providers`` (name, kind) for ``tenant``."""
    rows = {
        r.provider: r
        for r in session.scalars(select(RmmIntegration).where(RmmIntegration.tenant == tenant))
    }
    states: list[ConnectionState] = []
    for p, kind in providers:
        if kind == "teams":
            teams = session.get(TeamsIntegration, tenant)
            addon = session.get(TenantAddon, (tenant, TEAMS_ADDON_KEY))
            metadata = json_object(teams.package_metadata if teams else None)
            addon_active = addon is not None and (
                addon.expires_at is None or addon.expires_at > utcnow()
            )
            states.append(
                ConnectionState(
                    provider=p,
                    kind="teams",
                    connected=bool(
                        addon_active and teams and teams.install_status.strip() == "active"
                    ),
                    instance_url=metadata.get("baseUrl"),
                    allow_custom_host=allows_custom_host(metadata),
                    settings=teams_setup.stored_settings(session, tenant),
                )
            )
            continue
        row = rows.get(p)
        states.append(
            ConnectionState(
                provider=p,
                kind="rmm",
                connected=bool(row and row.is_active and row.connected_at is not None),
                instance_url=row.instance_url if row else None,
                allow_custom_host=bool(row and allows_custom_host(settings_of(row.settings))),
                settings=settings_of(row.settings) if row else {},
            )
        )
    return states
