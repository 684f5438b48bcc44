"""tickets.update, tickets.close and tickets.find: changes, reopening, the close's events, filters.

Every test runs on SQLite and on PostgreSQL, except the input checks (they
happen before the store is touched).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from catalog.events import ticket_link_closed
from tests.integrations.tickets.conftest import OTHER, TENANT, Desk

# -- update ---------------------------------------------------------------------------------


def test_update_sets_status_priority_and_assignee(desk: Desk) -> None:
    ticket = desk.create()
    out = desk.ok(
        "update",
        {
            "ticket_id": ticket["ticket_id"],
            "status": "in_progress",
            "priority": "critical",
            "assignee_user_id": str(desk.tech),
        },
    )
    assert (out["status"], out["priority"], out["assignee_user_id"]) == (
        "in_progress",
        "critical",
        str(desk.tech),
    )
    row = desk.ticket_row(ticket["ticket_id"])
    assert (row.status, row.priority, row.assignee_user_id) == (
        "in_progress",
        "critical",
        desk.tech,
    )


def test_fields_left_out_stay_as_they_are(desk: Desk) -> None:
    ticket = desk.create(priority="high", assignee_user_id=str(desk.tech))
    out = desk.ok("update", {"ticket_id": ticket["ticket_id"], "status": "waiting"})
    assert (out["status"], out["priority"], out["assignee_user_id"]) == (
        "waiting",
        "high",
        str(desk.tech),
    )
    out = desk.ok("update", {"ticket_id": ticket["ticket_id"]})
    assert {k: v for k, v in out.items() if k != "created_at"} == {
        k: v for k, v in {**ticket, "status": "waiting"}.items() if k != "created_at"
    }


def test_unassign_assigns_it_to_nobody(desk: Desk) -> None:
    ticket = desk.create(assignee_user_id=str(desk.tech))
    out = desk.ok("update", {"ticket_id": ticket["ticket_id"], "assignee_user_id": None})
    assert out["assignee_user_id"] is None
    assert desk.ticket_row(ticket["ticket_id"]).assignee_user_id is None


def test_an_update_run_again_after_its_commit_changes_nothing_more(desk: Desk) -> None:
    ticket = desk.create()
    inp = {"ticket_id": ticket["ticket_id"], "priority": "low", "status": "waiting"}
    first = desk.ok("update", inp, key="crash")
    desk.forget_success("crash")
    again = desk.ok("update", inp, key="crash")
    assert {k: again[k] for k in ("status", "priority")} == {"status": "waiting", "priority": "low"}
    assert again["ticket_id"] == first["ticket_id"]


@pytest.mark.parametrize("which", ["unknown", "inactive", "contact", "other_tenant"])
def test_an_assignee_that_is_not_an_active_internal_user_is_not_found(
    desk: Desk, which: str
) -> None:
    ticket = desk.create()
    user = {
        "unknown": uuid.uuid4(),
        "inactive": desk.inactive,
        "contact": desk.contact,
        "other_tenant": desk.other_tech,
    }[which]
    error = desk.error("update", {"ticket_id": ticket["ticket_id"], "assignee_user_id": str(user)})
    assert error["code"] == "NOT_FOUND"
    assert error["details"] == {"assignee_user_id": str(user)}
    assert desk.ticket_row(ticket["ticket_id"]).assignee_user_id is None


def test_reopening_a_closed_ticket_clears_its_resolution(desk: Desk) -> None:
    ticket = desk.create(dedupe_key="disk")
    desk.ok("close", {"ticket_id": ticket["ticket_id"], "resolution": "cleaned"})
    out = desk.ok("update", {"ticket_id": ticket["ticket_id"], "status": "open"})
    assert (out["status"], out["closed_at"], out["resolution"]) == ("open", None, None)
    # Open again: its dedupe key returns it again.
    hit = desk.ok("create", {"title": "again", "dedupe_key": "disk"})
    assert (hit["created"], hit["ticket"]["ticket_id"]) == (False, ticket["ticket_id"])


def test_a_closed_ticket_must_be_reopened_before_another_status(desk: Desk) -> None:
    ticket = desk.create()
    desk.ok("close", {"ticket_id": ticket["ticket_id"], "resolution": "done"})
    error = desk.error("update", {"ticket_id": ticket["ticket_id"], "status": "in_progress"})
    assert error["code"] == "CONFLICT"
    assert "reopen it with status open first" in error["message"]
    assert desk.ticket_row(ticket["ticket_id"]).status == "closed"


def test_reopening_while_another_open_ticket_holds_the_key_is_a_conflict(desk: Desk) -> None:
    old = desk.create("Disk full", dedupe_key="disk")
    desk.ok("close", {"ticket_id": old["ticket_id"], "resolution": "cleaned"})
    new = desk.create("Disk full", dedupe_key="disk")
    error = desk.error(
        "update", {"ticket_id": old["ticket_id"], "status": "open", "priority": "high"}
    )
    assert error["code"] == "CONFLICT"
    assert error["details"] == {"ticket_id": old["ticket_id"], "dedupe_key": "disk"}
    assert "another open ticket has its dedupe key" in error["message"]
    row = desk.ticket_row(old["ticket_id"])
    assert (row.status, row.priority, row.resolution) == ("closed", "medium", "cleaned")
    assert row.closed_at is not None
    assert desk.ticket_row(new["ticket_id"]).status == "open"


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "closed"}, "status"),
        ({"status": "resolved"}, "status"),
        ({"priority": "p1"}, "priority"),
        ({"unassign": True}, "unassign"),
        ({"assignee_user_id": "adele"}, "assignee_user_id"),
        ({"title": "renamed"}, "title"),
    ],
)
def test_bad_update_input_is_a_validation_error_naming_the_field(
    desk: Desk, change: dict[str, Any], field: str
) -> None:
    error = desk.error("update", {"ticket_id": str(uuid.uuid4()), **change})
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field


# -- close ----------------------------------------------------------------------------------


def test_close_records_the_resolution(desk: Desk) -> None:
    ticket = desk.create()
    out = desk.ok("close", {"ticket_id": ticket["ticket_id"], "resolution": "  Freed 20 GB  "})
    assert out["already_closed"] is False
    assert out["vendor_syncs"] == []
    closed = out["ticket"]
    assert (closed["status"], closed["resolution"]) == ("closed", "Freed 20 GB")
    assert closed["closed_at"] is not None
    assert desk.events() == []  # nothing linked: nothing for a vendor


def test_closing_writes_one_event_per_link_that_asks_for_it(desk: Desk) -> None:
    ticket = desk.ok(
        "create",
        {
            "title": "Ransomware on WS-12",
            "dedupe_key": "k",
            "alert": {"provider": "ninjaone", "alert_id": "n-1", "sync_close": True},
            "incident": {"incident_id": 77, "sync_close": True},
        },
    )["ticket"]
    desk.ok(
        "create",
        {
            "title": "again",
            "dedupe_key": "k",
            "alert": {"provider": "levelio", "alert_id": "alr_9"},  # sync_close false
        },
    )
    out = desk.ok("close", {"ticket_id": ticket["ticket_id"], "resolution": "Isolated"})
    assert sorted((s["provider"], s["external_id"]) for s in out["vendor_syncs"]) == [
        ("huntress", "77"),
        ("ninjaone", "n-1"),
    ]
    events = desk.events()
    assert sorted(e.event_type for e in events) == [
        ticket_link_closed("huntress"),
        ticket_link_closed("ninjaone"),
    ]
    by_provider = {e.payload["provider"]: e for e in events}
    assert by_provider["ninjaone"].tenant == TENANT
    assert by_provider["ninjaone"].published_at is None
    assert by_provider["ninjaone"].payload == {
        "ticket_id": ticket["ticket_id"],
        "ticket_number": ticket["ticket_number"],
        "kind": "rmm_alert",
        "provider": "ninjaone",
        "external_id": "n-1",
        "resolution": "Isolated",
    }
    assert by_provider["huntress"].payload["kind"] == "huntress_incident"
    assert by_provider["huntress"].payload["external_id"] == "77"


def test_a_link_without_sync_close_writes_no_event(desk: Desk) -> None:
    ticket = desk.create(
        alert={"provider": "levelio", "alert_id": "alr_1"}, incident={"incident_id": 5}
    )
    out = desk.ok("close", {"ticket_id": ticket["ticket_id"], "resolution": "done"})
    assert out["vendor_syncs"] == []
    assert desk.events() == []


def test_the_same_close_again_is_answered_from_the_ledger(desk: Desk) -> None:
    ticket = desk.create(alert={"provider": "ninjaone", "alert_id": "n-1", "sync_close": True})
    inp = {"ticket_id": ticket["ticket_id"], "resolution": "done"}
    first = desk.ok("close", inp, key="close")
    assert desk.ok("close", inp, key="close") == first
    assert first["already_closed"] is False
    assert len(desk.events()) == 1


def test_a_second_close_changes_nothing_and_writes_no_event(desk: Desk) -> None:
    ticket = desk.create(alert={"provider": "ninjaone", "alert_id": "n-1", "sync_close": True})
    first = desk.ok("close", {"ticket_id": ticket["ticket_id"], "resolution": "done"})
    second = desk.ok("close", {"ticket_id": ticket["ticket_id"], "resolution": "other words"})
    assert second["already_closed"] is True
    assert second["vendor_syncs"] == []
    assert second["ticket"]["resolution"] == "done"
    assert second["ticket"]["closed_at"] == first["ticket"]["closed_at"]
    assert len(desk.events()) == 1


def test_a_close_run_again_after_its_commit_writes_no_second_event(desk: Desk) -> None:
    ticket = desk.create(incident={"incident_id": 3, "sync_close": True})
    inp = {"ticket_id": ticket["ticket_id"], "resolution": "done"}
    first = desk.ok("close", inp, key="crash")
    desk.forget_success("crash")
    again = desk.ok("close", inp, key="crash")
    assert again["ticket"]["closed_at"] == first["ticket"]["closed_at"]
    assert again["ticket"]["resolution"] == "done"
    # The same step answers as its first run did: it closed the ticket, and synced it.
    assert (again["already_closed"], again["vendor_syncs"]) == (False, first["vendor_syncs"])
    assert first["vendor_syncs"] != []
    assert len(desk.events()) == 1


def test_closing_after_a_reopen_syncs_again(desk: Desk) -> None:
    """A reopened ticket that is closed again asks the vendor again (a new event)."""
    ticket = desk.create(alert={"provider": "levelio", "alert_id": "alr_1", "sync_close": True})
    desk.ok("close", {"ticket_id": ticket["ticket_id"], "resolution": "one"})
    desk.ok("update", {"ticket_id": ticket["ticket_id"], "status": "open"})
    out = desk.ok("close", {"ticket_id": ticket["ticket_id"], "resolution": "two"})
    assert out["already_closed"] is False
    assert [e.payload["resolution"] for e in desk.events()] == ["one", "two"]


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("inp", "field"),
    [
        ({"resolution": "   "}, "resolution"),
        ({"resolution": "x" * 100_001}, "resolution"),
        ({}, "resolution"),
        ({"resolution": "ok", "notify": True}, "notify"),
    ],
)
def test_bad_close_input_is_a_validation_error_naming_the_field(
    desk: Desk, inp: dict[str, Any], field: str
) -> None:
    error = desk.error("close", {"ticket_id": str(uuid.uuid4()), **inp})
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field


# -- another tenant's ticket ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "extra"),
    [
        ("add_note", {"text": "hello"}),
        ("update", {"priority": "low"}),
        ("close", {"resolution": "done"}),
    ],
)
@pytest.mark.parametrize("which", ["unknown", "other_tenant"])
def test_a_ticket_not_in_the_tenant_is_not_found(
    desk: Desk, action: str, extra: dict[str, Any], which: str
) -> None:
    theirs = desk.create(alert={"provider": "ninjaone", "alert_id": "n-1", "sync_close": True})
    ticket_id = theirs["ticket_id"] if which == "other_tenant" else str(uuid.uuid4())
    error = desk.error(action, {"ticket_id": ticket_id, **extra}, tenant=OTHER)
    assert error["code"] == "NOT_FOUND"
    assert error["details"] == {"ticket_id": ticket_id}
    row = desk.ticket_row(theirs["ticket_id"])
    assert (row.status, row.priority, row.closed_at) == ("open", "medium", None)
    assert desk.counts()["ticket_notes"] == 0
    assert desk.events() == []


def test_find_does_not_see_another_tenants_tickets(desk: Desk) -> None:
    theirs = desk.create(dedupe_key="shared")
    out = desk.ok("find", {"ticket_id": theirs["ticket_id"]}, tenant=OTHER)
    assert out == {"tickets": [], "count": 0}
    assert desk.ok("find", {"dedupe_key": "shared"}, tenant=OTHER)["count"] == 0
    assert desk.ok("find", {}, tenant=OTHER)["count"] == 0


def test_a_dedupe_key_in_another_tenant_does_not_return_its_ticket(desk: Desk) -> None:
    theirs = desk.create(dedupe_key="shared")
    mine = desk.ok("create", {"title": "x", "dedupe_key": "shared"}, tenant=OTHER)
    assert mine["created"] is True
    assert mine["ticket"]["ticket_id"] != theirs["ticket_id"]


# -- find -----------------------------------------------------------------------------------


@pytest.fixture
def four(desk: Desk) -> list[dict[str, Any]]:
    """T-1 closed (key disk), T-2 open (key disk), T-3 waiting, T-4 open (key cpu)."""
    t1 = desk.create("one", dedupe_key="disk")
    desk.ok("close", {"ticket_id": t1["ticket_id"], "resolution": "done"})
    t2 = desk.create("two", dedupe_key="disk")
    t3 = desk.create("three")
    desk.ok("update", {"ticket_id": t3["ticket_id"], "status": "waiting"})
    t4 = desk.create("four", dedupe_key="cpu")
    return [t1, t2, t3, t4]


def numbers(out: dict[str, Any]) -> list[str]:
    assert out["count"] == len(out["tickets"])
    return [t["ticket_number"] for t in out["tickets"]]


def test_find_lists_newest_first(desk: Desk, four: list[dict[str, Any]]) -> None:
    assert numbers(desk.ok("find", {})) == ["T-4", "T-3", "T-2", "T-1"]


def test_find_by_id(desk: Desk, four: list[dict[str, Any]]) -> None:
    out = desk.ok("find", {"ticket_id": four[2]["ticket_id"]})
    assert numbers(out) == ["T-3"]
    assert out["tickets"][0]["status"] == "waiting"
    assert desk.ok("find", {"ticket_id": str(uuid.uuid4())}) == {"tickets": [], "count": 0}


def test_find_by_dedupe_key_includes_closed_tickets(desk: Desk, four: list[dict[str, Any]]) -> None:
    assert numbers(desk.ok("find", {"dedupe_key": "disk"})) == ["T-2", "T-1"]
    assert numbers(desk.ok("find", {"dedupe_key": "disk", "status": ["open"]})) == ["T-2"]


def test_find_by_status(desk: Desk, four: list[dict[str, Any]]) -> None:
    assert numbers(desk.ok("find", {"status": ["closed"]})) == ["T-1"]
    assert numbers(desk.ok("find", {"status": ["open", "waiting"]})) == ["T-4", "T-3", "T-2"]
    assert numbers(desk.ok("find", {"status": ["in_progress"]})) == []


def test_find_limit(desk: Desk, four: list[dict[str, Any]]) -> None:
    assert numbers(desk.ok("find", {"limit": 2})) == ["T-4", "T-3"]
    assert numbers(desk.ok("find", {"limit": 1, "status": ["open"]})) == ["T-4"]


def test_find_orders_by_number_beyond_nine(desk: Desk) -> None:
    for i in range(11):
        desk.create(f"t{i}")
    assert numbers(desk.ok("find", {"limit": 3})) == ["T-11", "T-10", "T-9"]


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("inp", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"status": ["resolved"]}, "status.0"),
        ({"status": "open"}, "status"),
        ({"ticket_id": "T-1"}, "ticket_id"),
        ({"title": "x"}, "title"),
    ],
)
def test_bad_find_input_is_a_validation_error_naming_the_field(
    desk: Desk, inp: dict[str, Any], field: str
) -> None:
    error = desk.error("find", inp)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field
