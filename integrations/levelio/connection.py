"""The tenant's Level connection: its row, its API key, a client, its check.

The connection row (``rmm_integrations``, ``patchbay connect levelio``)
holds the API root in ``instance_url``: Level's ``https://api.level.io`` when
none was given (``--url`` another host needs ``--allow-custom-host``, as the
outbound policy says). The key is the tenant secret ``levelio_api_key``.
Unlike the reference, no environment variable (``LEVELIO_API_BASE_URL``) is
read: a client reads no global settings, and the URL is per connection.

The connection check (:func:`check_connection`) builds the same client from
a connection that may not be stored yet, so ``patchbay connect`` proves the
key before anything is stored, and says whether it is read-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import SecretStr

from actionkit.checks import CheckContext, CheckFailed, check_failure
from actionkit.context import ActionContext, RequestGate, TenantContext
from actionkit.errors import ActionFailure
from actionkit.outbound import redact_url
from catalog.rmm import RmmConnection, required_secret, rmm_connection
from integrations.levelio.client import (
    DEFAULT_BASE_URL,
    DEVICES_PATH,
    HOSTS,
    MAKE_A_KEY,
    LevelClient,
)

__all__ = [
    "API_KEY_NAME",
    "HOSTS",
    "LABEL",
    "PROVIDER",
    "WEBHOOK_SECRET_NAME",
    "check_connection",
    "client_for",
    "tenant_connection",
]

PROVIDER = "levelio"
LABEL = "Level"
API_KEY_NAME = "levelio_api_key"
# Read by the inbound webhook receiver (webhooks.py), not by the actions.
WEBHOOK_SECRET_NAME = "levelio_webhook_secret"
# The write probe's alert id: no Level alert has it (see check_connection).
PROBE_ALERT_ID = "patchbay-connection-check-no-such-alert"


def tenant_connection(ctx: ActionContext) -> RmmConnection:
    """The tenant's Level row (integration id, API root); INTEGRATION_INACTIVE when none."""
    return rmm_connection(ctx, PROVIDER, LABEL)


def api_key(ctx: TenantContext) -> SecretStr:
    """The tenant's API key; INTEGRATION_MISCONFIGURED naming the secret when it is not set."""
    return required_secret(
        ctx, API_KEY_NAME, provider=PROVIDER, what="Level API key", how=MAKE_A_KEY
    )


def _client(
    ctx: TenantContext,
    base_url: str | None,
    *,
    allow_custom_host: bool,
    gate: RequestGate | None = None,
) -> LevelClient:
    return LevelClient(
        base_url,
        api_key=api_key(ctx),
        policy=ctx.outbound(HOSTS, allow_custom_host=allow_custom_host),
        transport=ctx.transport(PROVIDER),
        gate=gate,
        clock=lambda: ctx.now().timestamp(),
    )


@contextmanager
def client_for(ctx: ActionContext) -> Iterator[LevelClient]:
    """A client for the tenant's Level connection, gated by ``ctx``."""
    connection = tenant_connection(ctx)
    with _client(
        ctx,
        connection.instance_url,
        allow_custom_host=connection.allow_custom_host,
        gate=ctx.gate,
    ) as client:
        yield client


def check_connection(ctx: CheckContext) -> str:
    """Level's check: ``GET /v2/devices?limit=1`` proves the key; a harmless probe tells its access.

    Level has no read-only way to tell a read-only key from a read/write one
    (no call describes the key), so the check then sends one write that
    cannot change anything: ``POST /v2/alerts/<an id no alert has>/resolve``.
    A read-only key is refused with 403 before the alert is looked up (any
    write is, per Level's "API Keys Settings"); a read/write key gets 404,
    since there is no such alert. Any other answer is reported as "could not
    tell". A refused key is ``CheckFailed`` naming the secret to replace.
    """
    shown = redact_url(ctx.instance_url or DEFAULT_BASE_URL)
    try:
        with _client(ctx, ctx.instance_url, allow_custom_host=ctx.allow_custom_host) as client:
            client.get_json(DEVICES_PATH, limit=1)
            probe = client.probe_write_access(PROBE_ALERT_ID)
    except ActionFailure as exc:
        raise _failure(exc, ctx.tenant_id, shown) from None
    accepted = "API key accepted (devices readable)"
    if probe.status_code == 403:
        return (
            f"{accepted}; read-only key: Level refuses its writes (403), so alerts.resolve and "
            "triggers that require an authorization header will fail; for those, "
            f"{MAKE_A_KEY} with read/write access"
        )
    if probe.status_code == 404:
        return f"{accepted}; read/write key: alerts can be resolved and automations triggered"
    return (
        f"{accepted}; could not tell whether it is read-only (a write probe on an alert that "
        f"does not exist answered {probe.status_code}, not 403 or 404)"
    )


def _failure(error: ActionFailure, tenant: str, shown: str) -> CheckFailed:
    """A refused key names the secret and where to make one; the generic reading otherwise."""
    status = error.vendor.status if error.vendor is not None else None
    said = error.vendor.message if error.vendor is not None else ""
    if status == 401:
        return CheckFailed(
            "rejected",
            f"Level at {shown} refused the API key (401: {said}); {MAKE_A_KEY} and store it with "
            f"patchbay connect {PROVIDER} --tenant {tenant} --secret {API_KEY_NAME}=@file",
            secret=API_KEY_NAME,
        )
    if status == 429:
        return CheckFailed(
            "http_error",
            f"Level at {shown} is rate limiting patchbay (429: {said}); try again in a minute",
        )
    return check_failure(error, vendor=LABEL, url=shown)
