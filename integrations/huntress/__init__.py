"""Huntress: incident reports (find, get, resolve), their remediations, organizations, agents.

The ``app:huntress`` tile. Huntress is hosted: its API root is
``https://api.huntress.io`` unless the connection names another (``patchbay
connect huntress --url``, which then needs ``--allow-custom-host``). The
secrets ``huntress_api_key`` and ``huntress_api_secret`` are one key pair,
sent as HTTP Basic; reads work with any key, resolving reports and
approving or rejecting remediations need a user-based key with that
permission (the default account key is read-only).

Huntress documents 60 requests per minute per account, on a sliding window
(``rate_limit``): the executor's throttle enforces it across all workers,
Celery's per-worker ceiling is derived from it, and the client waits a 429
out for that window (``HuntressClient.rate_window``).

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
from integrations.huntress.actions import (
    ACTIONS,
    FIND_INCIDENTS,
    RESOLVE_INCIDENT,
    register_actions,
)
from integrations.huntress.connection import (
    API_KEY_NAME,
    API_SECRET_NAME,
    HOSTS,
    LABEL,
    PROVIDER,
    RATE_LIMIT,
    check_connection,
)

__all__ = ["MODULE", "PROVIDER", "VENDOR", "register"]

# The fake's credential set -> the secrets that reach it (``patchbay sandbox``).
SANDBOX = SeedSecrets(PROVIDER, {API_KEY_NAME: "api_key", API_SECRET_NAME: "api_secret"})

VENDOR = Vendor(
    provider=PROVIDER,
    label=LABEL,
    connection="rmm",
    secret_names=(API_KEY_NAME, API_SECRET_NAME),
    required_secrets=(RequiredSecret(API_KEY_NAME), RequiredSecret(API_SECRET_NAME)),
    rate_limit=RATE_LIMIT,
    hosts=HOSTS,
    check=check_connection,
    connect_hints=SANDBOX.hints,
    sandbox_secrets=SANDBOX.secrets,
)

MODULE = IntegrationModule(
    group_key=f"app:{PROVIDER}",
    label=LABEL,
    description="Huntress managed security actions for incident reports and agents.",
    icon_token="huntress",
    default_action_id=FIND_INCIDENTS.id,
    allowed_action_ids=tuple(spec.id for spec in ACTIONS),
    availability_key=f"rmm:{PROVIDER}",
)


def register(catalog: Catalog) -> None:
    """Register Huntress's facts, its actions, the ``app:huntress`` tile and its availability."""
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
        Subscription(ticket_link_closed(PROVIDER), RESOLVE_INCIDENT.id, _on_ticket_closed),
    )


def _on_ticket_closed(payload: dict[str, Any]) -> dict[str, Any]:
    return {"incident_id": int(payload["external_id"])}
