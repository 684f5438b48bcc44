"""Tenants: the unit every other row belongs to."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Tenant

TENANT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class TenantError(Exception):
    """A tenant operation was refused (bad id, duplicate, unknown tenant)."""


def check_tenant_id(tenant_id: str) -> str:
    """Return ``tenant_id`` if well-formed, else raise TenantError."""
    if not TENANT_ID_PATTERN.match(tenant_id):
        raise TenantError(
            f"invalid tenant id {tenant_id!r}: 1-64 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return tenant_id


def create_tenant(session: Session, tenant_id: str, name: str | None = None) -> Tenant:
    """Add a tenant; raises TenantError if the id is malformed or taken."""
    check_tenant_id(tenant_id)
    if session.get(Tenant, tenant_id) is not None:
        raise TenantError(f"tenant {tenant_id!r} already exists")
    tenant = Tenant(tenant=tenant_id, name=name or tenant_id)
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(session: Session, tenant_id: str) -> Tenant | None:
    """The tenant, or None."""
    return session.get(Tenant, tenant_id)


def require_tenant(session: Session, tenant_id: str) -> Tenant:
    """The tenant, or TenantError naming the unknown id."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise TenantError(f"unknown tenant {tenant_id!r} (create it with `patchbay tenant create`)")
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    """All tenants by id."""
    return list(session.scalars(select(Tenant).order_by(Tenant.tenant)))
