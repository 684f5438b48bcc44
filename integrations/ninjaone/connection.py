"""The tenant's NinjaOne connection: its row, a client built from it, and the mirror's asset ids.

Reads of the local mirror (``assets``, ``rmm_alerts``) need no credentials;
everything that talks to NinjaOne builds a client from the tenant's
connection row (instance URL) and secrets (``credentials.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from actionkit.context import ActionContext
from actionkit.errors import IntegrationInactive
from integrations.ninjaone.client import HOSTS, NinjaOneClient
from integrations.ninjaone.credentials import TenantTokens
from store.connections import allows_custom_host
from store.models import Asset, RmmIntegration

PROVIDER = "ninjaone"


@dataclass(frozen=True)
class Connection:
    """What the tenant's ``rmm_integrations`` row says about its NinjaOne instance."""

    integration_id: uuid.UUID
    instance_url: str | None
    allow_custom_host: bool


def tenant_connection(ctx: ActionContext) -> Connection:
    """The tenant's NinjaOne integration id, instance URL and custom-host permission."""
    with ctx.session() as session:
        row = session.execute(
            select(
                RmmIntegration.integration_id,
                RmmIntegration.instance_url,
                RmmIntegration.settings,
            ).where(RmmIntegration.tenant == ctx.tenant_id, RmmIntegration.provider == PROVIDER)
        ).first()
    if row is None:
        raise IntegrationInactive(
            "NinjaOne integration is not active for this tenant", details={"provider": PROVIDER}
        )
    return Connection(row.integration_id, row.instance_url, allows_custom_host(row.settings))


@contextmanager
def client_for(ctx: ActionContext) -> Iterator[NinjaOneClient]:
    """A client for the tenant's instance, authenticated from its secrets, gated by ``ctx``."""
    connection = tenant_connection(ctx)
    policy = ctx.outbound(HOSTS, allow_custom_host=connection.allow_custom_host)
    tokens = TenantTokens(ctx)
    with NinjaOneClient(
        connection.instance_url,
        policy=policy,
        transport=ctx.transport(PROVIDER),
        gate=ctx.gate,
        tokens=tokens,
    ) as client:
        yield client


def text_or_none(value: Any) -> str | None:
    """``value`` if it is a non-empty string (mirrored JSON holds anything), else None."""
    return value if isinstance(value, str) and value else None


def asset_ids(ctx: ActionContext, device_ids: Sequence[str]) -> dict[str, uuid.UUID]:
    """Local asset ids of the given NinjaOne device ids (one query)."""
    if not device_ids:
        return {}
    with ctx.session() as session:
        rows = session.execute(
            select(Asset.rmm_device_id, Asset.asset_id).where(
                Asset.tenant == ctx.tenant_id,
                Asset.rmm_provider == PROVIDER,
                Asset.rmm_device_id.in_(sorted(set(device_ids))),
            )
        )
        return {str(r.rmm_device_id): r.asset_id for r in rows}
