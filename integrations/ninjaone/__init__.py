"""NinjaOne: devices (find, sync, reboot, scripts) and alerts, as the ``app:ninjaone`` tile.

``register(catalog)`` is the whole public surface; importing this package
registers nothing.
"""

from __future__ import annotations

from typing import Any

from catalog.availability import rmm_integration_availability
from catalog.events import ticket_link_closed
from catalog.modules import IntegrationModule
from catalog.registration import (
    Catalog,
    Subscription,
    register_integration_module,
    register_vendor,
    subscribe,
)
from catalog.vendors import RequiredSecret, SeedSecrets, Vendor
from integrations.ninjaone.actions import (
    ACTIONS,
    FIND_DEVICES,
    PROVIDER,
    RESET_ALERT,
    register_actions,
)
from integrations.ninjaone.client import HOSTS
from integrations.ninjaone.connection import check_connection
from integrations.ninjaone.credentials import (
    CLIENT_ID_NAME,
    CLIENT_SECRET_NAME,
    CREDENTIALS_NAME,
    SEED_TOKEN_NAME,
)

# The fake's credential set -> the secrets that reach it (``patchbay sandbox``).
SANDBOX = SeedSecrets(
    PROVIDER,
    {
        CLIENT_ID_NAME: "client_id",
        CLIENT_SECRET_NAME: "client_secret",
        SEED_TOKEN_NAME: "refresh_token",
    },
)

VENDOR = Vendor(
    provider=PROVIDER,
    label="NinjaOne",
    connection="rmm",
    secret_names=(CLIENT_ID_NAME, CLIENT_SECRET_NAME, SEED_TOKEN_NAME, CREDENTIALS_NAME),
    required_secrets=(
        RequiredSecret(CLIENT_ID_NAME),
        RequiredSecret(CLIENT_SECRET_NAME),
        # Once connected, the stored token set stands in for the pasted refresh token.
        RequiredSecret(SEED_TOKEN_NAME, or_stored=(CREDENTIALS_NAME,)),
    ),
    hosts=HOSTS,
    check=check_connection,
    connect_hints=SANDBOX.hints,
    sandbox_secrets=SANDBOX.secrets,
)

MODULE = IntegrationModule(
    group_key=f"app:{PROVIDER}",
    label="NinjaOne",
    description=(
        "Find, sync and reboot NinjaOne devices, run scripts on them, and work their alerts."
    ),
    icon_token="ninjaone",
    default_action_id=FIND_DEVICES.id,
    allowed_action_ids=tuple(spec.id for spec in ACTIONS),
    availability_key=f"rmm:{PROVIDER}",
)


def register(catalog: Catalog) -> None:
    """Register NinjaOne's facts, its actions, the ``app:ninjaone`` tile and its availability."""
    register_vendor(catalog, VENDOR)
    register_integration_module(
        catalog,
        module=MODULE,
        availability=rmm_integration_availability(PROVIDER),
        register_actions=register_actions,
    )
    # A ticket linked to one of its items with sync_close was closed (``tickets.close``).
    subscribe(
        catalog,
        Subscription(ticket_link_closed(PROVIDER), RESET_ALERT.id, _on_ticket_closed),
    )


def _on_ticket_closed(payload: dict[str, Any]) -> dict[str, Any]:
    return {"alert_uid": payload["external_id"]}
