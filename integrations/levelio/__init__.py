"""Level (level.io): devices, alerts, updates and automations, as the ``app:levelio`` tile.

Level is a hosted RMM: its API root is ``https://api.level.io`` unless the
connection names another (``patchbay connect levelio --url``, which then
needs ``--allow-custom-host``). The secret ``levelio_api_key`` (required) is
sent raw in ``Authorization``; keys are read-only or read/write, and the
connection check says which. ``levelio_webhook_secret`` (optional) is the
secret Level signs its outbound webhooks with, read by the inbound receiver
(``webhooks.py``), not by the actions.

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
from integrations.levelio.actions import ACTIONS, FIND_DEVICES, RESOLVE_ALERT, register_actions
from integrations.levelio.connection import (
    API_KEY_NAME,
    HOSTS,
    LABEL,
    PROVIDER,
    WEBHOOK_SECRET_NAME,
    check_connection,
)

__all__ = ["MODULE", "PROVIDER", "VENDOR", "register"]

# The fake's credential set (a read/write key) -> the secret that reaches it (``patchbay sandbox``).
SANDBOX = SeedSecrets(PROVIDER, {API_KEY_NAME: "api_key"})

VENDOR = Vendor(
    provider=PROVIDER,
    label=LABEL,
    connection="rmm",
    secret_names=(API_KEY_NAME, WEBHOOK_SECRET_NAME),
    required_secrets=(RequiredSecret(API_KEY_NAME),),
    hosts=HOSTS,
    check=check_connection,
    connect_hints=SANDBOX.hints,
    sandbox_secrets=SANDBOX.secrets,
)

MODULE = IntegrationModule(
    group_key=f"app:{PROVIDER}",
    label=LABEL,
    description="Level (level.io) actions for devices, alerts, patching, and automations.",
    icon_token="levelio",
    default_action_id=FIND_DEVICES.id,
    allowed_action_ids=tuple(spec.id for spec in ACTIONS),
    availability_key=f"rmm:{PROVIDER}",
)


def register(catalog: Catalog) -> None:
    """Register Level's facts, its actions, the ``app:levelio`` tile and its availability."""
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
        Subscription(ticket_link_closed(PROVIDER), RESOLVE_ALERT.id, _on_ticket_closed),
    )


def _on_ticket_closed(payload: dict[str, Any]) -> dict[str, Any]:
    return {"alert_id": payload["external_id"]}
