"""Tactical RMM: agents (find, get, run a script or command, reboot) and the script library.

The ``app:tacticalrmm`` tile. Self-hosted: every MSP runs its own server, so
any public https host is allowed. Secrets: an API key (``X-API-KEY``), or
Knox login credentials and the token they yield (Knox mode comes with a
later slice of the module's issue).

``register(catalog)`` is the whole public surface; importing this package
registers nothing.
"""

from __future__ import annotations

from catalog.availability import rmm_integration_availability
from catalog.modules import IntegrationModule
from catalog.registration import Catalog, register_integration_module, register_vendor
from catalog.vendors import RequiredSecret, Vendor
from integrations.tacticalrmm.actions import ACTIONS, FIND_AGENTS, register_actions
from integrations.tacticalrmm.connection import (
    API_KEY_NAME,
    HOSTS,
    LABEL,
    PROVIDER,
    check_connection,
)

VENDOR = Vendor(
    provider=PROVIDER,
    label=LABEL,
    connection="rmm",
    secret_names=(
        API_KEY_NAME,
        "tacticalrmm_username",
        "tacticalrmm_password",
        "tacticalrmm_knox_token",
    ),
    required_secrets=(RequiredSecret(API_KEY_NAME),),
    hosts=HOSTS,
    check=check_connection,
)

MODULE = IntegrationModule(
    group_key=f"app:{PROVIDER}",
    label=LABEL,
    description="Tactical RMM actions for agents, scripts, and remote execution.",
    icon_token="tacticalrmm",
    default_action_id=FIND_AGENTS.id,
    allowed_action_ids=tuple(spec.id for spec in ACTIONS),
    availability_key=f"rmm:{PROVIDER}",
)


def register(catalog: Catalog) -> None:
    """Register Tactical RMM's facts, its actions, the ``app:tacticalrmm`` tile and availability."""
    register_vendor(catalog, VENDOR)
    register_integration_module(
        catalog,
        module=MODULE,
        availability=rmm_integration_availability(PROVIDER),
        register_actions=register_actions,
    )
