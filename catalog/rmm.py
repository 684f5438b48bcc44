"""What every RMM integration reads from the store: its connection row and its mirrored assets.

Each RMM vendor's package (NinjaOne, Tactical RMM, ...) keeps one
``rmm_integrations`` row per tenant and mirrors devices into ``assets``
keyed by ``(rmm_provider, rmm_device_id)``; these lookups are the same for
all of them, so they live here once instead of in each package.
Whether the row is active and connected is the pipeline's availability check
(``catalog.availability``), made before any handler runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import Select, func, or_, select

from actionkit.context import ActionContext
from actionkit.errors import IntegrationInactive
from store.connections import allows_custom_host, settings_of
from store.models import Asset, RmmIntegration


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
    """The tenant's ``provider`` row; IntegrationInactive (naming ``label``) when there is none."""
    with ctx.session() as session:
        row = session.execute(
            select(
                RmmIntegration.integration_id,
                RmmIntegration.instance_url,
                RmmIntegration.settings,
            ).where(RmmIntegration.tenant == ctx.tenant_id, RmmIntegration.provider == provider)
        ).first()
    if row is None:
        raise IntegrationInactive(
            f"{label} integration is not active for this tenant", details={"provider": provider}
        )
    settings = settings_of(row.settings)
    return RmmConnection(
        row.integration_id,
        row.instance_url,
        allows_custom_host(settings),
        MappingProxyType(settings),
    )


def text_or_none(value: Any) -> str | None:
    """``value`` if it is a non-empty string (mirrored JSON holds anything), else None."""
    return value if isinstance(value, str) and value else None


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
) -> Select[Asset]:
    """Mirrored assets matching every filter given (``query``: name, tag or serial, any case)."""
    found = mirrored_assets(tenant_id, provider)
    if device_id is not None:
        found = found.where(Asset.rmm_device_id == device_id)
    if asset_id is not None:
        found = found.where(Asset.asset_id == asset_id)
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
