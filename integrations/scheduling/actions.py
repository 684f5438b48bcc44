"""Handlers of the core scheduling actions.

``scheduling.create_entry`` writes the entry, its assignees, any conflict rows
and a ``SCHEDULE_ENTRY_CREATED`` outbox row in one transaction; the outbox
relay turns that row into ``scheduling.entries.sync_calendar``, which pushes
the entry to each assignee's connected external calendar.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actionkit.context import ActionContext
from actionkit.errors import Conflict, NotFound, PermissionDenied
from catalog.microsoft import DEFAULT_GRAPH_URL, DEFAULT_LOGIN_URL, GRAPH_HOSTS
from integrations.scheduling.graph import GraphApp, GraphCalendar, graph_token
from integrations.scheduling.models import (
    NON_BLOCKING_STATUSES,
    CreateEntryInput,
    CreateEntryOutput,
    SyncCalendarInput,
    SyncCalendarOutput,
    SyncedEvent,
)
from store.db import insert_for
from store.models import (
    CalendarConnection,
    CalendarEventLink,
    OutboxEvent,
    ProjectTask,
    Role,
    ScheduleConflict,
    ScheduleEntry,
    ScheduleEntryAssignee,
    Ticket,
    User,
    UserRole,
)

ENTRY_CREATED = "SCHEDULE_ENTRY_CREATED"
TECHNICIAN_ROLE = "technician"
# How far "shift" looks for a free window: this many moves, within this span.
SHIFT_MAX_MOVES = 48
SHIFT_MAX_SPAN = timedelta(days=14)


def _output(entry: ScheduleEntry, user_ids: list[uuid.UUID], **extra: Any) -> CreateEntryOutput:
    return CreateEntryOutput(
        entry_id=entry.entry_id,
        assigned_user_ids=user_ids,
        start=entry.scheduled_start.astimezone(UTC),
        end=entry.scheduled_end.astimezone(UTC),
        status=entry.status,
        work_item_type=entry.work_item_type,
        work_item_id=entry.work_item_id,
        **extra,
    )


def _check_users(session: Session, tenant: str, user_ids: list[uuid.UUID]) -> None:
    """NOT_FOUND for unknown, inactive or other-tenant users; PERMISSION_DENIED for non-technicians.

    The users' rows are locked for the transaction, so two steps booking the
    same technician cannot both pass the conflict check.
    """
    found = {
        u.user_id: u
        for u in session.scalars(
            select(User).where(User.tenant == tenant, User.user_id.in_(user_ids)).with_for_update()
        )
    }
    missing = [
        uid
        for uid in user_ids
        if uid not in found or found[uid].is_inactive or found[uid].user_type != "internal"
    ]
    if missing:
        raise NotFound(
            "assigned users not found, inactive or not internal: "
            + ", ".join(str(u) for u in missing),
            details={"missing_user_ids": [str(u) for u in missing]},
        )
    technicians = set(
        session.scalars(
            select(UserRole.user_id)
            .join(Role, (Role.tenant == UserRole.tenant) & (Role.role_id == UserRole.role_id))
            .where(
                UserRole.tenant == tenant,
                UserRole.user_id.in_(user_ids),
                func.lower(Role.role_name) == TECHNICIAN_ROLE,
            )
        )
    )
    ineligible = [uid for uid in user_ids if uid not in technicians]
    if ineligible:
        raise PermissionDenied(
            "only technicians can be scheduled; not technicians: "
            + ", ".join(str(u) for u in ineligible),
            details={"ineligible_user_ids": [str(u) for u in ineligible]},
        )


def _check_link(session: Session, tenant: str, inp: CreateEntryInput) -> None:
    if inp.link is None:
        return
    if inp.link.type == "ticket":
        exists = session.get(Ticket, (tenant, inp.link.id)) is not None
        label = "Ticket"
    else:
        exists = session.get(ProjectTask, (tenant, inp.link.id)) is not None
        label = "Project task"
    if not exists:
        raise NotFound(
            f"{label} {inp.link.id} not found",
            details={"link": {"type": inp.link.type, "id": str(inp.link.id)}},
        )


def _overlaps(
    session: Session, tenant: str, user_ids: list[uuid.UUID], start: datetime, end: datetime
) -> list[tuple[uuid.UUID, uuid.UUID, datetime]]:
    """(entry_id, user_id, end) of blocking entries of these users that overlap [start, end)."""
    rows = session.execute(
        select(ScheduleEntry.entry_id, ScheduleEntryAssignee.user_id, ScheduleEntry.scheduled_end)
        .join(
            ScheduleEntryAssignee,
            (ScheduleEntryAssignee.tenant == ScheduleEntry.tenant)
            & (ScheduleEntryAssignee.entry_id == ScheduleEntry.entry_id),
        )
        .where(
            ScheduleEntry.tenant == tenant,
            ScheduleEntryAssignee.user_id.in_(user_ids),
            func.lower(ScheduleEntry.status).not_in(NON_BLOCKING_STATUSES),
            ScheduleEntry.scheduled_start < end,
            ScheduleEntry.scheduled_end > start,
        )
    )
    return [(r[0], r[1], r[2]) for r in rows]


def create_entry(inp: CreateEntryInput, ctx: ActionContext) -> CreateEntryOutput:
    """Create a dispatch-board entry, checking users, link and conflicts, in one transaction."""
    tenant = ctx.tenant_id
    user_ids = list(inp.assigned_user_ids)
    with ctx.session() as session:
        # A re-run of the same step (a worker died after committing) finds its entry.
        existing = session.scalar(
            select(ScheduleEntry).where(
                ScheduleEntry.tenant == tenant, ScheduleEntry.source_key == ctx.idempotency_key
            )
        )
        if existing is not None:
            assigned = list(
                session.scalars(
                    select(ScheduleEntryAssignee.user_id).where(
                        ScheduleEntryAssignee.tenant == tenant,
                        ScheduleEntryAssignee.entry_id == existing.entry_id,
                    )
                )
            )
            return _output(existing, sorted(assigned, key=user_ids.index))

        _check_users(session, tenant, user_ids)
        _check_link(session, tenant, inp)

        start, end = inp.window.start.astimezone(UTC), inp.window.end.astimezone(UTC)
        duration = end - start
        overlaps = _overlaps(session, tenant, user_ids, start, end)
        shifted = False
        if overlaps and inp.conflict_mode == "fail":
            raise Conflict(
                "schedule conflict: "
                + ", ".join(sorted({str(u) for _, u, _ in overlaps}))
                + " already booked in that window",
                details={
                    "conflicting_user_ids": sorted({str(u) for _, u, _ in overlaps}),
                    "conflicting_entry_ids": sorted({str(e) for e, _, _ in overlaps}),
                },
            )
        if overlaps and inp.conflict_mode == "shift":
            moves = 0
            while overlaps:
                moves += 1
                start = max(e for _, _, e in overlaps)
                end = start + duration
                if moves > SHIFT_MAX_MOVES or start - inp.window.start > SHIFT_MAX_SPAN:
                    raise Conflict(
                        f"no window free for all assignees within {SHIFT_MAX_MOVES} moves "
                        f"and {SHIFT_MAX_SPAN.days} days of the requested start",
                        details={"searched_until": start.isoformat()},
                    )
                overlaps = _overlaps(session, tenant, user_ids, start, end)
            shifted = True

        entry = ScheduleEntry(
            tenant=tenant,
            entry_id=uuid.uuid4(),
            title=inp.title,
            work_item_id=inp.link.id if inp.link else None,
            work_item_type=inp.link.type if inp.link else "ad_hoc",
            scheduled_start=start,
            scheduled_end=end,
            status=inp.status,
            notes=inp.notes,
            source_key=ctx.idempotency_key,
        )
        session.add(entry)
        session.flush()
        for uid in user_ids:
            session.add(ScheduleEntryAssignee(tenant=tenant, entry_id=entry.entry_id, user_id=uid))
        conflicting = sorted({e for e, _, _ in overlaps}) if inp.conflict_mode == "override" else []
        for other in conflicting:
            session.add(
                ScheduleConflict(
                    tenant=tenant,
                    entry_id_1=entry.entry_id,
                    entry_id_2=other,
                    conflict_type="overlap",
                    resolved=False,
                )
            )
        session.add(
            OutboxEvent(
                tenant=tenant,
                event_type=ENTRY_CREATED,
                payload={
                    "entry_id": str(entry.entry_id),
                    "assigned_user_ids": [str(u) for u in user_ids],
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "title": inp.title,
                    "status": inp.status,
                    "source_key": ctx.idempotency_key,
                },
            )
        )
        return _output(entry, user_ids, shifted=shifted, conflicting_entry_ids=conflicting)


def _event_body(entry: ScheduleEntry) -> dict[str, Any]:
    """The Graph event for an entry (UTC times; Graph renders them per mailbox)."""
    return {
        "subject": entry.title,
        "body": {"contentType": "text", "content": entry.notes or ""},
        "start": {
            "dateTime": entry.scheduled_start.strftime("%Y-%m-%dT%H:%M:%S"),
            "timeZone": "UTC",
        },
        "end": {"dateTime": entry.scheduled_end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "showAs": "tentative" if entry.status == "tentative" else "busy",
    }


def sync_calendar(inp: SyncCalendarInput, ctx: ActionContext) -> SyncCalendarOutput:
    """Create or update the entry's event in each assignee's connected calendar.

    The event id is stored per (entry, connection): a repeated or redelivered
    sync updates the event it made; the ``transactionId`` covers the window
    between Graph creating the event and the link being stored.
    """
    tenant = ctx.tenant_id
    with ctx.session() as session:
        entry = session.get(ScheduleEntry, (tenant, inp.entry_id))
        if entry is None:
            raise NotFound(f"schedule entry {inp.entry_id} not found")
        session.expunge(entry)
        assignees = list(
            session.scalars(
                select(ScheduleEntryAssignee.user_id).where(
                    ScheduleEntryAssignee.tenant == tenant,
                    ScheduleEntryAssignee.entry_id == inp.entry_id,
                )
            )
        )
        connections = list(
            session.scalars(
                select(CalendarConnection).where(
                    CalendarConnection.tenant == tenant,
                    CalendarConnection.user_id.in_(assignees),
                    CalendarConnection.provider == "microsoft",
                    CalendarConnection.is_active.is_(True),
                    CalendarConnection.sync_direction.in_(("to_external", "bidirectional")),
                )
            )
        )
        links = {
            link.connection_id: link.external_event_id
            for link in session.scalars(
                select(CalendarEventLink).where(
                    CalendarEventLink.tenant == tenant,
                    CalendarEventLink.entry_id == inp.entry_id,
                )
            )
        }
        for connection in connections:
            session.expunge(connection)

    synced: list[SyncedEvent] = []
    body = _event_body(entry)
    for connection in sorted(connections, key=lambda c: str(c.connection_id)):
        settings = connection.settings or {}
        app = GraphApp(
            aad_tenant=str(settings.get("aad_tenant") or "organizations"),
            login_url=str(settings.get("login_url") or DEFAULT_LOGIN_URL).rstrip("/"),
            graph_url=str(settings.get("graph_url") or DEFAULT_GRAPH_URL).rstrip("/"),
        )
        mailbox = connection.external_account or str(connection.user_id)

        def tokens(force: bool, app: GraphApp = app) -> str:
            return graph_token(ctx, app, force=force)

        with GraphCalendar(
            app.graph_url,
            tokens,
            policy=ctx.outbound(GRAPH_HOSTS),
            transport=ctx.transport("microsoft"),
            gate=ctx.gate,
        ) as graph:
            event_id = links.get(connection.connection_id)
            if event_id is not None:
                graph.update_event(mailbox, event_id, body)
                created = False
            else:
                event = graph.create_event(
                    mailbox,
                    body,
                    calendar_id=connection.calendar_id,
                    transaction_id=f"patchbay-{inp.entry_id}-{connection.connection_id}",
                )
                event_id = str(event["id"])
                _store_link(ctx, inp.entry_id, connection.connection_id, event_id)
                created = True
        synced.append(
            SyncedEvent(
                user_id=connection.user_id,
                connection_id=connection.connection_id,
                external_event_id=event_id,
                created=created,
            )
        )
    return SyncCalendarOutput(entry_id=inp.entry_id, synced=synced)


def _store_link(
    ctx: ActionContext, entry_id: uuid.UUID, connection_id: uuid.UUID, event_id: str
) -> None:
    with ctx.session() as session:
        session.execute(
            insert_for(session.get_bind())(CalendarEventLink)
            .values(
                tenant=ctx.tenant_id,
                entry_id=entry_id,
                connection_id=connection_id,
                external_event_id=event_id,
                last_synced_at=ctx.now(),
                created_at=ctx.now(),
                updated_at=ctx.now(),
            )
            .on_conflict_do_nothing(index_elements=["tenant", "entry_id", "connection_id"])
        )
