"""Inputs and outputs of the core scheduling actions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Statuses a new entry may be created with; "cancelled" and "completed" are
# reached by later actions, never at creation.
ENTRY_STATUSES = ("scheduled", "confirmed", "tentative", "in_progress")
EntryStatus = Literal["scheduled", "confirmed", "tentative", "in_progress"]
# Entries in these states do not block a technician's time.
NON_BLOCKING_STATUSES = (
    "cancelled",
    "canceled",
    "completed",
    "complete",
    "done",
    "no_show",
    "no-show",
)


class Window(BaseModel):
    """When the work happens. Times need a UTC offset, or ``timezone`` to place them."""

    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime
    timezone: str | None = Field(
        default=None, description="IANA zone (e.g. Europe/Berlin) for times given without offset."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _aware_and_ordered(self) -> Window:
        zone = ZoneInfo(self.timezone) if self.timezone else None
        for name in ("start", "end"):
            value: datetime = getattr(self, name)
            if value.tzinfo is None:
                if zone is None:
                    raise ValueError(f"window.{name} needs a UTC offset or window.timezone")
                object.__setattr__(self, name, value.replace(tzinfo=zone))
        if self.start >= self.end:
            raise ValueError("window.start must be before window.end")
        return self


class Link(BaseModel):
    """The work item the entry is for."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["ticket", "project_task"]
    id: uuid.UUID


class CreateEntryInput(BaseModel):
    """Put one or more technicians on the dispatch board."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    assigned_user_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)
    title: str = Field(min_length=1, max_length=512)
    window: Window
    link: Link | None = None
    status: EntryStatus = "scheduled"
    notes: str | None = Field(default=None, max_length=10_000)
    conflict_mode: Literal["fail", "shift", "override"] = Field(
        default="fail",
        description=(
            "fail: refuse when an assignee is busy; shift: move to the next window free for "
            "all assignees (searched up to 48 moves within 14 days); override: book anyway "
            "and record the conflicts."
        ),
    )

    @field_validator("assigned_user_ids")
    @classmethod
    def _unique(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(value)) != len(value):
            raise ValueError("assigned_user_ids must not repeat a user")
        return value


class CreateEntryOutput(BaseModel):
    """The entry as created (after any shift)."""

    entry_id: uuid.UUID
    assigned_user_ids: list[uuid.UUID]
    start: datetime
    end: datetime
    status: str
    work_item_type: str
    work_item_id: uuid.UUID | None
    shifted: bool = False
    conflicting_entry_ids: list[uuid.UUID] = Field(default_factory=list)


class SyncCalendarInput(BaseModel):
    """Push one schedule entry to its assignees' external calendars."""

    model_config = ConfigDict(extra="forbid")

    entry_id: uuid.UUID


class SyncedEvent(BaseModel):
    user_id: uuid.UUID
    connection_id: uuid.UUID
    external_event_id: str
    created: bool


class SyncCalendarOutput(BaseModel):
    entry_id: uuid.UUID
    synced: list[SyncedEvent]
