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
NUMBER_ATTEMPTS = 20


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


def open_ticket_with_key(
    session: Session, tenant: str, dedupe_key: str, *, lock: bool = False
) -> Ticket | None:
    """The open ticket with ``dedupe_key`` (there is at most one).

    ``lock``: hold its row for the transaction (PostgreSQL), so a close
    cannot commit between this read and the caller's writes; a ticket closed
    while this waited for the lock is not returned (READ COMMITTED checks
    ``closed_at`` again on the locked row).
    """
    query = select(Ticket).where(
        Ticket.tenant == tenant,
        Ticket.dedupe_key == dedupe_key,
        Ticket.closed_at.is_(None),
    )
    found: Ticket | None = session.scalar(
        query.with_for_update().execution_options(populate_existing=True) if lock else query
    )
    return found


def is_closed(session: Session, ticket: Ticket) -> bool:
    """Whether ``ticket`` is closed in the database now (not in the session's copy)."""
    closed_at = session.execute(
        select(Ticket.closed_at).where(
            Ticket.tenant == ticket.tenant, Ticket.ticket_id == ticket.ticket_id
        )
    ).scalar_one()
    return closed_at is not None


def insert_ticket(
    session: Session, tenant: str, build: Callable[[str], Ticket]
) -> tuple[Ticket, bool]:
    """Insert the ticket ``build(number)`` makes; (ticket, True), or (the open one, False).

    When the new ticket has a dedupe key and another transaction opened a
    ticket with that key first, nothing is inserted (the number is not
    spent) and that ticket is returned.
    """
    for _ in range(NUMBER_ATTEMPTS):
        try:
            with session.begin_nested():
                ticket = build(f"T-{next_number(session, tenant)}")
                session.add(ticket)
                session.flush()
            return ticket, True
        except IntegrityError:
            key = ticket.dedupe_key
            existing = open_ticket_with_key(session, tenant, key) if key is not None else None
            if existing is not None:
                return existing, False
            # Else the number was taken by a ticket the counter did not issue (rows
            # imported from elsewhere); the savepoint took the counter's bump back with
            # it, so move the counter past that number for good and try the next.
            next_number(session, tenant)
    raise RuntimeError(f"no free ticket number after {NUMBER_ATTEMPTS} attempts")


def new_ticket_id() -> uuid.UUID:
    """A fresh ticket id."""
    return uuid.uuid4()
