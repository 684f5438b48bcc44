"""Microsoft Graph calendar client (application permissions, client-credentials tokens).

Tokens come from the Microsoft identity platform
(``POST {login}/{aad_tenant}/oauth2/v2.0/token``) and are cached in the tenant
secret ``microsoft_graph_token``; refreshes by concurrent workers coalesce
through ``ctx.update_secret``. Event creation sends a ``transactionId``, which
Graph uses to drop a repeated POST, so a retry after a lost answer cannot
create a second event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from actionkit.context import ActionContext
from actionkit.errors import IntegrationMisconfigured
from actionkit.http import VendorClient, error_for_response
from actionkit.outbound import HostRules

# Microsoft's APIs share one throttle key per tenant, whichever module calls
# them (set a ceiling with PATCHBAY_RATE_LIMITS='{"microsoft": "..."}').
MICROSOFT = "microsoft"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
# Microsoft's hosts (global, US Government, DoD, China). No custom host: other
# login or Graph URLs work only on loopback in sandbox mode (the fakes).
LOGIN_HOSTS = HostRules(
    known=(
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
    ),
    custom_hosts=False,
)
GRAPH_HOSTS = HostRules(
    known=(
        "graph.microsoft.com",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
    ),
    custom_hosts=False,
)
TOKEN_SECRET_NAME = "microsoft_graph_token"
CLIENT_ID_SECRET_NAME = "microsoft_client_id"
CLIENT_SECRET_SECRET_NAME = "microsoft_client_secret"
# Refresh this long before expiry so a token never dies mid-request.
REFRESH_MARGIN = 300.0


@dataclass(frozen=True)
class GraphApp:
    """Where and as whom to authenticate: from the calendar connection and secrets."""

    aad_tenant: str
    login_url: str
    graph_url: str


class MicrosoftLogin(VendorClient):
    """The identity platform's token endpoint."""

    vendor = "Microsoft identity platform"
    throttle_key = MICROSOFT

    def client_credentials(
        self, aad_tenant: str, client_id: str, client_secret: SecretStr
    ) -> dict[str, Any]:
        response = self.send(
            "POST",
            f"/{aad_tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret.get_secret_value(),
                "scope": GRAPH_SCOPE,
            },
            mutating=False,
            authenticated=False,
        )
        if response.status_code in (400, 401):
            body = response.json() if response.content else {}
            raise IntegrationMisconfigured(
                "Microsoft refused the calendar app credentials "
                f"({body.get('error', response.status_code)}); check microsoft_client_id, "
                "microsoft_client_secret and the Entra tenant of the calendar connection",
            )
        if response.is_error:
            raise error_for_response(response, self.vendor)
        data: dict[str, Any] = response.json()
        return data


class GraphCalendar(VendorClient):
    """Calendar events of one user, through Microsoft Graph v1.0."""

    vendor = "Microsoft Graph"
    throttle_key = MICROSOFT
    # ``not_processed_statuses`` stays the base's (429 only). Graph's throttling
    # guidance (learn.microsoft.com/graph/throttling) documents throttled
    # requests as 429 that "fail"; its error list (learn.microsoft.com/graph/errors)
    # says of 503 only that the service is unavailable or overloaded and the
    # request "may" be repeated after Retry-After: no proof that a POST was not
    # carried out. Event creation is made safe to repeat by ``transactionId``.

    def __init__(self, base_url: str, token_source: Callable[[bool], str], **kwargs: Any):
        super().__init__(base_url, **kwargs)
        self._token_source = token_source
        self._token = token_source(False)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def on_unauthorized(self, response: httpx.Response) -> bool:
        self._token = self._token_source(True)
        return True

    def create_event(
        self, user: str, event: dict[str, Any], *, calendar_id: str | None, transaction_id: str
    ) -> dict[str, Any]:
        user = quote(user, safe="@")
        path = (
            f"/v1.0/users/{user}/calendars/{quote(calendar_id, safe='')}/events"
            if calendar_id
            else f"/v1.0/users/{user}/events"
        )
        body = {**event, "transactionId": transaction_id}
        created: dict[str, Any] = self.request_json("POST", path, json=body)
        return created

    def update_event(self, user: str, event_id: str, event: dict[str, Any]) -> dict[str, Any]:
        updated: dict[str, Any] = self.request_json(
            "PATCH",
            f"/v1.0/users/{quote(user, safe='@')}/events/{quote(event_id, safe='')}",
            json=event,
        )
        return updated


def graph_token(ctx: ActionContext, app: GraphApp, *, force: bool) -> str:
    """A valid Graph token for the tenant's app, refreshed at most once for everyone."""
    client_id = ctx.secret(CLIENT_ID_SECRET_NAME)
    client_secret = ctx.secret(CLIENT_SECRET_SECRET_NAME)
    if client_id is None or client_secret is None:
        raise IntegrationMisconfigured(
            "calendar sync needs the tenant secrets "
            f"{CLIENT_ID_SECRET_NAME} and {CLIENT_SECRET_SECRET_NAME}"
        )
    seen: dict[str, Any] = {}

    def refresh(current: SecretStr | None) -> str | None:
        cached = json.loads(current.get_secret_value()) if current is not None else {}
        still_good = cached.get("expires_at", 0) - REFRESH_MARGIN > time.time()
        # Another worker refreshed while we waited for the lock: use its token.
        replaced = force and cached.get("access_token") != seen.get("stale")
        if still_good and (not force or replaced):
            return None
        with MicrosoftLogin(
            app.login_url,
            policy=ctx.outbound(LOGIN_HOSTS),
            transport=ctx.transport("microsoft"),
            gate=ctx.gate,
        ) as login:
            issued = login.client_credentials(
                app.aad_tenant, client_id.get_secret_value(), client_secret
            )
        return json.dumps(
            {
                "access_token": issued["access_token"],
                "expires_at": time.time() + float(issued.get("expires_in", 3600)),
            }
        )

    if force:
        current = ctx.secret(TOKEN_SECRET_NAME)
        if current is not None:
            seen["stale"] = json.loads(current.get_secret_value()).get("access_token")
    stored = ctx.update_secret(TOKEN_SECRET_NAME, refresh)
    assert stored is not None
    token: str = json.loads(stored.get_secret_value())["access_token"]
    return token
