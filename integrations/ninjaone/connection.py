"""The tenant's NinjaOne connection: its row, a client built from it, its check, the asset ids.

Reads of the local mirror (``assets``, ``rmm_alerts``) need no credentials;
everything that talks to NinjaOne builds a client from the tenant's
connection row (instance URL) and secrets (``credentials.py``). The
connection check (``check_connection``) builds the same client from a
connection that may not be stored yet.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from actionkit.checks import CheckContext, CheckFailed, check_failure
from actionkit.context import ActionContext
from actionkit.errors import ActionFailure
from actionkit.outbound import redact_url
from catalog import rmm
from catalog.rmm import RmmConnection, rmm_connection, text_or_none
from integrations.ninjaone.client import DEFAULT_INSTANCE_URL, HOSTS, NinjaOneClient
from integrations.ninjaone.credentials import (
    CLIENT_ID_NAME,
    CLIENT_SECRET_NAME,
    CREDENTIALS_NAME,
    SEED_TOKEN_NAME,
    TenantTokens,
)

__all__ = ["asset_ids", "check_connection", "client_for", "tenant_connection", "text_or_none"]

PROVIDER = "ninjaone"
ORGANIZATIONS_PATH = "/v2/organizations"


Connection = RmmConnection


def tenant_connection(ctx: ActionContext) -> Connection:
    """The tenant's NinjaOne integration id, instance URL and custom-host permission."""
    return rmm_connection(ctx, PROVIDER, "NinjaOne")


@contextmanager
def client_for(ctx: ActionContext) -> Iterator[NinjaOneClient]:
    """A client for the tenant's instance, authenticated from its secrets, gated by ``ctx``."""
    connection = tenant_connection(ctx)
    policy = ctx.outbound(HOSTS, allow_custom_host=connection.allow_custom_host)
    tokens = TenantTokens(ctx)
    with NinjaOneClient(
        connection.instance_url,
        policy=policy,
        transport=ctx.transport(PROVIDER),
        gate=ctx.gate,
        tokens=tokens,
    ) as client:
        yield client


def asset_ids(ctx: ActionContext, device_ids: Sequence[str]) -> dict[str, uuid.UUID]:
    """Local asset ids of the given NinjaOne device ids (one query)."""
    return rmm.asset_ids(ctx, PROVIDER, device_ids)


def check_connection(ctx: CheckContext) -> str:
    """NinjaOne's connection check: ``GET /v2/organizations?pageSize=1`` with the tenant's token.

    Read-only. Without a usable stored access token the refresh token is
    exchanged first, which rotates it: the new token set is written through
    ``ctx`` (``patchbay connect`` stores it with the connection). Raises
    ``CheckFailed`` naming the secret to replace when NinjaOne refuses one.
    """
    shown = redact_url(ctx.instance_url or DEFAULT_INSTANCE_URL)
    try:
        tokens = TenantTokens(ctx)
        policy = ctx.outbound(HOSTS, allow_custom_host=ctx.allow_custom_host)
        with NinjaOneClient(
            ctx.instance_url, policy=policy, transport=ctx.transport(PROVIDER), tokens=tokens
        ) as client:
            found = client.request_json("GET", ORGANIZATIONS_PATH, params={"pageSize": 1})
    except ActionFailure as exc:
        raise _failure(exc, ctx.tenant_id, shown) from None
    first = found[0] if isinstance(found, list) and found else None
    name = text_or_none(first.get("name")) if isinstance(first, dict) else None
    if first is None:
        return "token accepted; the API client sees no organizations"
    return "token accepted, organizations readable" + (f" (first: {name})" if name else "")


def _replace(secret: str, tenant: str) -> str:
    return f"patchbay connect ninjaone --tenant {tenant} --secret {secret}=@file"


def _failure(error: ActionFailure, tenant: str, shown: str) -> CheckFailed:
    """What NinjaOne refused, and which secret to replace; the generic reading otherwise."""
    said = error.vendor.message if error.vendor is not None else None
    details = error.details or {}
    if details.get("invalid") == CREDENTIALS_NAME and error.vendor is not None:
        # The refresh grant answered invalid_grant (credentials.py).
        return CheckFailed(
            "rejected",
            f"NinjaOne refused the refresh token ({said}): it was revoked, expired or already "
            "used; authorize patchbay again and store the new token with "
            + _replace(SEED_TOKEN_NAME, tenant),
            secret=SEED_TOKEN_NAME,
        )
    if said is not None and said.startswith("invalid_client"):
        # The token endpoint refused the client id and secret (client.py's token errors).
        return CheckFailed(
            "rejected",
            f"NinjaOne at {shown} refused the API client ({said}): check {CLIENT_ID_NAME} "
            f"and replace {CLIENT_SECRET_NAME} with " + _replace(CLIENT_SECRET_NAME, tenant),
            secret=CLIENT_SECRET_NAME,
        )
    if details.get("vendor_error") == "insufficient_privileges":
        return CheckFailed(
            "forbidden",
            f"NinjaOne accepted the token but refused to list organizations ({said}): grant "
            "the API client the monitoring and management scopes, authorize again and store "
            f"the new {SEED_TOKEN_NAME}",
        )
    return check_failure(error, vendor="NinjaOne", url=shown)
