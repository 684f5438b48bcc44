"""The ticket store's writes that need care: numbering and the one open ticket per dedupe key.

Ticket numbers (``T-1``, ``T-2``...) come from a per-tenant counter bumped in
one ``UPDATE`` (the row lock orders concurrent creates on PostgreSQL; SQLite
has one writer). At most one ticket per tenant and dedupe key is open: a
partial unique index (``closed_at IS NULL``) guarantees it, and
:func:`insert_ticket` answers a lost race with the ticket that won.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import TenantCounter, Ticket

TICKET_COUNTER = "tickets"


def next_number(session: Session, tenant: str, counter: str = TICKET_COUNTER) -> int:
    """The tenant's next value of ``counter`` (1 first), taken in the caller's transaction."""
    for _ in range(3):
        value = session.execute(
            update(TenantCounter)
            .where(TenantCounter.tenant == tenant, TenantCounter.name == counter)
            .values(value=TenantCounter.value + 1)
            .returning(TenantCounter.value)
        ).scalar_one_or_none()
        if value is not None:
            return int(value)
        try:
            with session.begin_nested():
                session.add(TenantCounter(tenant=tenant, name=counter, value=1))
            return 1
        except IntegrityError:
            continue  # another transaction made the row meanwhile: bump it
    raise RuntimeError(f"could not take a number from counter {counter!r}")


def open_ticket_with_key(session: Session, tenant: str, dedupe_key: str) -> Ticket | None:
    """The open ticket with ``dedupe_key`` (there is at most one)."""
    found: Ticket | None = session.scalar(
        select(Ticket).where(
            Ticket.tenant == tenant,
            Ticket.dedupe_key == dedupe_key,
            Ticket.closed_at.is_(None),
        )
    )
    return found


def insert_ticket(
    session: Session, tenant: str, build: Callable[[str], Ticket]
) -> tuple[Ticket, bool]:
    """Insert the ticket ``build(number)`` makes; (ticket, True), or (the open one, False).

    When the new ticket has a dedupe key and another transaction opened a
    ticket with that key first, nothing is inserted (the number is not
    spent) and that ticket is returned.
    """
    try:
        with session.begin_nested():
            ticket = build(f"T-{next_number(session, tenant)}")
            session.add(ticket)
            session.flush()
        return ticket, True
    except IntegrityError:
        key = ticket.dedupe_key
        if key is None:
            raise
        existing = open_ticket_with_key(session, tenant, key)
        if existing is None:
            raise
        return existing, False


def new_ticket_id() -> uuid.UUID:
    """A fresh ticket id."""
    return uuid.uuid4()
