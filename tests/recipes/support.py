"""What the recipe tests read back: tickets and notes in the store, a recipe's printed steps."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from store import Store
from store.models import Ticket, TicketNote

# One step as `patchbay recipe run` prints it (patchbay.cli.recipes.step_line).
STEP_LINE = re.compile(
    r"^(?P<status>[A-Z_]+)\s+(?P<path>\S+) \((?P<action>[\w.]+), [\d.]+s(?P<how>.*)\)$"
)


@dataclass(frozen=True)
class PrintedStep:
    status: str
    path: str
    action: str
    how: str
    key: str


def printed_steps(out: str) -> list[PrintedStep]:
    """The steps a recipe run printed, in order, each with its key (the line after it)."""
    lines = out.splitlines()
    steps = []
    for i, line in enumerate(lines):
        found = STEP_LINE.match(line)
        if found is None:
            continue
        key = lines[i + 1].strip().removeprefix("key ")
        steps.append(
            PrintedStep(
                found["status"], found["path"], found["action"], found["how"].strip(", "), key
            )
        )
    return steps


def ticket(store: Store, tenant: str, number: str) -> Ticket:
    """The tenant's ticket with that number."""
    with store.sessions() as session:
        found = session.scalar(
            select(Ticket).where(Ticket.tenant == tenant, Ticket.ticket_number == number)
        )
        assert found is not None, number
        session.expunge(found)
        return found


def tickets(store: Store, tenant: str) -> list[Ticket]:
    with store.sessions() as session:
        found = list(session.scalars(select(Ticket).where(Ticket.tenant == tenant)))
        for t in found:
            session.expunge(t)
        return found


def notes(store: Store, tenant: str, number: str) -> list[str]:
    """The bodies of a ticket's notes, oldest first."""
    with store.sessions() as session:
        return list(
            session.scalars(
                select(TicketNote.body)
                .join(
                    Ticket,
                    (Ticket.tenant == TicketNote.tenant)
                    & (Ticket.ticket_id == TicketNote.ticket_id),
                )
                .where(Ticket.tenant == tenant, Ticket.ticket_number == number)
                .order_by(TicketNote.created_at)
            )
        )
