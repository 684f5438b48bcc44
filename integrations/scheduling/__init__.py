"""Core scheduling actions: ``scheduling.create_entry`` and its calendar sync.

A core-object group (the designer's ``scheduling`` tile, always available),
so no integration module and no availability resolver: ``register`` adds the
actions and subscribes the calendar sync to ``SCHEDULE_ENTRY_CREATED``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actionkit.outbound import HostRules
from actionkit.spec import ActionSpec, ActionUI
from catalog.microsoft import GRAPH_HOSTS, LOGIN_HOSTS, MICROSOFT
from catalog.registration import Catalog, Subscription, register_vendor, subscribe
from catalog.vendors import Vendor
from integrations.scheduling.actions import ENTRY_CREATED, create_entry, sync_calendar
from integrations.scheduling.graph import (
    CLIENT_ID_SECRET_NAME,
    CLIENT_SECRET_SECRET_NAME,
    TOKEN_SECRET_NAME,
)
from integrations.scheduling.models import (
    CreateEntryInput,
    CreateEntryOutput,
    SyncCalendarInput,
    SyncCalendarOutput,
)


def connect_hints(url: str, seed: Mapping[str, Any], tenant: str) -> list[str]:
    """How to connect a technician's calendar to the sandbox's FakeMicrosoft at ``url``."""
    first_user = seed["users"][0]["userPrincipalName"]
    return [
        f"patchbay user add tech1 --tenant {tenant} --technician",
        f"patchbay calendar connect --tenant {tenant} --user tech1 --account {first_user} "
        f"--aad-tenant {seed['tenant_id']} --login-url {url} "
        f"--graph-url {url} "
        f"--secret {CLIENT_ID_SECRET_NAME}={seed['client_id']} "
        f"--secret {CLIENT_SECRET_SECRET_NAME}={seed['client_secret']}",
    ]


def sandbox_secrets(seed: Mapping[str, Any]) -> dict[str, str]:
    """The tenant secrets that reach the sandbox's FakeMicrosoft, from its credential set."""
    return {
        CLIENT_ID_SECRET_NAME: seed["client_id"],
        CLIENT_SECRET_SECRET_NAME: seed["client_secret"],
    }


# Microsoft 365 (identity platform + Graph), whose calendars the sync writes to.
# Connected per user (``patchbay calendar connect``), not per tenant.
MICROSOFT_VENDOR = Vendor(
    provider=MICROSOFT,
    label="Microsoft 365",
    connection=None,
    secret_names=(CLIENT_ID_SECRET_NAME, CLIENT_SECRET_SECRET_NAME, TOKEN_SECRET_NAME),
    hosts=HostRules(known=LOGIN_HOSTS.known + GRAPH_HOSTS.known, custom_hosts=False),
    connect_hints=connect_hints,
    sandbox_secrets=sandbox_secrets,
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
    ui=ActionUI(
        label="Sync schedule entry to calendars",
        description=(
            "Create or update the entry's event in each assignee's connected Microsoft 365 "
            "calendar; run by patchbay after an entry is created."
        ),
        category="Business Operations",
    ),
)


def _sync_input(payload: dict[str, Any]) -> dict[str, Any]:
    return {"entry_id": payload["entry_id"]}


def register(catalog: Catalog) -> None:
    """Add the scheduling actions, the calendar-sync subscription and Microsoft's facts."""
    register_vendor(catalog, MICROSOFT_VENDOR)
    for spec in (CREATE_ENTRY, SYNC_CALENDAR):
        if catalog.actions.find(spec.id, spec.version) is None:
            catalog.actions.register(spec)
    subscribe(catalog, Subscription(ENTRY_CREATED, SYNC_CALENDAR.id, _sync_input))
