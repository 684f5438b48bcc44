"""The tenant's Huntress connection: its row, its key and secret, a client, its check.

The connection row (``rmm_integrations``, ``patchbay connect huntress``)
holds the API root in ``instance_url``: Huntress's ``https://api.huntress.io``
when none was given (another host needs ``--allow-custom-host``, as the
outbound policy says). The credentials are the tenant secrets
``huntress_api_key`` and ``huntress_api_secret`` (one key pair).

The connection check (:func:`check_connection`) builds the same client from
a connection that may not be stored yet, so ``patchbay connect`` proves the
key pair before anything is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import SecretStr

from actionkit.checks import CheckContext, CheckFailed, check_failure
from actionkit.context import ActionContext, RequestGate, TenantContext
from actionkit.errors import ActionFailure
from actionkit.outbound import redact_url
from catalog.rmm import RmmConnection, required_secret, rmm_connection, text_or_none
from integrations.huntress.client import (
    API_KEY_NAME,
    API_SECRET_NAME,
    DEFAULT_BASE_URL,
    HOSTS,
    LABEL,
    MAKE_A_KEY,
    PROVIDER,
    RATE_LIMIT,
    HuntressClient,
)

__all__ = [
    "API_KEY_NAME",
    "API_SECRET_NAME",
    "HOSTS",
    "LABEL",
    "PROVIDER",
    "RATE_LIMIT",
    "check_connection",
    "client_for",
    "tenant_connection",
]

# What the check says about writes: Huntress has no read that tells them apart.
WRITE_ACCESS_UNKNOWN = (
    "whether this key may resolve incident reports and approve or reject remediations "
    "cannot be read without trying a write: the default account key is read-only, and "
    "those actions need a user-based key with that permission"
)


def tenant_connection(ctx: ActionContext) -> RmmConnection:
    """The tenant's Huntress row (integration id, API root); INTEGRATION_INACTIVE when none."""
    return rmm_connection(ctx, PROVIDER, LABEL)


def credentials(ctx: TenantContext) -> tuple[SecretStr, SecretStr]:
    """The tenant's key and secret; INTEGRATION_MISCONFIGURED naming the one not set."""
    key = required_secret(
        ctx, API_KEY_NAME, provider=PROVIDER, what="Huntress API key", how=MAKE_A_KEY
    )
    secret = required_secret(
        ctx, API_SECRET_NAME, provider=PROVIDER, what="Huntress API secret", how=MAKE_A_KEY
    )
    return key, secret


def _client(
    ctx: TenantContext,
    base_url: str | None,
    *,
    allow_custom_host: bool,
    gate: RequestGate | None = None,
) -> HuntressClient:
    key, secret = credentials(ctx)
    return HuntressClient(
        base_url,
        api_key=key,
        api_secret=secret,
        policy=ctx.outbound(HOSTS, allow_custom_host=allow_custom_host),
        transport=ctx.transport(PROVIDER),
        gate=gate,
        clock=lambda: ctx.now().timestamp(),
    )


@contextmanager
def client_for(ctx: ActionContext) -> Iterator[HuntressClient]:
    """A client for the tenant's Huntress account, gated by ``ctx``."""
    connection = tenant_connection(ctx)
    with _client(
        ctx, connection.instance_url, allow_custom_host=connection.allow_custom_host, gate=ctx.gate
    ) as client:
        yield client


def check_connection(ctx: CheckContext) -> str:
    """Huntress's check: one ``GET /v1/account`` proves the key pair and names the account.

    Whether the key may write (resolve, approve, reject) is not probed:
    Huntress documents no read that says so, and the check sends no write.
    The message says so. A refused pair is ``CheckFailed`` naming both secrets.
    """
    shown = redact_url(ctx.instance_url or DEFAULT_BASE_URL)
    try:
        with _client(ctx, ctx.instance_url, allow_custom_host=ctx.allow_custom_host) as client:
            account = client.account()
    except ActionFailure as exc:
        raise _failure(exc, ctx.tenant_id, shown) from None
    name, subdomain = text_or_none(account.name), text_or_none(account.subdomain)
    which = f"account {name or account.id}" + (f" ({subdomain}.huntress.io)" if subdomain else "")
    disabled = "; the account is disabled" if text_or_none(account.status) == "disabled" else ""
    return f"API key accepted, {which}{disabled}; {WRITE_ACCESS_UNKNOWN}"


def _failure(error: ActionFailure, tenant: str, shown: str) -> CheckFailed:
    """A refused pair names both secrets and where to make one; the generic reading otherwise."""
    status = error.vendor.status if error.vendor is not None else None
    said = error.vendor.message if error.vendor is not None else ""
    if status == 401:
        return CheckFailed(
            "rejected",
            f"Huntress at {shown} refused the API key and secret (401: {said}); {MAKE_A_KEY} "
            f"and store both with patchbay connect {PROVIDER} --tenant {tenant} "
            f"--secret {API_KEY_NAME}=... --secret {API_SECRET_NAME}=@file",
            secret=API_SECRET_NAME,
        )
    if status == 429:
        return CheckFailed(
            "http_error",
            f"Huntress at {shown} is rate limiting this account (429: {said}; 60 requests a "
            "minute for every tool using it); try again in a minute",
        )
    return check_failure(error, vendor=LABEL, url=shown)
