"""A tenant's configuration version: the newest change to its connections or secrets.

Database triggers (migration 0009) add a ``tenant_config_changes`` row for
every write to what a step reads of a tenant's vendor connections and
secrets. :func:`config_version` is the SQL expression of a tenant's newest
one (NULL before its first change): the ledger's claim returns it with the
claimed row, so a worker knows in the same round trip whether what it
remembers of the tenant still stands (``executor.tenant_cache``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, delete, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from store.models import TenantConfigChange


def config_version(tenant: str | ColumnElement[str]) -> ScalarSelect[Any]:
    """SQL: ``tenant``'s configuration version (NULL when it never changed); ``tenant``
    a value or a bind parameter."""
    return (
        select(func.max(TenantConfigChange.change_id))
        .where(TenantConfigChange.tenant == tenant)
        .scalar_subquery()
    )


def prune(conn: Connection) -> int:
    """Delete every change but each tenant's newest (which is its version); how many."""
    newer = aliased(TenantConfigChange)
    superseded = (
        select(newer.change_id)
        .where(
            newer.tenant == TenantConfigChange.tenant,
            newer.change_id > TenantConfigChange.change_id,
        )
        .exists()
    )
    result = conn.execute(delete(TenantConfigChange).where(superseded))
    return int(getattr(result, "rowcount", 0) or 0)
