"""Handlers of the core ticket actions: create (deduplicated), add a note, update, close, find.

Each writes in one transaction of the store. Exactly once: a step that ran
and committed but whose success was never recorded (its worker died) runs
again with the same idempotency key; ``create`` and ``add_note`` find what
that key made (``source_key``) instead of making another; ``update`` sets
values (a repeat changes nothing); ``close`` of a closed ticket changes
nothing and writes no second event.

Closing a ticket writes one ``TICKET_LINK_CLOSED.<provider>`` outbox event
per link that asks for it (``sync_close``), in the close's transaction; the
relay turns each into the vendor's step keyed by the event
(``catalog.events``), so the vendor hears of the close exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from actionkit.context import ActionContext
from actionkit.errors import Conflict, NotFound
from catalog.events import ticket_link_closed
from integrations.tickets.models import (
    NOTE_MAX_CHARS,
    AddNoteInput,
    AddNoteOutput,
    CloseTicketInput,
    CloseTicketOutput,
    CreateTicketInput,
    CreateTicketOutput,
    FindTicketsInput,
    FindTicketsOutput,
    TicketLinkView,
    TicketView,
    UpdateTicketInput,
)
from store.models import Asset, OutboxEvent, Ticket, TicketLink, TicketNote, User
from store.tickets import insert_ticket, is_closed, open_ticket_with_key
from store.types import utcnow

RMM_ALERT = "rmm_alert"
HUNTRESS_INCIDENT = "huntress_incident"


def _view(session: Session, ticket: Ticket) -> TicketView:
    links = session.scalars(
        select(TicketLink)
        .where(TicketLink.tenant == ticket.tenant, TicketLink.ticket_id == ticket.ticket_id)
        .order_by(TicketLink.created_at, TicketLink.provider, TicketLink.external_id)
    )
    notes = session.scalar(
        select(func.count())
        .select_from(TicketNote)
        .where(TicketNote.tenant == ticket.tenant, TicketNote.ticket_id == ticket.ticket_id)
    )
    return TicketView(
        ticket_id=ticket.ticket_id,
        ticket_number=ticket.ticket_number,
        title=ticket.title,
        status=ticket.status,
        priority=ticket.priority,
        board=ticket.board,
        asset_id=ticket.asset_id,
        assignee_user_id=ticket.assignee_user_id,
        dedupe_key=ticket.dedupe_key,
        resolution=ticket.resolution,
        created_at=ticket.created_at,
        closed_at=ticket.closed_at,
        links=[_link_view(link) for link in links],
        note_count=int(notes or 0),
    )


def _link_view(link: TicketLink) -> TicketLinkView:
    return TicketLinkView(
        kind=link.kind,
        provider=link.provider,
        external_id=link.external_id,
        sync_close=link.sync_close,
    )


def _ticket(session: Session, tenant: str, ticket_id: uuid.UUID, *, lock: bool = False) -> Ticket:
    """The tenant's ticket (locked for the transaction if asked); NOT_FOUND otherwise."""
    query = select(Ticket).where(Ticket.tenant == tenant, Ticket.ticket_id == ticket_id)
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound(
            f"ticket {ticket_id} not found in this tenant", details={"ticket_id": str(ticket_id)}
        )
    return found


def _check_refs(
    session: Session, tenant: str, asset_id: uuid.UUID | None, assignee: uuid.UUID | None
) -> None:
    if asset_id is not None and session.get(Asset, (tenant, asset_id)) is None:
        raise NotFound(f"asset {asset_id} not found", details={"asset_id": str(asset_id)})
    if assignee is not None:
        user = session.get(User, (tenant, assignee))
        if user is None or user.is_inactive or user.user_type != "internal":
            raise NotFound(
                f"assignee {assignee} not found, inactive or not internal",
                details={"assignee_user_id": str(assignee)},
            )


def _wanted_links(inp: CreateTicketInput) -> list[tuple[str, str, str, bool]]:
    """(kind, provider, external id, sync_close) of each link the input names."""
    links: list[tuple[str, str, str, bool]] = []
    if inp.alert is not None:
        links.append((RMM_ALERT, inp.alert.provider, inp.alert.alert_id, inp.alert.sync_close))
    if inp.incident is not None:
        links.append(
            (HUNTRESS_INCIDENT, "huntress", str(inp.incident.incident_id), inp.incident.sync_close)
        )
    return links


def _add_links(
    session: Session, ticket: Ticket, links: Sequence[tuple[str, str, str, bool]]
) -> None:
    """Add links the ticket does not have yet (a known link keeps the most eager sync_close).

    Each insert is its own savepoint: another step adding the same link at
    the same moment (a vendor sending one alert twice) is not an error.
    """
    for kind, provider, external_id, sync_close in links:
        key = (ticket.tenant, ticket.ticket_id, kind, provider, external_id)
        existing = session.get(TicketLink, key)
        if existing is None:
            try:
                with session.begin_nested():
                    session.add(
                        TicketLink(
                            tenant=ticket.tenant,
                            ticket_id=ticket.ticket_id,
                            kind=kind,
                            provider=provider,
                            external_id=external_id,
                            sync_close=sync_close,
                        )
                    )
                continue
            except IntegrityError:
                existing = session.get(TicketLink, key, populate_existing=True)
                assert existing is not None
        if sync_close and not existing.sync_close:
            existing.sync_close = True
    session.flush()


def _join_open_ticket(
    session: Session, tenant: str, dedupe_key: str, links: Sequence[tuple[str, str, str, bool]]
) -> Ticket | None:
    """The open ticket with the key, with ``links`` added; None when there is none.

    The ticket's row is locked (PostgreSQL) so a close cannot slip in between;
    on SQLite the links' insert takes the database's write lock, after which
    ``closed_at`` is read again: a ticket closed meanwhile gets no links (they
    would never reach the vendor) and the caller opens a new one.
    """
    found = open_ticket_with_key(session, tenant, dedupe_key, lock=True)
    if found is None:
        return None
    nested = session.begin_nested()
    _add_links(session, found, links)
    if is_closed(session, found):
        nested.rollback()
        return None
    nested.commit()
    return found


def create_ticket(inp: CreateTicketInput, ctx: ActionContext) -> CreateTicketOutput:
    """A new ticket; with a dedupe key, the open ticket with that key if there is one."""
    tenant = ctx.tenant_id
    links = _wanted_links(inp)
    with ctx.session() as session:
        mine = session.scalar(
            select(Ticket).where(Ticket.tenant == tenant, Ticket.source_key == ctx.idempotency_key)
        )
        if mine is not None:  # this step ran before and committed (its worker died)
            return CreateTicketOutput(ticket=_view(session, mine), created=True)
        _check_refs(session, tenant, inp.asset_id, inp.assignee_user_id)
        if inp.dedupe_key is not None:
            found = _join_open_ticket(session, tenant, inp.dedupe_key, links)
            if found is not None:
                return CreateTicketOutput(ticket=_view(session, found), created=False)

        def build(number: str) -> Ticket:
            return Ticket(
                tenant=tenant,
                ticket_id=uuid.uuid4(),
                ticket_number=number,
                title=inp.title,
                description=inp.description,
                priority=inp.priority,
                board=inp.board,
                asset_id=inp.asset_id,
                assignee_user_id=inp.assignee_user_id,
                dedupe_key=inp.dedupe_key,
                source_key=ctx.idempotency_key,
                status="open",
            )

        ticket, created = insert_ticket(session, tenant, build)
        _add_links(session, ticket, links)
        return CreateTicketOutput(ticket=_view(session, ticket), created=created)


def add_note(inp: AddNoteInput, ctx: ActionContext) -> AddNoteOutput:
    """A note on the ticket; a text over the cap is cut, with a marker saying how much."""
    tenant = ctx.tenant_id
    with ctx.session() as session:
        mine = session.scalar(
            select(TicketNote).where(
                TicketNote.tenant == tenant, TicketNote.source_key == ctx.idempotency_key
            )
        )
        if mine is None:
            _ticket(session, tenant, inp.ticket_id)
            body, cut = inp.text, 0
            if len(body) > NOTE_MAX_CHARS:
                cut = len(body) - NOTE_MAX_CHARS
                body = body[:NOTE_MAX_CHARS] + f"\n[... {cut} more characters cut]"
            mine = TicketNote(
                tenant=tenant,
                note_id=uuid.uuid4(),
                ticket_id=inp.ticket_id,
                body=body,
                is_internal=inp.internal,
                truncated_chars=cut,
                source_key=ctx.idempotency_key,
            )
            session.add(mine)
            session.flush()
        return AddNoteOutput(
            note_id=mine.note_id,
            ticket_id=mine.ticket_id,
            internal=mine.is_internal,
            stored_chars=len(mine.body) if not mine.truncated_chars else NOTE_MAX_CHARS,
            truncated_chars=mine.truncated_chars,
        )


def update_ticket(inp: UpdateTicketInput, ctx: ActionContext) -> TicketView:
    """Set the given fields; ``status: open`` reopens a closed ticket."""
    tenant = ctx.tenant_id
    with ctx.session() as session:
        ticket = _ticket(session, tenant, inp.ticket_id, lock=True)
        _check_refs(session, tenant, None, inp.assignee_user_id)
        if inp.status is not None and ticket.closed_at is not None and inp.status != "open":
            raise Conflict(
                f"ticket {ticket.ticket_number} is closed: reopen it with status open first",
                details={"ticket_id": str(ticket.ticket_id), "status": ticket.status},
            )
        try:
            with session.begin_nested():  # a reopen may meet another open ticket's dedupe key
                if inp.status is not None:
                    if ticket.closed_at is not None:
                        ticket.closed_at = None
                        ticket.resolution = None
                        ticket.close_key = None
                    ticket.status = inp.status
                if inp.priority is not None:
                    ticket.priority = inp.priority
                if "assignee_user_id" in inp.model_fields_set:
                    ticket.assignee_user_id = inp.assignee_user_id  # null: nobody
                session.flush()
        except IntegrityError:
            session.refresh(ticket)
            raise Conflict(
                f"ticket {ticket.ticket_number} cannot be reopened: another open ticket has its "
                f"dedupe key {ticket.dedupe_key!r}",
                details={"ticket_id": str(ticket.ticket_id), "dedupe_key": ticket.dedupe_key},
            ) from None
        return _view(session, ticket)


def close_ticket(inp: CloseTicketInput, ctx: ActionContext) -> CloseTicketOutput:
    """Close the ticket and ask each ``sync_close`` link's vendor to resolve its side, once."""
    tenant = ctx.tenant_id
    with ctx.session() as session:
        ticket = _ticket(session, tenant, inp.ticket_id, lock=True)
        synced = list(
            session.scalars(
                select(TicketLink).where(
                    TicketLink.tenant == tenant,
                    TicketLink.ticket_id == ticket.ticket_id,
                    TicketLink.sync_close.is_(True),
                )
            )
        )
        if ticket.closed_at is not None:
            # This very step closed it before (its worker died after committing):
            # answer as that run did; its events are already written.
            mine = ticket.close_key == ctx.idempotency_key
            return CloseTicketOutput(
                ticket=_view(session, ticket),
                already_closed=not mine,
                vendor_syncs=[_link_view(link) for link in synced] if mine else [],
            )
        ticket.status = "closed"
        ticket.closed_at = utcnow()
        ticket.resolution = inp.resolution
        ticket.close_key = ctx.idempotency_key
        for link in synced:
            session.add(
                OutboxEvent(
                    tenant=tenant,
                    event_type=ticket_link_closed(link.provider),
                    payload={
                        "ticket_id": str(ticket.ticket_id),
                        "ticket_number": ticket.ticket_number,
                        "kind": link.kind,
                        "provider": link.provider,
                        "external_id": link.external_id,
                        "resolution": inp.resolution,
                    },
                )
            )
        session.flush()
        return CloseTicketOutput(
            ticket=_view(session, ticket),
            already_closed=False,
            vendor_syncs=[_link_view(link) for link in synced],
        )


def find_tickets(inp: FindTicketsInput, ctx: ActionContext) -> FindTicketsOutput:
    """Tickets by id, dedupe key and status, newest first."""
    query = select(Ticket).where(Ticket.tenant == ctx.tenant_id)
    if inp.ticket_id is not None:
        query = query.where(Ticket.ticket_id == inp.ticket_id)
    if inp.dedupe_key is not None:
        query = query.where(Ticket.dedupe_key == inp.dedupe_key)
    if inp.status:
        query = query.where(Ticket.status.in_(inp.status))
    with ctx.session() as session:
        rows = session.scalars(
            query.order_by(Ticket.created_at.desc(), Ticket.ticket_number.desc()).limit(inp.limit)
        )
        tickets = [_view(session, t) for t in rows]
    return FindTicketsOutput(tickets=tickets, count=len(tickets))
