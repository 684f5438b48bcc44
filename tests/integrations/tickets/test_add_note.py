"""tickets.add_note: internal and public notes, the cap on long text, re-runs, refusals.

Every test runs on SQLite and on PostgreSQL, except the input checks (they
happen before the store is touched).
"""

from __future__ import annotations

import uuid

import pytest

from integrations.tickets.models import NOTE_INPUT_MAX_CHARS, NOTE_MAX_CHARS
from tests.integrations.tickets.conftest import OTHER, Desk


def test_a_note_is_stored_internal_by_default(desk: Desk) -> None:
    ticket = desk.create()
    out = desk.ok("add_note", {"ticket_id": ticket["ticket_id"], "text": "  checked the disk\n"})
    assert out["ticket_id"] == ticket["ticket_id"]
    assert out["internal"] is True
    assert (out["stored_chars"], out["truncated_chars"]) == (len("  checked the disk\n"), 0)
    [note] = desk.notes(ticket["ticket_id"])
    assert str(note.note_id) == out["note_id"]
    assert note.body == "  checked the disk\n"  # kept as sent: output keeps its layout
    assert note.is_internal is True
    assert note.truncated_chars == 0


def test_a_public_note_and_the_note_count(desk: Desk) -> None:
    ticket = desk.create()
    out = desk.ok(
        "add_note", {"ticket_id": ticket["ticket_id"], "text": "We are on it", "internal": False}
    )
    assert out["internal"] is False
    desk.ok("add_note", {"ticket_id": ticket["ticket_id"], "text": "second"})
    found = desk.ok("find", {"ticket_id": ticket["ticket_id"]})["tickets"][0]
    assert found["note_count"] == 2
    assert sorted(n.is_internal for n in desk.notes(ticket["ticket_id"])) == [False, True]


def test_a_note_of_exactly_the_cap_is_kept_whole(desk: Desk) -> None:
    ticket = desk.create()
    text = "".join(chr(ord("a") + i % 26) for i in range(NOTE_MAX_CHARS))
    out = desk.ok("add_note", {"ticket_id": ticket["ticket_id"], "text": text})
    assert (out["stored_chars"], out["truncated_chars"]) == (NOTE_MAX_CHARS, 0)
    [note] = desk.notes(ticket["ticket_id"])
    assert note.body == text


@pytest.mark.parametrize("over", [1, 100_000])
def test_a_longer_note_is_cut_at_the_cap_with_a_marker_naming_the_cut(
    desk: Desk, over: int
) -> None:
    ticket = desk.create()
    head = "".join(chr(ord("a") + i % 26) for i in range(NOTE_MAX_CHARS))
    text = head + "Z" * over
    out = desk.ok("add_note", {"ticket_id": ticket["ticket_id"], "text": text})
    assert (out["stored_chars"], out["truncated_chars"]) == (NOTE_MAX_CHARS, over)
    [note] = desk.notes(ticket["ticket_id"])
    assert note.body == head + f"\n[... {over} more characters cut]"
    assert note.truncated_chars == over


def test_a_note_at_the_input_maximum_is_accepted_and_cut(desk: Desk) -> None:
    ticket = desk.create()
    text = "x" * NOTE_INPUT_MAX_CHARS
    out = desk.ok("add_note", {"ticket_id": ticket["ticket_id"], "text": text})
    assert out["truncated_chars"] == NOTE_INPUT_MAX_CHARS - NOTE_MAX_CHARS


def test_the_same_key_again_adds_no_second_note(desk: Desk) -> None:
    ticket = desk.create()
    inp = {"ticket_id": ticket["ticket_id"], "text": "rebooted"}
    first = desk.ok("add_note", inp, key="note")
    assert desk.ok("add_note", inp, key="note") == first
    assert len(desk.notes(ticket["ticket_id"])) == 1


def test_a_rerun_after_the_handler_committed_finds_its_note(desk: Desk) -> None:
    ticket = desk.create()
    inp = {"ticket_id": ticket["ticket_id"], "text": "x" * (NOTE_MAX_CHARS + 7)}
    first = desk.ok("add_note", inp, key="crash")
    desk.forget_success("crash")
    again = desk.ok("add_note", inp, key="crash")
    assert again == first
    assert (again["stored_chars"], again["truncated_chars"]) == (NOTE_MAX_CHARS, 7)
    assert len(desk.notes(ticket["ticket_id"])) == 1


def test_a_closed_ticket_still_takes_notes(desk: Desk) -> None:
    ticket = desk.create()
    desk.ok("close", {"ticket_id": ticket["ticket_id"], "resolution": "done"})
    desk.ok("add_note", {"ticket_id": ticket["ticket_id"], "text": "follow-up call made"})
    assert len(desk.notes(ticket["ticket_id"])) == 1


@pytest.mark.parametrize("which", ["unknown", "other_tenant"])
def test_a_ticket_not_in_the_tenant_is_not_found(desk: Desk, which: str) -> None:
    ticket_id = (
        str(uuid.uuid4())
        if which == "unknown"
        else desk.ok("create", {"title": "theirs"}, tenant=OTHER)["ticket"]["ticket_id"]
    )
    error = desk.error("add_note", {"ticket_id": ticket_id, "text": "hello"})
    assert error["code"] == "NOT_FOUND"
    assert error["details"] == {"ticket_id": ticket_id}
    assert desk.counts()["ticket_notes"] == 0


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": " \n\t "}, "text"),
        ({"text": "x" * (NOTE_INPUT_MAX_CHARS + 1)}, "text"),
        ({"internal": "yes"}, "internal"),
        ({"ticket_id": "T-1"}, "ticket_id"),
        ({"visibility": "public"}, "visibility"),
    ],
)
def test_bad_input_is_a_validation_error_naming_the_field(
    desk: Desk, change: dict[str, object], field: str
) -> None:
    inp = {"ticket_id": str(uuid.uuid4()), "text": "hello", **change}
    error = desk.error("add_note", inp)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field
