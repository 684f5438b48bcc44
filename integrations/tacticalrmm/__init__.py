"""Tactical RMM: agents (find, get, run a script or command, reboot) and the script library.

The ``app:tacticalrmm`` tile. Self-hosted: every MSP runs its own server, so
any public https host is allowed. The connection setting ``auth_mode``
says how patchbay authenticates: ``api_key`` (default; secret
``tacticalrmm_api_key``, sent as ``X-API-KEY``) or ``knox`` (secrets
``tacticalrmm_username`` and ``tacticalrmm_password`` of an account without
TOTP, and the Knox token they yield, ``tacticalrmm_knox_token``).

``register(catalog)`` is the whole public surface; importing this package
registers nothing.
"""

from __future__ import annotations

from catalog.availability import rmm_integration_availability
from catalog.modules import IntegrationModule
from catalog.registration import Catalog, register_integration_module, register_vendor
from catalog.vendors import RequiredSecret, SeedSecrets, Vendor
from integrations.tacticalrmm.actions import ACTIONS, FIND_AGENTS, register_actions
from integrations.tacticalrmm.connection import (
    API_KEY_NAME,
    AUTH_MODE,
    HOSTS,
    LABEL,
    PASSWORD_NAME,
    PROVIDER,
    TOKEN_NAME,
    USERNAME_NAME,
    check_connection,
)

# The fake's credential set -> the secret that reaches it (``patchbay sandbox``).
SANDBOX = SeedSecrets(PROVIDER, {API_KEY_NAME: "api_key"})

VENDOR = Vendor(
    provider=PROVIDER,
    label=LABEL,
    connection="rmm",
    secret_names=(API_KEY_NAME, USERNAME_NAME, PASSWORD_NAME, TOKEN_NAME),
    required_secrets=(
        RequiredSecret(API_KEY_NAME, when=(AUTH_MODE.name, "api_key")),
        RequiredSecret(USERNAME_NAME, when=(AUTH_MODE.name, "knox")),
        RequiredSecret(PASSWORD_NAME, when=(AUTH_MODE.name, "knox")),
    ),
    settings=(AUTH_MODE,),
    hosts=HOSTS,
    check=check_connection,
    connect_hints=SANDBOX.hints,
    sandbox_secrets=SANDBOX.secrets,
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
