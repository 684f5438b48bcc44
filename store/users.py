"""Users and their roles (technician eligibility for scheduling)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import Role, User, UserRole
from store.tenants import TenantError

TECHNICIAN = "Technician"


def ensure_role(session: Session, tenant: str, role_name: str) -> Role:
    """The tenant's role of that name (case-insensitive), created if missing."""
    role = session.scalar(
        select(Role).where(Role.tenant == tenant, func.lower(Role.role_name) == role_name.lower())
    )
    if role is None:
        role = Role(tenant=tenant, role_name=role_name)
        session.add(role)
        session.flush()
    return role


def create_user(
    session: Session,
    tenant: str,
    username: str,
    *,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    technician: bool = False,
    inactive: bool = False,
) -> User:
    """Add an internal user; ``technician`` grants the Technician role."""
    if not username.strip():
        raise TenantError("username must not be blank")
    if session.scalar(select(User).where(User.tenant == tenant, User.username == username)):
        raise TenantError(f"user {username!r} already exists in tenant {tenant!r}")
    user = User(
        tenant=tenant,
        user_id=uuid.uuid4(),
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        is_inactive=inactive,
    )
    session.add(user)
    session.flush()
    if technician:
        role = ensure_role(session, tenant, TECHNICIAN)
        session.add(UserRole(tenant=tenant, user_id=user.user_id, role_id=role.role_id))
        session.flush()
    return user


def find_user(session: Session, tenant: str, ref: str) -> User | None:
    """A user by id or username."""
    try:
        user_id = uuid.UUID(ref)
    except ValueError:
        return session.scalar(select(User).where(User.tenant == tenant, User.username == ref))
    return session.get(User, (tenant, user_id))


def list_users(session: Session, tenant: str) -> list[tuple[User, list[str]]]:
    """The tenant's users with their role names."""
    users = list(session.scalars(select(User).where(User.tenant == tenant).order_by(User.username)))
    roles: dict[uuid.UUID, list[str]] = {}
    for user_id, name in session.execute(
        select(UserRole.user_id, Role.role_name)
        .join(Role, (Role.tenant == UserRole.tenant) & (Role.role_id == UserRole.role_id))
        .where(UserRole.tenant == tenant)
    ):
        roles.setdefault(user_id, []).append(name)
    return [(u, sorted(roles.get(u.user_id, []))) for u in users]
