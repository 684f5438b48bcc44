"""tickets.create: the ticket as stored, numbering, dedupe, links, validation, NOT_FOUND, re-runs.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from sqlalchemy.orm import Session

from executor.settings import Settings
from integrations.tickets import actions
from store.models import Ticket
from store.tickets import open_ticket_with_key
from tests.integrations.tickets.conftest import OTHER, Desk, core_task, make_pipeline

NINJA_ALERT = "8c0e5a3f-2b1d-4c7e-9f60-1a2b3c4d5e6f"


def test_a_full_ticket_is_stored_as_given(desk: Desk) -> None:
    out = desk.ok(
        "create",
        {
            "title": "  Disk full on SRV-DC01  ",
            "description": "C: at 98%",
            "priority": "high",
            "board": "Service Desk",
            "asset_id": str(desk.asset),
            "assignee_user_id": str(desk.tech),
            "alert": {"provider": "ninjaone", "alert_id": NINJA_ALERT, "sync_close": True},
            "incident": {"incident_id": 4711},
        },
    )
    assert out["created"] is True
    ticket = out["ticket"]
    assert ticket["ticket_number"] == "T-1"
    assert ticket["title"] == "Disk full on SRV-DC01"  # surrounding blanks dropped
    assert ticket["status"] == "open"
    assert ticket["priority"] == "high"
    assert ticket["board"] == "Service Desk"
    assert ticket["asset_id"] == str(desk.asset)
    assert ticket["assignee_user_id"] == str(desk.tech)
    assert ticket["dedupe_key"] is None
    assert ticket["resolution"] is None
    assert ticket["closed_at"] is None
    assert ticket["note_count"] == 0
    assert sorted(ticket["links"], key=lambda link: link["kind"]) == [
        {
            "kind": "huntress_incident",
            "provider": "huntress",
            "external_id": "4711",
            "sync_close": False,
        },
        {
            "kind": "rmm_alert",
            "provider": "ninjaone",
            "external_id": NINJA_ALERT,
            "sync_close": True,
        },
    ]
    row = desk.ticket_row(ticket["ticket_id"])
    assert row.description == "C: at 98%"
    assert row.status == "open"
    assert desk.counts() == {
        "tickets": 1,
        "ticket_notes": 0,
        "ticket_links": 2,
        "domain_event_outbox": 0,
    }


def test_defaults_are_medium_priority_no_board_no_links(desk: Desk) -> None:
    ticket = desk.create("Printer jam")
    assert ticket["priority"] == "medium"
    assert (ticket["board"], ticket["asset_id"], ticket["assignee_user_id"]) == (None, None, None)
    assert ticket["links"] == []


def test_numbers_count_up_per_tenant(desk: Desk) -> None:
    numbers = [desk.create(f"t{i}")["ticket_number"] for i in range(3)]
    assert numbers == ["T-1", "T-2", "T-3"]
    other = desk.ok("create", {"title": "elsewhere"}, tenant=OTHER)["ticket"]
    assert other["ticket_number"] == "T-1"  # another tenant's counter
    assert desk.create("t3")["ticket_number"] == "T-4"


# -- dedupe ---------------------------------------------------------------------------------


def test_the_open_ticket_with_the_key_is_returned_and_collects_the_links(desk: Desk) -> None:
    first = desk.ok(
        "create",
        {
            "title": "Disk full",
            "dedupe_key": "disk:srv-dc01",
            "alert": {"provider": "ninjaone", "alert_id": "a-1"},
        },
    )
    assert first["created"] is True
    second = desk.ok(
        "create",
        {
            "title": "Disk full again",
            "priority": "critical",
            "dedupe_key": "disk:srv-dc01",
            "alert": {"provider": "levelio", "alert_id": "alr_2", "sync_close": True},
            "incident": {"incident_id": 9, "sync_close": True},
        },
    )
    assert second["created"] is False
    ticket = second["ticket"]
    assert ticket["ticket_id"] == first["ticket"]["ticket_id"]
    # The open ticket is returned as it is: the second step's fields do not overwrite it.
    assert (ticket["title"], ticket["priority"]) == ("Disk full", "medium")
    assert {
        (link["provider"], link["external_id"], link["sync_close"]) for link in ticket["links"]
    } == {
        ("ninjaone", "a-1", False),
        ("levelio", "alr_2", True),
        ("huntress", "9", True),
    }
    assert desk.counts()["tickets"] == 1


def test_a_known_link_keeps_the_most_eager_sync_close(desk: Desk) -> None:
    alert = {"provider": "levelio", "alert_id": "alr_1"}
    desk.ok("create", {"title": "x", "dedupe_key": "k", "alert": {**alert, "sync_close": True}})
    out = desk.ok("create", {"title": "x", "dedupe_key": "k", "alert": alert})
    assert out["ticket"]["links"] == [
        {"kind": "rmm_alert", "provider": "levelio", "external_id": "alr_1", "sync_close": True}
    ]
    out = desk.ok("create", {"title": "x", "dedupe_key": "k2", "alert": alert})
    desk.ok("create", {"title": "x", "dedupe_key": "k2", "alert": {**alert, "sync_close": True}})
    found = desk.ok("find", {"ticket_id": out["ticket"]["ticket_id"]})["tickets"][0]
    assert found["links"][0]["sync_close"] is True
    assert desk.counts()["ticket_links"] == 2


def test_without_a_dedupe_key_every_create_is_a_new_ticket(desk: Desk) -> None:
    a = desk.create("same")
    b = desk.create("same")
    assert a["ticket_id"] != b["ticket_id"]


def test_dedupe_keys_are_per_tenant(desk: Desk) -> None:
    mine = desk.create("x", dedupe_key="k")
    theirs = desk.ok("create", {"title": "x", "dedupe_key": "k"}, tenant=OTHER)
    assert theirs["created"] is True
    assert theirs["ticket"]["ticket_id"] != mine["ticket_id"]


def test_a_closed_tickets_key_opens_a_new_ticket(desk: Desk) -> None:
    first = desk.create("Disk full", dedupe_key="disk")
    desk.ok("close", {"ticket_id": first["ticket_id"], "resolution": "cleaned up"})
    again = desk.ok("create", {"title": "Disk full", "dedupe_key": "disk"})
    assert again["created"] is True
    assert again["ticket"]["ticket_id"] != first["ticket_id"]
    assert again["ticket"]["ticket_number"] == "T-2"
    # ...and that new ticket is now the one the key returns.
    third = desk.ok("create", {"title": "Disk full", "dedupe_key": "disk"})
    assert (third["created"], third["ticket"]["ticket_id"]) == (False, again["ticket"]["ticket_id"])


def test_a_link_added_while_its_ticket_is_being_closed_still_reaches_the_vendor(
    desk: Desk, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A create finds the open ticket; before it adds its link, another step closes the ticket.

    The interleaving is forced by running the close (in a thread of its own,
    on its own pipeline) right after the create's lookup; a create that locks
    the ticket makes the close wait for it, which is also fine.
    """
    ticket = desk.create("Disk full", dedupe_key="disk")
    lookup = open_ticket_with_key  # the real one, which the handler imported
    closer = make_pipeline(desk.store, settings)
    closing: list[threading.Thread] = []

    def close_meanwhile(
        session: Session, tenant: str, key: str, *, lock: bool = False
    ) -> Ticket | None:
        found = lookup(session, tenant, key, lock=lock)
        if not closing:
            step = core_task(
                "close", {"ticket_id": ticket["ticket_id"], "resolution": "done"}, key="close"
            )
            closing.append(threading.Thread(target=closer.execute, args=(step,)))
            closing[0].start()
            closing[0].join(timeout=3)  # done, or waiting for a lock the create holds
        return found

    monkeypatch.setattr(actions, "open_ticket_with_key", close_meanwhile)
    alert = {"provider": "ninjaone", "alert_id": "late-alert", "sync_close": True}
    out = desk.ok("create", {"title": "Disk full", "dedupe_key": "disk", "alert": alert})
    monkeypatch.undo()
    closing[0].join(timeout=30)
    assert not closing[0].is_alive()

    # Wherever the link ended up: on a closed ticket, its close must have asked the vendor.
    row = desk.ticket_row(out["ticket"]["ticket_id"])
    synced = [e.payload["external_id"] for e in desk.events()]
    assert row.closed_at is None or "late-alert" in synced, (row.status, synced)


# -- exactly once ---------------------------------------------------------------------------


def test_the_same_key_again_is_answered_from_the_ledger(desk: Desk) -> None:
    first = desk.ok("create", {"title": "x"}, key="once")
    assert desk.ok("create", {"title": "x"}, key="once") == first
    assert desk.counts()["tickets"] == 1


def test_the_same_key_with_another_input_is_refused(desk: Desk) -> None:
    desk.ok("create", {"title": "x"}, key="once")
    error = desk.error("create", {"title": "y"}, key="once")
    assert error["code"] == "IDEMPOTENCY_CONFLICT"
    assert desk.counts()["tickets"] == 1


def test_a_rerun_after_the_handler_committed_finds_its_ticket(desk: Desk) -> None:
    inp = {"title": "x", "alert": {"provider": "ninjaone", "alert_id": "a-1"}}
    first = desk.ok("create", inp, key="crash")
    desk.forget_success("crash")
    again = desk.ok("create", inp, key="crash")
    assert again == first
    assert desk.counts()["tickets"] == 1
    assert desk.counts()["ticket_links"] == 1
    assert desk.create("next")["ticket_number"] == "T-2"  # the re-run took no number


def test_a_rerun_of_a_deduplicated_create_still_returns_the_open_ticket(desk: Desk) -> None:
    first = desk.create("x", dedupe_key="k")
    inp = {"title": "x", "dedupe_key": "k", "alert": {"provider": "levelio", "alert_id": "alr"}}
    hit = desk.ok("create", inp, key="hit")
    desk.forget_success("hit")
    again = desk.ok("create", inp, key="hit")
    assert again == hit
    assert (again["created"], again["ticket"]["ticket_id"]) == (False, first["ticket_id"])
    assert desk.counts()["tickets"] == 1
    assert desk.counts()["ticket_links"] == 1


# -- refusals -------------------------------------------------------------------------------


# Input is checked before the ledger or the store is touched: one backend is enough.
@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 513}, "title"),
        ({"priority": "urgent"}, "priority"),
        ({"colour": "red"}, "colour"),
        ({"dedupe_key": " "}, "dedupe_key"),
        ({"asset_id": "not-a-uuid"}, "asset_id"),
        ({"incident": {"incident_id": 0}}, "incident.incident_id"),
        ({"incident": {"incident_id": 2_147_483_648}}, "incident.incident_id"),
        ({"incident": {"incident_id": "12"}}, "incident.incident_id"),
        ({"alert": {"provider": "tacticalrmm", "alert_id": "1"}}, "alert.provider"),
        ({"alert": {"provider": "ninjaone"}}, "alert.alert_id"),
        ({"alert": {"provider": "ninjaone", "alert_id": "1", "extra": 1}}, "alert.extra"),
    ],
)
def test_bad_input_is_a_validation_error_naming_the_field(
    desk: Desk, change: dict[str, Any], field: str
) -> None:
    error = desk.error("create", {"title": "Disk full", **change})
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field
    assert desk.counts()["tickets"] == 0


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_missing_title_is_a_validation_error(desk: Desk) -> None:
    error = desk.error("create", {"priority": "low"})
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == "title"


@pytest.mark.parametrize("which", ["unknown", "other_tenant"])
def test_an_asset_not_in_the_tenant_is_not_found(desk: Desk, which: str) -> None:
    asset = uuid.uuid4() if which == "unknown" else desk.other_asset
    error = desk.error("create", {"title": "x", "asset_id": str(asset)})
    assert error["code"] == "NOT_FOUND"
    assert error["details"] == {"asset_id": str(asset)}
    assert desk.counts()["tickets"] == 0


@pytest.mark.parametrize("which", ["unknown", "inactive", "contact", "other_tenant"])
def test_an_assignee_that_is_not_an_active_internal_user_is_not_found(
    desk: Desk, which: str
) -> None:
    user = {
        "unknown": uuid.uuid4(),
        "inactive": desk.inactive,
        "contact": desk.contact,
        "other_tenant": desk.other_tech,
    }[which]
    error = desk.error("create", {"title": "x", "assignee_user_id": str(user)})
    assert error["code"] == "NOT_FOUND"
    assert error["details"] == {"assignee_user_id": str(user)}
    assert desk.counts()["tickets"] == 0


def test_a_refused_create_spends_no_number(desk: Desk) -> None:
    desk.error("create", {"title": "x", "asset_id": str(uuid.uuid4())})
    assert desk.create("y")["ticket_number"] == "T-1"
