"""Users' external calendar connections (where schedule entries are pushed)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import CalendarConnection, User

CALENDAR_PROVIDERS = ("microsoft",)
SYNC_DIRECTIONS = ("to_external", "from_external", "bidirectional")


def connect_calendar(
    session: Session,
    tenant: str,
    user_id: uuid.UUID,
    *,
    provider: str,
    account: str,
    calendar_id: str | None = None,
    direction: str = "to_external",
    settings: dict[str, Any] | None = None,
) -> CalendarConnection:
    """Create or update the user's connection to ``provider`` (one per user and provider)."""
    if provider not in CALENDAR_PROVIDERS:
        raise ValueError(f"unknown calendar provider {provider!r} (known: microsoft)")
    if direction not in SYNC_DIRECTIONS:
        raise ValueError(f"sync direction must be one of {', '.join(SYNC_DIRECTIONS)}")
    row = session.scalar(
        select(CalendarConnection).where(
            CalendarConnection.tenant == tenant,
            CalendarConnection.user_id == user_id,
            CalendarConnection.provider == provider,
        )
    )
    if row is None:
        row = CalendarConnection(tenant=tenant, user_id=user_id, provider=provider)
        session.add(row)
    row.external_account = account
    row.calendar_id = calendar_id
    row.sync_direction = direction
    row.is_active = True
    row.settings = dict(settings or {})
    session.flush()
    return row


def disconnect_calendar(session: Session, tenant: str, user_id: uuid.UUID, provider: str) -> bool:
    """Stop syncing to that calendar; False if there was no active connection."""
    row = session.scalar(
        select(CalendarConnection).where(
            CalendarConnection.tenant == tenant,
            CalendarConnection.user_id == user_id,
            CalendarConnection.provider == provider,
            CalendarConnection.is_active.is_(True),
        )
    )
    if row is None:
        return False
    row.is_active = False
    session.flush()
    return True


def list_calendars(session: Session, tenant: str) -> list[tuple[CalendarConnection, str | None]]:
    """The tenant's calendar connections, oldest first, each with its user's username.

    The username is what people type (``calendar connect --user``); the user's
    UUID stays on the connection row. None if the user row is gone (no foreign
    key ties the two).
    """
    rows = session.execute(
        select(CalendarConnection, User.username)
        .outerjoin(
            User,
            (User.tenant == CalendarConnection.tenant)
            & (User.user_id == CalendarConnection.user_id),
        )
        .where(CalendarConnection.tenant == tenant)
        .order_by(CalendarConnection.created_at, CalendarConnection.connection_id)
    )
    return [(connection, username) for connection, username in rows]
