"""Core scheduling actions: ``scheduling.create_entry`` and its calendar sync.

A core-object group (the designer's ``scheduling`` tile, always available),
so no integration module and no availability resolver: ``register`` adds the
actions and subscribes the calendar sync to ``SCHEDULE_ENTRY_CREATED``.
"""

from __future__ import annotations

from typing import Any

from actionkit.spec import ActionSpec, ActionUI
from catalog.registration import Catalog, Subscription, subscribe
from integrations.scheduling.actions import ENTRY_CREATED, create_entry, sync_calendar
from integrations.scheduling.models import (
    CreateEntryInput,
    CreateEntryOutput,
    SyncCalendarInput,
    SyncCalendarOutput,
)

CREATE_ENTRY = ActionSpec(
    id="scheduling.create_entry",
    version=1,
    input_model=CreateEntryInput,
    output_model=CreateEntryOutput,
    handler=create_entry,
    side_effectful=True,
    ui=ActionUI(
        label="Create schedule entry",
        description=(
            "Put technicians on the dispatch board for a ticket, a project task or ad-hoc "
            "work; the entry is pushed to their connected external calendars."
        ),
        category="Business Operations",
        icon="scheduling",
    ),
)

SYNC_CALENDAR = ActionSpec(
    id="scheduling.entries.sync_calendar",
    version=1,
    input_model=SyncCalendarInput,
    output_model=SyncCalendarOutput,
    handler=sync_calendar,
    side_effectful=True,
    # Create is deduplicated by Graph's transactionId and update is idempotent.
    safe_to_repeat=True,
    internal=True,
    ui=ActionUI(label="Sync schedule entry to calendars", category="Business Operations"),
)


def _sync_input(payload: dict[str, Any]) -> dict[str, Any]:
    return {"entry_id": payload["entry_id"]}


def register(catalog: Catalog) -> None:
    """Add the scheduling actions and the calendar-sync subscription."""
    for spec in (CREATE_ENTRY, SYNC_CALENDAR):
        if catalog.actions.find(spec.id, spec.version) is None:
            catalog.actions.register(spec)
    subscribe(catalog, Subscription(ENTRY_CREATED, SYNC_CALENDAR.id, _sync_input))
