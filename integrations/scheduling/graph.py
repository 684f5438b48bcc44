"""Microsoft Graph calendar client (application permissions, client-credentials tokens).

Tokens come from the Microsoft identity platform
(``POST {login}/{aad_tenant}/oauth2/v2.0/token``) and are cached in the tenant
secret ``microsoft_graph_token``; refreshes by concurrent workers coalesce
through ``ctx.update_secret``. Event creation sends a ``transactionId``, which
Graph uses to drop a repeated POST, so a retry after a lost answer cannot
create a second event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from actionkit.context import ActionContext
from actionkit.errors import IntegrationMisconfigured
from catalog.microsoft import (
    GRAPH_SCOPE,
    LOGIN_HOSTS,
    MICROSOFT,
    MicrosoftBearerClient,
    MicrosoftLogin,
    cached_token,
)

TOKEN_SECRET_NAME = "microsoft_graph_token"
CLIENT_ID_SECRET_NAME = "microsoft_client_id"
CLIENT_SECRET_SECRET_NAME = "microsoft_client_secret"


@dataclass(frozen=True)
class GraphApp:
    """Where and as whom to authenticate: from the calendar connection and secrets."""

    aad_tenant: str
    login_url: str
    graph_url: str


class GraphCalendar(MicrosoftBearerClient):
    """Calendar events of one user, through Microsoft Graph v1.0."""

    vendor = "Microsoft Graph"
    # ``not_processed_statuses`` stays the base's (429 only). Graph's throttling
    # guidance (learn.microsoft.com/graph/throttling) documents throttled
    # requests as 429 that "fail"; its error list (learn.microsoft.com/graph/errors)
    # says of 503 only that the service is unavailable or overloaded and the
    # request "may" be repeated after Retry-After: no proof that a POST was not
    # carried out. Event creation is made safe to repeat by ``transactionId``.

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

    def fetch() -> dict[str, Any]:
        with MicrosoftLogin(
            app.login_url,
            policy=ctx.outbound(LOGIN_HOSTS),
            transport=ctx.transport(MICROSOFT),
            gate=ctx.gate,
        ) as login:
            return login.client_credentials(
                app.aad_tenant,
                client_id.get_secret_value(),
                client_secret,
                scope=GRAPH_SCOPE,
                refused=(
                    "the calendar app credentials; check microsoft_client_id, "
                    "microsoft_client_secret and the Entra tenant of the calendar connection"
                ),
            )

    return cached_token(ctx, TOKEN_SECRET_NAME, fetch, force=force)
