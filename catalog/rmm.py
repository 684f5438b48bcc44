"""What every RMM integration reads from the store: its connection row, mirrored assets and alerts.

Each RMM vendor's package (NinjaOne, Tactical RMM, ...) keeps one
``rmm_integrations`` row per tenant, mirrors devices into ``assets``
keyed by ``(rmm_provider, rmm_device_id)`` and alerts into ``rmm_alerts``
keyed by ``(integration_id, external_alert_id)``; these lookups (and marking
a mirrored alert once the vendor accepted a change) are the same for all of
them, so they live here once instead of in each package.
Whether the row is active and connected is the pipeline's availability check
(``catalog.availability``), made before any handler runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, TypeVar

from pydantic import SecretStr
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from actionkit.context import ActionContext, TenantContext
from actionkit.errors import IntegrationInactive, IntegrationMisconfigured
from store.connections import allows_custom_host, settings_of
from store.models import Asset, RmmAlert, RmmIntegration

RowT = TypeVar("RowT")


@dataclass(frozen=True)
class RmmConnection:
    """What a tenant's ``rmm_integrations`` row says about its instance of one vendor.

    ``settings``: the row's settings, read-only (the vendor's own, such as
    Tactical RMM's ``auth_mode``, are read with its ``VendorSetting``).
    """

    integration_id: uuid.UUID
    instance_url: str | None
    allow_custom_host: bool
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


def rmm_connection(ctx: ActionContext, provider: str, label: str) -> RmmConnection:
    """The tenant's ``provider`` row; IntegrationInactive (naming ``label``) when there is none.

    Remembered by the worker until the tenant's connections or secrets change
    (``ActionContext.remember``): no query on most steps.
    """

    def load() -> RmmConnection | None:
        with ctx.session() as session:
            row = session.execute(
                select(
                    RmmIntegration.integration_id,
                    RmmIntegration.instance_url,
                    RmmIntegration.settings,
                ).where(RmmIntegration.tenant == ctx.tenant_id, RmmIntegration.provider == provider)
            ).first()
        if row is None:
            return None
        settings = settings_of(row.settings)
        return RmmConnection(
            row.integration_id,
            row.instance_url,
            allows_custom_host(settings),
            MappingProxyType(settings),
        )

    connection = ctx.remember(("rmm_connection", provider), load)
    if connection is None:
        raise IntegrationInactive(
            f"{label} integration is not active for this tenant", details={"provider": provider}
        )
    return connection


def required_secret(
    ctx: TenantContext, name: str, *, provider: str, what: str, how: str = ""
) -> SecretStr:
    """The tenant secret ``name``, trimmed; INTEGRATION_MISCONFIGURED naming it when unset or blank.

    The message says ``what`` is missing (``"Level API key"``), ``how`` to get
    one if given, and the ``patchbay connect`` line that stores it.
    """
    value = ctx.secret(name)
    if value is None or not value.get_secret_value().strip():
        raise IntegrationMisconfigured(
            f"{what} is not configured for this tenant; {how + ' and ' if how else ''}store it "
            f"with patchbay connect {provider} --tenant {ctx.tenant_id} --secret {name}=@file",
            details={"missing": name},
        )
    return SecretStr(value.get_secret_value().strip())


def text_or_none(value: Any) -> str | None:
    """``value`` if it is a non-empty string (mirrored JSON holds anything), else None."""
    return value if isinstance(value, str) and value else None


def integer_or_none(value: Any) -> int | None:
    """``value`` if it is an integer (not a bool, which JSON keeps apart), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def instant_or_none(value: Any) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset; none means UTC) as an aware datetime, else None."""
    raw = text_or_none(value)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern whose escape character is ``\\``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def mirrored_assets(tenant_id: str, provider: str) -> Select[Asset]:
    """The tenant's assets mirroring a device of ``provider``."""
    return select(Asset).where(
        Asset.tenant == tenant_id,
        Asset.rmm_provider == provider,
        Asset.rmm_device_id.is_not(None),
    )


def search_mirrored_assets(
    tenant_id: str,
    provider: str,
    *,
    device_id: str | None,
    asset_id: uuid.UUID | None,
    query: str | None,
    limit: int,
    organization_id: str | None = None,
) -> Select[Asset]:
    """Mirrored assets matching every filter given (``query``: name, tag or serial, any case).

    ``organization_id``: the vendor's organization (client, group) the asset is in.
    """
    found = mirrored_assets(tenant_id, provider)
    if device_id is not None:
        found = found.where(Asset.rmm_device_id == device_id)
    if asset_id is not None:
        found = found.where(Asset.asset_id == asset_id)
    if organization_id is not None:
        found = found.where(Asset.rmm_organization_id == organization_id)
    if query is not None:
        pattern = f"%{escape_like(query)}%"
        found = found.where(
            or_(
                Asset.name.ilike(pattern, escape="\\"),
                Asset.asset_tag.ilike(pattern, escape="\\"),
                Asset.serial_number.ilike(pattern, escape="\\"),
            )
        )
    return found.order_by(func.lower(Asset.name), Asset.asset_id).limit(limit)


def find_mirrored_assets(
    ctx: ActionContext,
    provider: str,
    view: Callable[[Asset], RowT],
    *,
    device_id: str | None,
    asset_id: uuid.UUID | None,
    query: str | None,
    limit: int,
    organization_id: str | None = None,
) -> list[RowT]:
    """The mirrored assets ``search_mirrored_assets`` finds, each as ``view`` shows it.

    ``view`` runs while the session is open (a vendor's output row from an asset).
    """
    found = search_mirrored_assets(
        ctx.tenant_id,
        provider,
        device_id=device_id,
        asset_id=asset_id,
        query=query,
        limit=limit,
        organization_id=organization_id,
    )
    with ctx.session() as session:
        return [view(asset) for asset in session.scalars(found)]


def live_device_id(
    ctx: ActionContext, provider: str, *, device_id: str | None, asset_id: uuid.UUID | None
) -> str | Literal[False] | None:
    """The one device a live search is narrowed to, from a device id and/or a local asset.

    ``device_id``, or the device ``asset_id`` mirrors; None when neither is
    given (no narrowing); False when nothing can match (the asset mirrors no
    device of ``provider``, or another one than ``device_id``).
    """
    if asset_id is None:
        return device_id
    mirrored = mirrored_device_id(ctx, provider, asset_id)
    if mirrored is None or (device_id is not None and mirrored != device_id):
        return False
    return mirrored


def mirrored_device_id(ctx: ActionContext, provider: str, asset_id: uuid.UUID) -> str | None:
    """The ``provider`` device id the tenant's asset mirrors, or None."""
    with ctx.session() as session:
        return session.scalar(
            select(Asset.rmm_device_id).where(
                Asset.tenant == ctx.tenant_id,
                Asset.rmm_provider == provider,
                Asset.asset_id == asset_id,
            )
        )


def asset_ids(ctx: ActionContext, provider: str, device_ids: Sequence[str]) -> dict[str, uuid.UUID]:
    """Local asset ids of the given ``provider`` device ids (one query)."""
    if not device_ids:
        return {}
    with ctx.session() as session:
        rows = session.execute(
            select(Asset.rmm_device_id, Asset.asset_id).where(
                Asset.tenant == ctx.tenant_id,
                Asset.rmm_provider == provider,
                Asset.rmm_device_id.in_(sorted(set(device_ids))),
            )
        )
        return {str(r.rmm_device_id): r.asset_id for r in rows}


def active_mirrored_alerts(
    tenant_id: str, integration_id: uuid.UUID, *, device_id: str | None = None, limit: int
) -> Select[RmmAlert]:
    """The connection's mirrored alerts still ``active``, newest first (``device_id``: its own)."""
    found = select(RmmAlert).where(
        RmmAlert.tenant == tenant_id,
        RmmAlert.integration_id == integration_id,
        RmmAlert.status == "active",
    )
    if device_id is not None:
        found = found.where(RmmAlert.external_device_id == device_id)
    return found.order_by(RmmAlert.triggered_at.desc().nulls_last(), RmmAlert.alert_id).limit(limit)


def mark_mirrored_alert_on_success(
    ctx: ActionContext, integration_id: uuid.UUID, external_alert_id: str, status: str
) -> None:
    """Set the mirrored alert's ``status`` once, and only if, the step is recorded SUCCEEDED.

    Through ``ctx.on_success``: the mirror never claims what the ledger does not
    (the vendor refused, or the step ended otherwise). ``resolved`` also sets
    ``resolved_at`` when the row has none. No mirrored row: nothing to do.
    """
    tenant, at = ctx.tenant_id, ctx.now()
    values: dict[str, Any] = {"status": status, "updated_at": at}
    if status == "resolved":
        values["resolved_at"] = func.coalesce(RmmAlert.resolved_at, at)

    def mark(session: Session) -> None:
        session.execute(
            update(RmmAlert)
            .where(
                RmmAlert.tenant == tenant,
                RmmAlert.integration_id == integration_id,
                RmmAlert.external_alert_id == external_alert_id,
            )
            .values(**values)
        )

    ctx.on_success(mark)
