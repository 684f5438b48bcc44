"""The tenant's Tactical RMM connection: its row, its credentials, a client, its check.

The connection row (``rmm_integrations``) holds the instance URL and, in its
settings, ``auth_mode`` (``patchbay connect tacticalrmm --setting
auth_mode=...``), which says how the client authenticates:

- ``api_key`` (the default): the tenant secret ``tacticalrmm_api_key``,
  sent as ``X-API-KEY``;
- ``knox``: the secrets ``tacticalrmm_username`` and ``tacticalrmm_password``
  of an account without TOTP, and the Knox token they yield
  (``tacticalrmm_knox_token``, see :mod:`integrations.tacticalrmm.knox`).

The connection check (``check_connection``) builds the same client from a
connection that may not be stored yet, so ``patchbay connect`` proves the
URL and the credentials before anything is stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pydantic import SecretStr

from actionkit.checks import CheckContext, CheckFailed, check_failure
from actionkit.context import ActionContext, RequestGate, TenantContext
from actionkit.errors import ActionFailure, IntegrationMisconfigured
from actionkit.outbound import ANY_PUBLIC_HOST, redact_url
from catalog.rmm import required_secret, rmm_connection
from catalog.vendors import VendorSetting
from integrations.tacticalrmm.client import TacticalRmmClient
from integrations.tacticalrmm.knox import (
    API_KEY_NAME,
    PASSWORD_NAME,
    PROVIDER,
    TOKEN_NAME,
    USERNAME_NAME,
    KnoxTokens,
)

__all__ = [
    "API_KEY_NAME",
    "AUTH_MODE",
    "HOSTS",
    "LABEL",
    "PASSWORD_NAME",
    "PROVIDER",
    "TOKEN_NAME",
    "USERNAME_NAME",
    "api_key",
    "auth_mode",
    "check_connection",
    "client_for",
]

LABEL = "Tactical RMM"
# Self-hosted: every MSP runs its own server, so any public host is allowed.
HOSTS = ANY_PUBLIC_HOST
AUTH_MODE = VendorSetting(
    "auth_mode",
    choices=("api_key", "knox"),
    default="api_key",
    help="api_key: an API key (X-API-KEY); knox: Knox tokens from the user name and "
    "password of an account without TOTP",
)


def auth_mode(tenant: str, settings: Mapping[str, object]) -> str:
    """The connection's ``auth_mode``; INTEGRATION_MISCONFIGURED for a value it cannot take."""
    try:
        return AUTH_MODE.value_in(settings)
    except ValueError as exc:
        raise IntegrationMisconfigured(
            f"Tactical RMM connection {exc}; reconnect with patchbay connect {PROVIDER} "
            f"--tenant {tenant} --setting {AUTH_MODE.name}={'|'.join(AUTH_MODE.choices)}",
            details={"setting": AUTH_MODE.name},
        ) from None


def api_key(ctx: TenantContext) -> SecretStr:
    """The tenant's API key; INTEGRATION_MISCONFIGURED naming the secret when it is not set."""
    return required_secret(ctx, API_KEY_NAME, provider=PROVIDER, what="Tactical RMM API key")


def _client(
    ctx: TenantContext,
    instance_url: str | None,
    *,
    allow_custom_host: bool,
    knox: KnoxTokens | None,
    gate: RequestGate | None = None,
    timeout: float = 30.0,
) -> TacticalRmmClient:
    """A client with Knox tokens when ``knox`` is given, else with the tenant's API key."""
    key = api_key(ctx) if knox is None else None
    return TacticalRmmClient(
        instance_url,
        policy=ctx.outbound(HOSTS, allow_custom_host=allow_custom_host),
        api_key=key,
        knox=knox,
        transport=ctx.transport(PROVIDER),
        gate=gate,
        timeout=timeout,
    )


@contextmanager
def client_for(ctx: ActionContext, *, timeout: float = 30.0) -> Iterator[TacticalRmmClient]:
    """A client for the tenant's instance, authenticated as ``auth_mode`` says, gated by ``ctx``.

    ``timeout``: seconds to wait for an answer (a waited run is held that long).
    """
    connection = rmm_connection(ctx, PROVIDER, LABEL)
    knox = KnoxTokens(ctx) if auth_mode(ctx.tenant_id, connection.settings) == "knox" else None
    with _client(
        ctx,
        connection.instance_url,
        allow_custom_host=connection.allow_custom_host,
        knox=knox,
        gate=ctx.gate,
        timeout=timeout,
    ) as client:
        yield client


def check_connection(ctx: CheckContext) -> str:
    """Tactical RMM's connection check: ``GET /clients/``, after a Knox login in knox mode.

    API-key mode: one read-only request. Knox mode: a new token from
    ``/v2/checkcreds/`` first, whatever is stored, so the user name and
    password are proven now (the token is written through ``ctx``:
    ``patchbay connect`` stores it with the connection). Raises
    ``CheckFailed`` naming the secrets to replace when the server refuses
    them, and saying so when the URL is the ``rmm.`` dashboard rather than
    the ``api.`` host.
    """
    shown = redact_url(ctx.instance_url or "")
    knox = KnoxTokens(ctx) if auth_mode(ctx.tenant_id, ctx.settings) == "knox" else None
    try:
        with _client(
            ctx, ctx.instance_url, allow_custom_host=ctx.allow_custom_host, knox=knox
        ) as client:
            if knox is not None:
                knox.login(client)
            clients = client.list_clients()
    except ActionFailure as exc:
        raise _failure(exc, ctx.tenant_id, shown, knox=knox is not None) from None
    count = len(clients)
    accepted = "Knox login accepted" if knox is not None else "API key accepted"
    return f"{accepted}, {count} client{'' if count == 1 else 's'} visible"


def _failure(error: ActionFailure, tenant: str, shown: str, *, knox: bool) -> CheckFailed:
    """A refused credential names the secrets to replace; the generic reading otherwise."""
    status = error.vendor.status if error.vendor is not None else None
    said = error.vendor.message if error.vendor is not None else ""
    details = error.details or {}
    if "rejected" in details or "totp" in details:
        # The Knox login was refused, or the account has TOTP: the message says what to do.
        return CheckFailed("rejected", error.message, secret=PASSWORD_NAME)
    if status == 401 and knox:
        return CheckFailed(
            "rejected",
            f"Tactical RMM at {shown} refused the Knox token it had just issued (401: {said}); "
            "check that nothing between patchbay and the server drops the Authorization "
            f"header, or use an API key: patchbay connect {PROVIDER} --tenant {tenant} "
            f"--setting auth_mode=api_key --secret {API_KEY_NAME}=@file",
            secret=TOKEN_NAME,
        )
    if status == 401:
        return CheckFailed(
            "rejected",
            f"Tactical RMM at {shown} refused the API key (401: {said}); create a key under "
            "Settings > Global Settings > API Keys and store it with "
            f"patchbay connect {PROVIDER} --tenant {tenant} --secret {API_KEY_NAME}=@file",
            secret=API_KEY_NAME,
        )
    if status == 429:
        why = " (it allows 10 logins a minute)" if knox else ""
        return CheckFailed(
            "http_error",
            f"Tactical RMM at {shown} is rate limiting patchbay (429: {said}){why}; "
            "try again in a minute",
        )
    if status == 200:
        # A 200 the client could not read (the dashboard's HTML): its message says what to do.
        return CheckFailed("http_error", error.message)
    return check_failure(error, vendor=LABEL, url=shown)
