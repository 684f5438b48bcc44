"""Inputs and outputs of the core ticket actions.

Inputs accept exactly what their published JSON Schema allows
(``actionkit.inputs``). A ticket links to at most one RMM alert and one
Huntress incident per step (``alert``, ``incident``); a deduplicated create
that finds the open ticket adds its links to it, so one ticket collects every
alert of a storm.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from actionkit.inputs import NotBlank, StrictInput, StripBlank, Uuid

Priority = Literal["low", "medium", "high", "critical"]
OpenStatus = Literal["open", "in_progress", "waiting"]
Status = Literal["open", "in_progress", "waiting", "closed"]
STATUSES: tuple[str, ...] = ("open", "in_progress", "waiting", "closed")
AlertProvider = Literal["ninjaone", "levelio"]
# What a note keeps of a long text (script output): the rest is cut, with a marker.
NOTE_MAX_CHARS = 65_536
# The most a note's input may be (what a step's message can reasonably carry).
NOTE_INPUT_MAX_CHARS = 1_000_000
HUNTRESS_ID_MAX = 2_147_483_647

Title = Annotated[str, StringConstraints(min_length=1, max_length=512), NotBlank, StripBlank]
Text = Annotated[str, StringConstraints(min_length=1, max_length=255), NotBlank, StripBlank]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=100_000), NotBlank, StripBlank]


class AlertLink(StrictInput):
    """An RMM alert the ticket is about."""

    provider: AlertProvider = Field(description="Whose alert: ninjaone or levelio.")
    alert_id: Text = Field(
        description="The alert's id at that RMM (NinjaOne: alert_uid; Level: alert_id)."
    )
    sync_close: bool = Field(
        default=False,
        description="Closing the ticket resets (NinjaOne) or resolves (Level) the alert, once.",
    )


class IncidentLink(StrictInput):
    """A Huntress incident report the ticket is about."""

    incident_id: int = Field(ge=1, le=HUNTRESS_ID_MAX, description="The incident report id.")
    sync_close: bool = Field(
        default=False, description="Closing the ticket resolves the incident report, once."
    )


class CreateTicketInput(StrictInput):
    """A new ticket, or (with dedupe_key) the open one with that key."""

    title: Title = Field(description="What the ticket is about, e.g. Disk full on SRV-DC01.")
    description: LongText | None = Field(
        default=None, description="The details: symptoms, what was seen, what to check."
    )
    priority: Priority = Field(default="medium", description="low, medium, high or critical.")
    board: Text | None = Field(default=None, description="The board (queue) it goes to.")
    asset_id: Uuid | None = Field(default=None, description="The asset (device) it is about.")
    assignee_user_id: Uuid | None = Field(
        default=None, description="The internal user it is assigned to."
    )
    dedupe_key: Text | None = Field(
        default=None,
        description="While a ticket with this key is open, creating another returns it "
        "(created: false) and adds this step's links to it: an alert storm makes one ticket.",
    )
    alert: AlertLink | None = Field(default=None, description="An RMM alert it is about.")
    incident: IncidentLink | None = Field(
        default=None, description="A Huntress incident report it is about."
    )


class TicketLinkView(BaseModel):
    """A vendor item the ticket is about."""

    kind: str = Field(description="rmm_alert or huntress_incident.")
    provider: str = Field(description="ninjaone, levelio or huntress.")
    external_id: str = Field(description="The alert's or incident report's id at the vendor.")
    sync_close: bool = Field(description="Whether closing the ticket resolves it at the vendor.")


class TicketView(BaseModel):
    """A ticket as the actions return it."""

    ticket_id: uuid.UUID = Field(description="The ticket's id.")
    ticket_number: str = Field(description="Its number, e.g. T-42.")
    title: str = Field(description="What the ticket is about, as created.")
    status: str = Field(description="open, in_progress, waiting or closed.")
    priority: str = Field(description="low, medium, high or critical.")
    board: str | None = Field(description="Its board (queue), if any.")
    asset_id: uuid.UUID | None = Field(description="The asset it is about, if any.")
    assignee_user_id: uuid.UUID | None = Field(description="Who it is assigned to, if anyone.")
    dedupe_key: str | None = Field(description="Its dedupe key, if any.")
    resolution: str | None = Field(description="How it was resolved, once closed.")
    created_at: datetime = Field(description="When it was created (UTC).")
    closed_at: datetime | None = Field(description="When it was closed (UTC), if it is.")
    links: list[TicketLinkView] = Field(description="The vendor items it is about.")
    note_count: int = Field(description="How many notes it has.")


class CreateTicketOutput(BaseModel):
    """The ticket created, or the open one with the same dedupe key."""

    ticket: TicketView = Field(description="The new ticket, or the open one with the same key.")
    created: bool = Field(
        description="False when the open ticket with the same dedupe_key was returned."
    )


class TicketInput(StrictInput):
    """One ticket of this tenant."""

    ticket_id: Uuid = Field(description="The ticket's id (tickets.create's ticket.ticket_id).")


class AddNoteInput(TicketInput):
    """A note to add to the ticket."""

    text: Annotated[
        str, StringConstraints(min_length=1, max_length=NOTE_INPUT_MAX_CHARS), NotBlank
    ] = Field(
        description=f"The note, kept whole up to {NOTE_MAX_CHARS} characters; beyond that the "
        "rest is cut and a marker says how much (long script output)."
    )
    internal: bool = Field(
        default=True, description="True: for technicians only; false: visible to the client."
    )


class AddNoteOutput(BaseModel):
    """The note as stored."""

    note_id: uuid.UUID = Field(description="The note's id.")
    ticket_id: uuid.UUID = Field(description="The ticket it is on.")
    internal: bool = Field(description="Whether it is internal.")
    stored_chars: int = Field(description="How many characters of the text were kept.")
    truncated_chars: int = Field(description="How many characters were cut (0: none).")


class UpdateTicketInput(TicketInput):
    """What to change; fields left out stay as they are."""

    status: OpenStatus | None = Field(
        default=None,
        description="open, in_progress or waiting (open reopens a closed ticket; close one "
        "with tickets.close).",
    )
    priority: Priority | None = Field(default=None, description="low, medium, high or critical.")
    assignee_user_id: Uuid | None = Field(
        default=None,
        description="Assign it to this internal user; null assigns it to nobody (left out: "
        "unchanged).",
    )


class CloseTicketInput(TicketInput):
    """How the ticket was resolved."""

    resolution: LongText = Field(description="How it was resolved.")


class CloseTicketOutput(BaseModel):
    """The ticket, closed."""

    ticket: TicketView = Field(description="The ticket after closing.")
    already_closed: bool = Field(
        description="True when it was closed before this step (nothing changed)."
    )
    vendor_syncs: list[TicketLinkView] = Field(
        description="The linked vendor items whose resolution this close requested (sync_close)."
    )


class FindTicketsInput(StrictInput):
    """Which tickets: by id, by dedupe key, by status; newest first."""

    ticket_id: Uuid | None = Field(default=None, description="Only this ticket.")
    dedupe_key: Text | None = Field(default=None, description="Only tickets with this key.")
    status: list[Status] = Field(
        default_factory=list, max_length=4, description="Only tickets in one of these statuses."
    )
    limit: int = Field(default=20, ge=1, le=100, description="At most this many (1-100).")


class FindTicketsOutput(BaseModel):
    """The tickets found."""

    tickets: list[TicketView] = Field(description="The matching tickets, newest first.")
    count: int = Field(description="How many tickets were found (the length of tickets).")
