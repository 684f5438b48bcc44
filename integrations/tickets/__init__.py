"""Core ticket actions: create (deduplicated), add a note, update, close, find.

The designer's built-in ``ticket`` group (always available: a core object,
no vendor, no availability resolver). A minimal ticket store in patchbay's
own database (``tickets``, ``ticket_notes``, ``ticket_links``) so that the
PRD's flows (disk-full self-heal, Huntress incident response, escalation)
can end inside patchbay. Closing a ticket linked with ``sync_close`` to an
RMM alert or a Huntress incident writes an outbox event that the vendor's
package turns into its resolve step (``catalog.events.TICKET_LINK_CLOSED``).
"""

from __future__ import annotations

from typing import Any

from actionkit.spec import ActionSpec, ActionUI
from catalog.registration import Catalog
from integrations.tickets.actions import (
    add_note,
    close_ticket,
    create_ticket,
    find_tickets,
    update_ticket,
)
from integrations.tickets.models import (
    AddNoteInput,
    AddNoteOutput,
    CloseTicketInput,
    CloseTicketOutput,
    CreateTicketInput,
    CreateTicketOutput,
    FindTicketsInput,
    FindTicketsOutput,
    TicketView,
    UpdateTicketInput,
)

__all__ = ["ACTIONS", "register"]


def _ui(label: str, description: str) -> ActionUI:
    return ActionUI(label=label, description=description, category="Ticket", icon="ticket")


ACTIONS: tuple[ActionSpec[Any, Any], ...] = (
    ActionSpec(
        id="tickets.create",
        version=1,
        input_model=CreateTicketInput,
        output_model=CreateTicketOutput,
        handler=create_ticket,
        side_effectful=True,
        ui=_ui(
            "Create ticket",
            "Open a ticket, or with a dedupe key return the open one with that key (one "
            "ticket per alert storm); optionally linked to an RMM alert or a Huntress incident.",
        ),
    ),
    ActionSpec(
        id="tickets.add_note",
        version=1,
        input_model=AddNoteInput,
        output_model=AddNoteOutput,
        handler=add_note,
        side_effectful=True,
        ui=_ui("Add note", "Add an internal or public note (e.g. a script's output) to a ticket."),
    ),
    ActionSpec(
        id="tickets.update",
        version=1,
        input_model=UpdateTicketInput,
        output_model=TicketView,
        handler=update_ticket,
        side_effectful=True,
        ui=_ui("Update ticket", "Change a ticket's status, priority or assignee."),
    ),
    ActionSpec(
        id="tickets.close",
        version=1,
        input_model=CloseTicketInput,
        output_model=CloseTicketOutput,
        handler=close_ticket,
        side_effectful=True,
        ui=_ui(
            "Close ticket",
            "Close a ticket with its resolution; linked alerts and incidents that ask for it "
            "are resolved at the vendor, once.",
        ),
    ),
    ActionSpec(
        id="tickets.find",
        version=1,
        input_model=FindTicketsInput,
        output_model=FindTicketsOutput,
        handler=find_tickets,
        side_effectful=False,
        ui=_ui("Find tickets", "Tickets by id, dedupe key or status, newest first."),
    ),
)


def register(catalog: Catalog) -> None:
    """Add the ticket actions (the ``ticket`` core group lists them by their prefix)."""
    for spec in ACTIONS:
        if catalog.actions.find(spec.id, spec.version) is None:
            catalog.actions.register(spec)
