"""Tenant-scoped API tokens: made once, stored only as a hash, revocable.

A token is ``pb_`` plus 43 URL-safe characters of randomness (32 bytes): it
is shown once when made (``patchbay token create``) and only its SHA-256 is
stored, so a stolen database holds no usable token. A fast hash is enough
for a random 256-bit secret (nothing to brute-force); lookups go by the
hash's unique index.

Scopes are ordered: ``read`` (catalog, palette, actions, steps, ledger) <
``run`` (also enqueue steps) < ``admin`` (also connections).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.models import ApiToken
from store.types import utcnow

Scope = Literal["read", "run", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "run", "admin")
PREFIX = "pb_"
# How long a use is not written again (last_used_at is a hint, not an audit log).
LAST_USED_GRANULARITY_S = 60.0


class TokenError(Exception):
    """A token request was refused (unknown scope, blank name, unknown token)."""


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    tenant: str
    token_id: uuid.UUID
    name: str
    scope: Scope

    def allows(self, needed: Scope) -> bool:
        """Whether this token's scope includes ``needed``."""
        return SCOPES.index(self.scope) >= SCOPES.index(needed)


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its value."""

    token_id: uuid.UUID
    name: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def hash_token(token: str) -> str:
    """The stored form of ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, tenant: str, scope: str, name: str) -> tuple[str, TokenInfo]:
    """A new token for ``tenant``: (the token, shown once; what is stored about it)."""
    if scope not in SCOPES:
        raise TokenError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    name = name.strip()
    if not name or len(name) > 255:
        raise TokenError("a token's name must be 1 to 255 characters")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        tenant=tenant,
        token_id=uuid.uuid4(),
        name=name,
        scope=scope,
        token_hash=hash_token(token),
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return token, _info(row)


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal of a valid, unrevoked token, or None (unknown, revoked, malformed)."""
    if not token.startswith(PREFIX) or len(token) > 128:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    last = row.last_used_at
    if last is None or (now - last).total_seconds() >= LAST_USED_GRANULARITY_S:
        session.execute(
            update(ApiToken)
            .where(ApiToken.tenant == row.tenant, ApiToken.token_id == row.token_id)
            .values(last_used_at=now)
        )
    scope: Scope = row.scope  # type: ignore[assignment]  # the CHECK constraint's values
    return Principal(tenant=row.tenant, token_id=row.token_id, name=row.name, scope=scope)


def list_tokens(session: Session, tenant: str) -> list[TokenInfo]:
    """The tenant's tokens, newest first (revoked ones too)."""
    rows = session.scalars(
        select(ApiToken).where(ApiToken.tenant == tenant).order_by(ApiToken.created_at.desc())
    )
    return [_info(r) for r in rows]


def revoke_token(session: Session, tenant: str, token_id: uuid.UUID) -> bool:
    """Revoke one of the tenant's tokens; False when it was already revoked.

    Raises TokenError when the tenant has no such token.
    """
    row = session.get(ApiToken, (tenant, token_id))
    if row is None:
        raise TokenError(f"tenant {tenant!r} has no token {token_id}")
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.flush()
    return True


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        token_id=row.token_id,
        name=row.name,
        scope=row.scope,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )
