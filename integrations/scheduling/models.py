"""Inputs and outputs of the core scheduling actions.

Inputs accept exactly what their published JSON Schema allows (strict types
from ``actionkit.inputs``), with one rule JSON Schema cannot state: a window's
start must be before its end.
"""

from __future__ import annotations

import functools
import uuid
import zoneinfo
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from actionkit.inputs import (
    DATE_TIME_SCHEMA,
    DateTimeOptionalOffset,
    NotBlank,
    StrictInput,
    StripBlank,
    Uuid,
)

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


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    """The IANA zones this machine's time zone database knows, sorted."""
    # "localtime" is this machine's own zone under another name, not an IANA zone.
    return tuple(sorted(zoneinfo.available_timezones() - {"localtime"}))


class _TimeZoneName:
    """An IANA zone name; the schema lists them, so the designer can offer the same choice."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(cls._known, handler(source))

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "enum": list(time_zone_names())}

    @staticmethod
    def _known(value: str) -> str:
        if value not in time_zone_names():
            raise PydanticCustomError("time_zone", "unknown time zone {zone!r}", {"zone": value})
        return value


TimeZoneName = Annotated[str, _TimeZoneName]


class Window(StrictInput):
    """When the work happens. Times need a UTC offset, or ``timezone`` to place them."""

    # Without a time zone both times carry their offset (what _aware_and_ordered checks).
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"timezone": {"type": "null"}}},
            "then": {"properties": {"start": DATE_TIME_SCHEMA, "end": DATE_TIME_SCHEMA}},
        }
    )

    start: DateTimeOptionalOffset = Field(
        description="When the work starts: an RFC 3339 date-time, e.g. 2026-12-01T09:00:00Z; "
        "the UTC offset may be left out when timezone is given."
    )
    end: DateTimeOptionalOffset = Field(
        description="When the work ends (after start), written like start."
    )
    timezone: TimeZoneName | None = Field(
        default=None, description="IANA zone (e.g. Europe/Berlin) for times given without offset."
    )

    @model_validator(mode="after")
    def _aware_and_ordered(self) -> Window:
        zone = ZoneInfo(self.timezone) if self.timezone else None
        for name in ("start", "end"):
            value: datetime = getattr(self, name)
            if value.tzinfo is None:
                if zone is None:
                    raise ValueError(f"window.{name} needs a UTC offset or window.timezone")
                object.__setattr__(self, name, value.replace(tzinfo=zone))
        # The one rule the published schema cannot state (JSON Schema compares no two values).
        if self.start >= self.end:
            raise ValueError("window.start must be before window.end")
        return self


class Link(StrictInput):
    """The work item the entry is for."""

    type: Literal["ticket", "project_task"] = Field(
        description="ticket or project_task: which kind of work item id names."
    )
    id: Uuid = Field(description="The ticket's or project task's id in this tenant.")


class CreateEntryInput(StrictInput):
    """Put one or more technicians on the dispatch board."""

    assigned_user_ids: list[Uuid] = Field(
        min_length=1,
        max_length=50,
        json_schema_extra={"uniqueItems": True},
        description=(
            "The technicians to book (users with the Technician role, 1 to 50), each once "
            "(two spellings of one id count once)."
        ),
    )
    title: Annotated[str, StringConstraints(min_length=1, max_length=512), NotBlank, StripBlank] = (
        Field(description="What the board and the calendars show, e.g. Replace disk on DC01.")
    )
    window: Window
    link: Link | None = Field(
        default=None, description="The ticket or project task the work is for; none: ad-hoc work."
    )
    status: EntryStatus = Field(
        default="scheduled",
        description="The entry's status on creation (cancelled and completed come later).",
    )
    notes: Annotated[str, StringConstraints(max_length=10_000), StripBlank] | None = Field(
        default=None, description="Free text for the technicians, shown with the entry."
    )
    conflict_mode: Literal["fail", "shift", "override"] = Field(
        default="fail",
        description=(
            "fail: refuse when an assignee is busy; shift: move to the next window free for "
            "all assignees (searched up to 48 moves within 14 days); override: book anyway "
            "and record the conflicts."
        ),
    )

    @field_validator("assigned_user_ids", mode="before")
    @classmethod
    def _unique(cls, value: Any) -> Any:
        # As the schema's uniqueItems: the same text twice is refused...
        if isinstance(value, list):
            texts = [v for v in value if isinstance(v, str)]
            if len(set(texts)) != len(texts):
                raise ValueError("assigned_user_ids must not repeat a user")
        return value

    @field_validator("assigned_user_ids")
    @classmethod
    def _once_each(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        # ...and upper- and lower-case spellings of one id are one user.
        return list(dict.fromkeys(value))


class CreateEntryOutput(BaseModel):
    """The entry as created (after any shift)."""

    entry_id: uuid.UUID = Field(description="The new schedule entry's id.")
    assigned_user_ids: list[uuid.UUID] = Field(description="The technicians booked, each once.")
    start: datetime = Field(description="When the work starts (UTC), after any shift.")
    end: datetime = Field(description="When the work ends (UTC), after any shift.")
    status: str = Field(description="The entry's status, e.g. scheduled.")
    work_item_type: str = Field(description="ticket, project_task, or ad_hoc without a link.")
    work_item_id: uuid.UUID | None = Field(
        description="The linked ticket's or project task's id; null for ad-hoc work."
    )
    shifted: bool = Field(
        default=False, description="True when conflict_mode shift moved the entry to a free window."
    )
    conflicting_entry_ids: list[uuid.UUID] = Field(
        default_factory=list,
        description="With conflict_mode override: the entries it overlaps, recorded as conflicts.",
    )


class SyncCalendarInput(StrictInput):
    """Push one schedule entry to its assignees' external calendars."""

    entry_id: Uuid = Field(description="The schedule entry to push (scheduling.create_entry's).")


class SyncedEvent(BaseModel):
    """One assignee's calendar event for the entry."""

    user_id: uuid.UUID = Field(description="The assignee whose calendar holds the event.")
    connection_id: uuid.UUID = Field(description="The calendar connection written to.")
    external_event_id: str = Field(description="The event's id in that calendar (Graph's id).")
    created: bool = Field(description="True: the event was created now; false: it was updated.")


class SyncCalendarOutput(BaseModel):
    """The calendar events now holding the entry, one per connected assignee."""

    entry_id: uuid.UUID = Field(description="The schedule entry that was pushed.")
    synced: list[SyncedEvent] = Field(
        description="One event per assignee with an active calendar connection."
    )
