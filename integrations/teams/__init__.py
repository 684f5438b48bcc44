"""Microsoft Teams: activity notifications, direct messages (with cards), channel posts.

The ``app:teams`` tile, available when the tenant's ``teams`` add-on is
active (not expired) and its Teams install is ``active``
(``catalog.availability.TeamsIntegrationAvailability``).

- ``teams.notify_user``: Graph ``sendActivityNotification`` to the user's
  linked Microsoft account, with the profile app's Graph token;
- ``teams.send_dm``: a proactive bot message (text, optional Adaptive Card)
  in the user's latest personal conversation with the bot;
- ``teams.post_to_channel``: a new thread in a channel (Bot Connector
  create conversation), at a service URL recorded from that team when one
  is known, else the tenant's latest.

Set up with ``patchbay connect teams`` (``integrations.teams.connection``),
users linked with ``patchbay teams link-user`` and conversations recorded
with ``patchbay teams reference add``. Bot Connector service URLs are
Microsoft's only (``integrations.teams.service_urls``); login and Graph
hosts are Microsoft's (``catalog.microsoft``), loopback only in sandbox mode.

``register(catalog)`` is the whole public surface.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.availability import teams_integration_availability
from catalog.modules import IntegrationModule
from catalog.registration import Catalog, register_integration_module, register_vendor
from catalog.vendors import RequiredSecret, Vendor
from integrations.teams.actions import ACTIONS, NOTIFY_USER, register_actions
from integrations.teams.clients import BOT_TOKEN_NAME, GRAPH_TOKEN_NAME
from integrations.teams.connection import SETTINGS, check_connection
from integrations.teams.service_urls import SERVICE_URL_HOSTS
from integrations.teams.setup import LABEL, PROVIDER
from store.teams import BOT_PASSWORD_NAME, CLIENT_SECRET_NAME

__all__ = ["MODULE", "PROVIDER", "VENDOR", "register"]

# Where the sandbox's deep links point: a PSA that is not there (links are only shown).
SANDBOX_PSA_URL = "https://psa.example.com"
SANDBOX_TECHNICIAN = "tech1"


def connect_hints(url: str, seed: Mapping[str, Any], tenant: str) -> list[str]:
    """How to set Teams up against the sandbox's FakeMicrosoft at ``url`` (its demo data)."""
    teams = seed["teams"]
    bot = teams["bot"]
    user = teams["app_installed_for"][0]
    service_url = url.rstrip("/") + teams["service_url_path"]
    return [
        f"patchbay connect teams --tenant {tenant} --url {SANDBOX_PSA_URL} "
        f"--setting client_id={seed['client_id']} --setting aad_tenant={seed['tenant_id']} "
        f"--setting app_id={teams['teams_app_id']} --setting bot_app_id={bot['app_id']} "
        f"--setting login_url={url} --setting graph_url={url} "
        f"--secret {CLIENT_SECRET_NAME}={seed['client_secret']} "
        f"--secret {BOT_PASSWORD_NAME}={bot['client_secret']}",
        f"patchbay teams link-user --tenant {tenant} --user {SANDBOX_TECHNICIAN} "
        f"--microsoft-user {user}",
        f"patchbay teams reference add --tenant {tenant} --microsoft-user {user} "
        f"--conversation '{teams['personal_conversations'][0]['conversation_id']}' "
        f"--type personal --service-url {service_url} --aad-tenant {seed['tenant_id']}",
        f"patchbay teams reference add --tenant {tenant} --microsoft-user {user} "
        f"--conversation '{teams['channel_id']}' --type channel "
        f"--team '{teams['teams'][0]['id']}' --service-url {service_url} "
        f"--aad-tenant {seed['tenant_id']}",
    ]


VENDOR = Vendor(
    provider=PROVIDER,
    label=LABEL,
    connection="teams",
    secret_names=(CLIENT_SECRET_NAME, BOT_PASSWORD_NAME, GRAPH_TOKEN_NAME, BOT_TOKEN_NAME),
    required_secrets=(RequiredSecret(CLIENT_SECRET_NAME), RequiredSecret(BOT_PASSWORD_NAME)),
    hosts=SERVICE_URL_HOSTS,
    settings=SETTINGS,
    url_role="link",
    check=check_connection,
    connect_hints=connect_hints,
)

MODULE = IntegrationModule(
    group_key=f"app:{PROVIDER}",
    label=LABEL,
    description="Teams actions for activity notifications, bot messages, and channel posts.",
    icon_token="teams",
    default_action_id=NOTIFY_USER.id,
    allowed_action_ids=tuple(spec.id for spec in ACTIONS),
    availability_key="integration:teams",
)


def register(catalog: Catalog) -> None:
    """Register Teams' facts, its actions, the ``app:teams`` tile and its availability."""
    register_vendor(catalog, VENDOR)
    register_integration_module(
        catalog,
        module=MODULE,
        availability=teams_integration_availability,
        register_actions=register_actions,
    )
