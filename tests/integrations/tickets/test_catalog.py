"""The designer's built-in ``ticket`` group lists the five ticket actions, create by default."""

from __future__ import annotations

from catalog.bootstrap import build_catalog
from catalog.designer import designer_catalog, palette
from integrations.tickets import ACTIONS
from store import Store
from store.tenants import create_tenant

TICKET_ACTIONS = [
    "tickets.add_note",
    "tickets.close",
    "tickets.create",
    "tickets.find",
    "tickets.update",
]


def test_the_ticket_group_lists_the_five_actions_with_create_as_default(store: Store) -> None:
    catalog = build_catalog()
    with store.sessions.begin() as session:
        create_tenant(session, "acme")
    with store.sessions() as session:
        records = designer_catalog(catalog, session, "acme")
        shown = [r.group_key for r in palette(catalog, session, "acme")]
    assert records[0].group_key == "ticket"  # core groups first, ticket leading them
    ticket = records[0]
    assert (ticket.label, ticket.tile_kind, ticket.available) == ("Ticket", "core-object", None)
    assert ticket.default_action_id == "tickets.create"
    assert ticket.allowed_action_ids == TICKET_ACTIONS
    by_id = {a.id: a for a in ticket.actions}
    assert sorted(by_id) == TICKET_ACTIONS
    assert {i: a.side_effectful for i, a in by_id.items()} == {
        "tickets.add_note": True,
        "tickets.close": True,
        "tickets.create": True,
        "tickets.find": False,
        "tickets.update": True,
    }
    assert by_id["tickets.create"].label == "Create ticket"
    assert by_id["tickets.create"].input_field_names == [
        "alert",
        "asset_id",
        "assignee_user_id",
        "board",
        "dedupe_key",
        "description",
        "incident",
        "priority",
        "title",
    ]
    assert by_id["tickets.create"].output_field_names == ["created", "ticket"]
    # No other tile offers them, and the group is on every tenant's palette (no connection).
    assert all(not a.id.startswith("tickets.") for r in records[1:] for a in r.actions)
    assert "ticket" in shown


def test_the_ticket_actions_run_on_the_core_task() -> None:
    catalog = build_catalog()
    for spec in ACTIONS:
        assert catalog.modules.of_action(spec.id) is None  # core: no vendor module
        assert spec.version == 1
