"""The tenant's Tactical RMM connection: its row, its API key, a client built from both, its check.

The connection row (``rmm_integrations``) holds the instance URL; the API key
is the tenant secret ``tacticalrmm_api_key``. The connection check
(``check_connection``) builds the same client from a connection that may not
be stored yet, so ``patchbay connect`` proves the URL and the key before
anything is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import SecretStr

from actionkit.checks import CheckContext, CheckFailed, check_failure
from actionkit.context import ActionContext, TenantContext
from actionkit.errors import ActionFailure, IntegrationMisconfigured
from actionkit.outbound import ANY_PUBLIC_HOST, redact_url
from catalog.rmm import rmm_connection
from integrations.tacticalrmm.client import TacticalRmmClient

PROVIDER = "tacticalrmm"
LABEL = "Tactical RMM"
API_KEY_NAME = "tacticalrmm_api_key"
# Self-hosted: every MSP runs its own server, so any public host is allowed.
HOSTS = ANY_PUBLIC_HOST


def api_key(ctx: TenantContext) -> SecretStr:
    """The tenant's API key; INTEGRATION_MISCONFIGURED naming the secret when it is not set."""
    key = ctx.secret(API_KEY_NAME)
    if key is None or not key.get_secret_value().strip():
        raise IntegrationMisconfigured(
            f"Tactical RMM API key is not configured for this tenant; store it with "
            f"patchbay connect {PROVIDER} --tenant {ctx.tenant_id} --secret {API_KEY_NAME}=@file",
            details={"missing": API_KEY_NAME},
        )
    return SecretStr(key.get_secret_value().strip())


@contextmanager
def client_for(ctx: ActionContext, *, timeout: float = 30.0) -> Iterator[TacticalRmmClient]:
    """A client for the tenant's instance, with its API key, gated by ``ctx``.

    ``timeout``: seconds to wait for an answer (a waited run is held that long).
    """
    connection = rmm_connection(ctx, PROVIDER, LABEL)
    key = api_key(ctx)
    policy = ctx.outbound(HOSTS, allow_custom_host=connection.allow_custom_host)
    with TacticalRmmClient(
        connection.instance_url,
        api_key=key,
        policy=policy,
        transport=ctx.transport(PROVIDER),
        gate=ctx.gate,
        timeout=timeout,
    ) as client:
        yield client


def check_connection(ctx: CheckContext) -> str:
    """Tactical RMM's connection check: ``GET /clients/`` with the API key.

    Read-only, one request. Raises ``CheckFailed`` naming the secret to
    replace when the server refuses the key, and saying so when the URL is
    the ``rmm.`` dashboard rather than the ``api.`` host.
    """
    shown = redact_url(ctx.instance_url or "")
    try:
        key = api_key(ctx)
        policy = ctx.outbound(HOSTS, allow_custom_host=ctx.allow_custom_host)
        with TacticalRmmClient(
            ctx.instance_url, api_key=key, policy=policy, transport=ctx.transport(PROVIDER)
        ) as client:
            clients = client.list_clients()
    except ActionFailure as exc:
        raise _failure(exc, ctx.tenant_id, shown) from None
    count = len(clients)
    return f"API key accepted, {count} client{'' if count == 1 else 's'} visible"


def _failure(error: ActionFailure, tenant: str, shown: str) -> CheckFailed:
    """A refused key names the secret to replace; the generic reading otherwise."""
    status = error.vendor.status if error.vendor is not None else None
    if status == 401:
        said = error.vendor.message if error.vendor is not None else ""
        return CheckFailed(
            "rejected",
            f"Tactical RMM at {shown} refused the API key (401: {said}); create a key under "
            "Settings > Global Settings > API Keys and store it with "
            f"patchbay connect {PROVIDER} --tenant {tenant} --secret {API_KEY_NAME}=@file",
            secret=API_KEY_NAME,
        )
    if status == 200:
        # A 200 the client could not read (the dashboard's HTML): its message says what to do.
        return CheckFailed("http_error", error.message)
    return check_failure(error, vendor=LABEL, url=shown)
