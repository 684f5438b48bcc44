"""Escalation fan-out: book the first free technician, tell them and the channel, note it.

For an open ticket and technicians in order of preference:

1. ``escalation.read_ticket`` (``tickets.find``): the ticket (open, or the
   recipe stops);
2. ``escalation.book[i]`` (``scheduling.create_entry``, ``conflict_mode:
   fail``): each technician in turn for the window, until one is free (a busy
   one is the step's ``CONFLICT``, recorded and passed over); when all are
   busy, ``escalation.book_shifted`` books the first one at their next free
   window (``conflict_mode: shift``);
3. ``escalation.assign`` (``tickets.update``): the ticket to them, in progress;
4. ``escalation.notify`` (``teams.notify_user``): an escalation in their
   Teams activity feed;
5. ``escalation.post`` (``teams.post_to_channel``): who took it and when;
6. ``escalation.note`` (``tickets.add_note``): all of it, on the ticket.

The window starts ``lead_minutes`` after the quarter hour following the
run's first step (:attr:`RecipeRun.started_at`), so a resumed run asks for
the same window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from actionkit.inputs import StrictInput, Uuid
from recipes.common import SANDBOX_CHANNEL_ID, ChannelId, Text
from recipes.runner import Recipe, RecipeFailed, RecipeRun

QUARTER = timedelta(minutes=15)


class EscalationInput(StrictInput):
    """The ticket to escalate and who may take it."""

    ticket_id: Uuid = Field(description="The ticket to escalate (tickets.create's ticket_id).")
    technician_user_ids: list[Uuid] = Field(
        min_length=1,
        max_length=10,
        description="Technicians who may take it, in order of preference (1 to 10).",
    )
    duration_minutes: int = Field(
        default=60, ge=15, le=480, description="How long to book them for (15 to 480)."
    )
    lead_minutes: int = Field(
        default=0,
        ge=0,
        le=10_080,
        description="How long after the next quarter hour the window starts (0 to a week).",
    )
    reason: Text | None = Field(default=None, description="Why it is escalated, for everyone.")
    channel_id: ChannelId = SANDBOX_CHANNEL_ID


def next_quarter(at: datetime) -> datetime:
    """The first quarter hour (:00, :15, :30, :45) after ``at``."""
    floor = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
    return floor + QUARTER


def run(run: RecipeRun, inp: EscalationInput) -> dict[str, Any]:
    """The steps (module doc); the outcome: who was booked when, who was busy."""
    found = run.step(
        "escalation.read_ticket", "tickets.find", {"ticket_id": str(inp.ticket_id), "limit": 1}
    )
    if not found["tickets"]:
        raise RecipeFailed(f"ticket {inp.ticket_id} not found in tenant {run.tenant_id}")
    ticket = found["tickets"][0]
    number, title = ticket["ticket_number"], ticket["title"]
    if ticket["status"] == "closed":
        raise RecipeFailed(f"ticket {number} is closed: reopen it to escalate it")

    start = next_quarter(run.started_at) + timedelta(minutes=inp.lead_minutes)
    window = {
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=inp.duration_minutes)).isoformat(),
    }
    entry_input: dict[str, Any] = {
        "title": f"{number}: {title}",
        "window": window,
        "link": {"type": "ticket", "id": str(inp.ticket_id)},
        "notes": inp.reason or f"Escalated: {number}",
    }
    technicians = [str(t) for t in inp.technician_user_ids]
    busy: list[str] = []
    entry: dict[str, Any] | None = None
    for i, tech in enumerate(technicians):
        booked = run.attempt(
            f"escalation.book[{i}]",
            "scheduling.create_entry",
            {**entry_input, "assigned_user_ids": [tech], "conflict_mode": "fail"},
            accept=("CONFLICT",),
        )
        if booked.succeeded:
            entry = booked.output
            break
        busy.append(tech)
    if entry is None:
        entry = run.step(
            "escalation.book_shifted",
            "scheduling.create_entry",
            {**entry_input, "assigned_user_ids": technicians[:1], "conflict_mode": "shift"},
        )
    tech = str(entry["assigned_user_ids"][0])
    when = f"{entry['start']} to {entry['end']} (UTC)"

    run.step(
        "escalation.assign",
        "tickets.update",
        {"ticket_id": str(inp.ticket_id), "assignee_user_id": tech, "status": "in_progress"},
    )
    reason = f" Reason: {inp.reason}" if inp.reason else ""
    run.step(
        "escalation.notify",
        "teams.notify_user",
        {
            "user_id": tech,
            "title": f"{number} escalated to you",
            "message": f"{title}: booked {when}.{reason}",
            "category": "escalation",
        },
    )
    run.step(
        "escalation.post",
        "teams.post_to_channel",
        {
            "channel_id": inp.channel_id,
            "message": f"{number} {title} escalated: technician {tech} booked {when}.{reason}",
        },
    )
    passed = f" Busy then: {', '.join(busy)}." if busy else ""
    shifted = " (moved to their next free window)" if entry.get("shifted") else ""
    run.step(
        "escalation.note",
        "tickets.add_note",
        {
            "ticket_id": str(inp.ticket_id),
            "text": f"Escalated to technician {tech}, booked {when}{shifted} (schedule entry "
            f"{entry['entry_id']}); notified in Teams and posted to the on-call channel."
            f"{passed}{reason}",
            "internal": True,
        },
    )
    return {
        "ticket_number": number,
        "technician_user_id": tech,
        "entry_id": entry["entry_id"],
        "start": entry["start"],
        "end": entry["end"],
        "shifted": bool(entry.get("shifted")),
        "busy": busy,
    }


RECIPE = Recipe(
    name="escalation",
    summary="Escalation fan-out: book the first free technician for a ticket (scheduling, shift "
    "when all are busy), assign it, notify them and the channel in Teams, note it all.",
    input_model=EscalationInput,
    run=run,
)
