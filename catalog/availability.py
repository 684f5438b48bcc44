"""Availability: may this tenant add steps of this module right now?

A resolver is ``(session, tenant_id) -> bool`` registered under a module's
availability key. Evaluation fails closed: no resolver means unavailable; a
resolver that raises means unavailable plus one warning naming the key, the
tenant and the exception type (never its message, which may quote data), and
the listing goes on.

Resolvers that read the same table share one query per listing: evaluation
opens a memo on the session (``session.info``) for its duration, and the RMM
resolvers load every connected provider of the tenant in one statement.

A resolver may also say the same thing as SQL (a ``clause(tenant, now)``
method, :meth:`AvailabilityRegistry.clause`): the executor then reads it in
the statement that claims a step, instead of asking in a query of its own.
Both built-in resolvers do, and a test holds each clause to its resolver. A
clause is uncorrelated: ``tenant`` and ``now`` are values or SQL bind
parameters (the executor passes parameters, so it builds its claim statement
once and runs it for every tenant), and each of its subqueries reads one
table: SQLite renders the ``RETURNING`` clause it ends up in without table
names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias, TypeVar, Union

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from catalog.errors import RegistrationConflict, RegistrationError
from store.connections import TEAMS_ADDON_KEY
from store.models import RmmIntegration, TeamsIntegration, TenantAddon
from store.types import utcnow

logger = logging.getLogger(__name__)

AvailabilityResolver = Callable[[Session, str], bool]

_T = TypeVar("_T")
SqlValue: TypeAlias = Union[ColumnElement[_T], _T]  # noqa: UP007 (a generic alias)
"""A value, or a SQL expression of one (a bind parameter): what a ``clause`` is given."""

_MEMO_KEY = "patchbay.availability.memo"


@contextmanager
def listing_memo(session: Session) -> Iterator[dict[Any, Any]]:
    """Share lookups between resolvers for the duration of one listing."""
    outer = session.info.get(_MEMO_KEY)
    if outer is not None:
        yield outer
        return
    memo: dict[Any, Any] = {}
    session.info[_MEMO_KEY] = memo
    try:
        yield memo
    finally:
        session.info.pop(_MEMO_KEY, None)


def _memoized(session: Session, key: Any, load: Callable[[], Any]) -> Any:
    memo = session.info.get(_MEMO_KEY)
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


def connected_rmm_providers(session: Session, tenant_id: str) -> frozenset[str]:
    """Providers with an active, connected ``rmm_integrations`` row (one query)."""

    def load() -> frozenset[str]:
        rows = session.scalars(
            select(RmmIntegration.provider).where(
                RmmIntegration.tenant == tenant_id,
                RmmIntegration.is_active.is_(True),
                RmmIntegration.connected_at.is_not(None),
            )
        )
        return frozenset(rows)

    result: frozenset[str] = _memoized(session, ("rmm", tenant_id), load)
    return result


@dataclass(frozen=True)
class RmmIntegrationAvailability:
    """True when the tenant's ``provider`` row is active and connected."""

    provider: str

    def __call__(self, session: Session, tenant_id: str) -> bool:
        return self.provider in connected_rmm_providers(session, tenant_id)

    def clause(self, tenant: SqlValue[str], now: SqlValue[datetime]) -> ColumnElement[bool]:
        """The same, as SQL."""
        return exists().where(
            RmmIntegration.tenant == tenant,
            RmmIntegration.provider == self.provider,
            RmmIntegration.is_active.is_(True),
            RmmIntegration.connected_at.is_not(None),
        )


def rmm_integration_availability(provider: str) -> AvailabilityResolver:
    """The resolver every RMM-style module uses (equal for equal providers)."""
    if not provider.strip():
        raise RegistrationError("rmm_integration_availability requires a provider")
    return RmmIntegrationAvailability(provider)


TEAMS_ADDON_INACTIVE = "The Teams add-on is not active for this tenant."
TEAMS_NOT_INSTALLED = (
    "The Teams integration is not installed and active for this tenant. Configure it "
    "under Settings > Integrations."
)


@dataclass(frozen=True)
class TeamsIntegrationAvailability:
    """The ``teams`` add-on is active (not expired) and the Teams install is ``active``.

    :meth:`why_unavailable` says which of the two is missing, in the
    reference's words (``AvailabilityRegistry.explain``).
    """

    def __call__(self, session: Session, tenant_id: str) -> bool:
        now = utcnow()
        status = session.scalar(
            select(TeamsIntegration.install_status)
            .join(
                TenantAddon,
                and_(
                    TenantAddon.tenant == TeamsIntegration.tenant,
                    TenantAddon.addon_key == TEAMS_ADDON_KEY,
                ),
            )
            .where(
                TeamsIntegration.tenant == tenant_id,
                or_(TenantAddon.expires_at.is_(None), TenantAddon.expires_at > now),
            )
        )
        return status is not None and status.strip() == "active"

    def clause(self, tenant: SqlValue[str], now: SqlValue[datetime]) -> ColumnElement[bool]:
        """The same, as SQL (at ``now``).

        One table per subquery: SQLite renders a ``RETURNING`` clause (where the
        executor reads it) without table names, so no name may be ambiguous.
        """
        install = exists().where(
            TeamsIntegration.tenant == tenant,
            func.trim(TeamsIntegration.install_status) == "active",
        )
        addon = exists().where(
            TenantAddon.tenant == tenant,
            TenantAddon.addon_key == TEAMS_ADDON_KEY,
            or_(TenantAddon.expires_at.is_(None), TenantAddon.expires_at > now),
        )
        return and_(install, addon)

    def why_unavailable(self, session: Session, tenant_id: str) -> str | None:
        """The add-on first, then the install; None when both are there."""
        addon = session.get(TenantAddon, (tenant_id, TEAMS_ADDON_KEY))
        if addon is None or (addon.expires_at is not None and addon.expires_at <= utcnow()):
            return TEAMS_ADDON_INACTIVE
        row = session.get(TeamsIntegration, tenant_id)
        if row is None or row.install_status.strip() != "active":
            return TEAMS_NOT_INSTALLED
        return None


teams_integration_availability = TeamsIntegrationAvailability()


class AvailabilityRegistry:
    """Resolvers by availability key."""

    def __init__(self) -> None:
        self._resolvers: dict[str, AvailabilityResolver] = {}

    def register(self, key: str, resolver: AvailabilityResolver) -> None:
        """Add ``resolver``; the same resolver again is a no-op, a different one an error."""
        key = key.strip()
        if not key:
            raise RegistrationError("availability key must not be blank")
        if not callable(resolver):
            raise RegistrationError(f"availability resolver for {key!r} must be callable")
        existing = self._resolvers.get(key)
        if existing is not None:
            if existing == resolver:
                return
            raise RegistrationConflict(f"availability key {key!r} already has a different resolver")
        self._resolvers[key] = resolver

    def get(self, key: str) -> AvailabilityResolver | None:
        return self._resolvers.get(key)

    def has(self, key: str) -> bool:
        return key in self._resolvers

    def clause(
        self, key: str, tenant: SqlValue[str], now: SqlValue[datetime]
    ) -> ColumnElement[bool] | None:
        """SQL saying whether ``key`` is available for ``tenant`` at ``now``; None when
        its resolver has no ``clause`` (evaluate it with :meth:`evaluate` instead)."""
        make = getattr(self._resolvers.get(key), "clause", None)
        if not callable(make):
            return None
        clause: ColumnElement[bool] = make(tenant, now)
        return clause

    def explain(self, session: Session, tenant_id: str, key: str) -> str | None:
        """Why ``key`` is unavailable, if its resolver says (a ``why_unavailable`` method).

        Fails closed like :meth:`evaluate`: None when the resolver gives no
        reason or raises.
        """
        why = getattr(self._resolvers.get(key), "why_unavailable", None)
        if not callable(why):
            return None
        try:
            reason = why(session, tenant_id)
        except Exception:
            session.rollback()
            return None
        return reason if isinstance(reason, str) else None

    def evaluate(self, session: Session, tenant_id: str, keys: Iterable[str]) -> dict[str, bool]:
        """Availability of each key for ``tenant_id``; never raises, fails closed."""
        results: dict[str, bool] = {}
        with listing_memo(session):
            for key in keys:
                if key in results:
                    continue
                results[key] = self._resolve_one(session, tenant_id, key)
        return results

    def _resolve_one(self, session: Session, tenant_id: str, key: str) -> bool:
        resolver = self._resolvers.get(key)
        if resolver is None:
            return False
        try:
            return bool(resolver(session, tenant_id))
        except Exception as exc:
            logger.warning(
                "availability resolver %r for tenant %r raised %s; module treated as unavailable",
                key,
                tenant_id,
                type(exc).__name__,
                extra={
                    "availability_key": key,
                    "tenant": tenant_id,
                    "exception_type": type(exc).__name__,
                },
            )
            # A failed statement poisons the transaction on PostgreSQL; the
            # listing is read-only, so rolling back loses nothing.
            session.rollback()
            return False
