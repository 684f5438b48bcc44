"""``POST /inbound/teams/{tenant}/messages``: the Teams bot's messaging endpoint.

Teams (the Bot Connector) posts every activity of the tenant's bot here: a
message to the bot, the bot installed in a team or a chat, ... patchbay sends
no reply; it records where the bot can reach the sender later (the
conversation reference ``teams.send_dm`` and ``teams.post_channel`` use) and
answers 200 ``{}`` at once.

In this order, and nothing is recorded unless every step passes:

1. a body over the API's limit -> 413 (``Content-Length`` first, then counted);
2. no ``Authorization: Bearer <JWT>`` -> 401 ``missing``/``malformed``;
3. the token verifies (:mod:`api.inbound.botframework`: signature against the
   Bot Framework's published keys, issuer, lifetime with 5 minutes' skew,
   ``serviceurl`` claim = the activity's ``serviceUrl``) -> else 401 with a
   short reason in ``details.reason``; a key not endorsed for the activity's
   ``channelId`` -> 403; keys not fetchable -> 503;
4. the body is a JSON object with a string ``serviceUrl`` (the one the
   token's claim names) -> else 400;
5. the tenant's Teams integration is connected (the ``teams`` add-on active
   and the install ``active``, as the catalog decides) with a bot app id ->
   else 404 (an unknown tenant answers the same);
6. the token's ``aud`` is that bot's app id -> else 401 ``wrong_audience``;
7. the activity is a Teams one (``channelId`` ``msteams``) with ``from.id``,
   ``conversation.id`` and ``conversation.conversationType`` (``personal``,
   ``groupChat`` or ``channel``) -> else 400;
8. ``serviceUrl`` is one the bot's token may be sent to
   (``integrations.teams.service_urls``: Microsoft's Bot Connector hosts; a
   loopback fake in sandbox mode only) -> else 400.

Then the reference is recorded (``store.teams.record_reference``): the
sender (``from.aadObjectId``, lower-cased, else ``from.id``), the
conversation's id and type, the trusted service URL, the Entra tenant
(``channelData.tenant.id``, else ``conversation.tenantId``), and
``channelData.team.id`` / ``channelData.channel.id``. An activity saying the
bot was removed (``installationUpdate`` with a ``remove`` action, or a
``conversationUpdate`` whose ``membersRemoved`` names the bot) records
nothing: the bot can no longer reach that conversation.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from actionkit.errors import IntegrationMisconfigured
from api.context import ApiContext
from api.inbound.botframework import ConnectorTokenVerifier, KeysUnavailable, TokenRefused
from api.inbound.refusals import (
    RAW_JSON_BODY,
    InboundRefused,
    check_declared_length,
    json_answer,
    read_limited_body,
    refusal_docs,
)
from catalog.availability import teams_integration_availability
from integrations.teams.service_urls import trusted_service_url
from store import teams as stored
from store.models import TeamsIntegration

TEAMS_CHANNEL = "msteams"
NOT_CONNECTED = "no Teams bot is connected for this tenant; refused"


class _Wire(BaseModel):
    # Activities carry many more fields than these; they are ignored.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Account(_Wire):
    id: str = Field(min_length=1, max_length=255)
    aad_object_id: str | None = Field(default=None, alias="aadObjectId", max_length=255)


class _Conversation(_Wire):
    id: str = Field(min_length=1, max_length=512)
    conversation_type: Literal["personal", "groupChat", "channel"] = Field(alias="conversationType")
    tenant_id: str | None = Field(default=None, alias="tenantId", max_length=255)


class _IdOnly(_Wire):
    id: str | None = Field(default=None, max_length=512)


class _ChannelData(_Wire):
    tenant: _IdOnly | None = None
    team: _IdOnly | None = None
    channel: _IdOnly | None = None


class Activity(_Wire):
    """The parts of a Bot Framework activity a conversation reference is made of."""

    type: str = Field(min_length=1, max_length=64)
    channel_id: Literal["msteams"] = Field(alias="channelId")
    service_url: str = Field(alias="serviceUrl", min_length=1, max_length=512)
    sender: _Account = Field(alias="from")
    conversation: _Conversation
    recipient: _Account | None = None
    channel_data: _ChannelData | None = Field(default=None, alias="channelData")
    action: str | None = None
    members_removed: list[_Account] = Field(default_factory=list, alias="membersRemoved")

    @property
    def removes_the_bot(self) -> bool:
        """The bot was uninstalled or removed from the conversation."""
        if self.type == "installationUpdate":
            return (self.action or "").startswith("remove")
        if self.type == "conversationUpdate" and self.recipient is not None:
            return any(m.id == self.recipient.id for m in self.members_removed)
        return False

    @property
    def microsoft_user_id(self) -> str:
        aad = (self.sender.aad_object_id or "").strip()
        # Entra ids are case-insensitive; one spelling keeps links and references matching.
        return aad.lower() if aad else self.sender.id.strip()

    def _data_id(self, part: Literal["tenant", "team", "channel"]) -> str | None:
        found = getattr(self.channel_data, part, None) if self.channel_data else None
        value = found.id if isinstance(found, _IdOnly) else None
        return value.strip() if value and value.strip() else None

    @property
    def tenant_id_aad(self) -> str | None:
        return self._data_id("tenant") or (self.conversation.tenant_id or "").strip() or None

    @property
    def team_id(self) -> str | None:
        return self._data_id("team")

    @property
    def teams_channel_id(self) -> str | None:
        return self._data_id("channel")


def bearer_token(authorization: str | None) -> str:
    """The token of ``Authorization: Bearer <token>``; 401 without one."""
    if authorization is None or not authorization.strip():
        raise InboundRefused(401, "missing", "the request has no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or " " in token.strip():
        raise InboundRefused(401, "malformed", "the Authorization header is not 'Bearer <token>'")
    return token.strip()


def _envelope(body: bytes) -> dict[str, Any]:
    """The body as a JSON object with a string ``serviceUrl`` (what the token is checked with)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InboundRefused(400, "malformed", "the activity is not JSON") from None
    if not isinstance(data, dict):
        raise InboundRefused(400, "malformed", "the activity is not a JSON object")
    if not isinstance(data.get("serviceUrl"), str) or not data["serviceUrl"]:
        raise InboundRefused(400, "malformed", "the activity has no serviceUrl")
    channel_id = data.get("channelId")
    if channel_id is not None and not isinstance(channel_id, str):
        raise InboundRefused(400, "malformed", "the activity's channelId is not a string")
    return data


def _activity(data: dict[str, Any]) -> Activity:
    try:
        return Activity.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "activity"
        raise InboundRefused(
            400, "malformed", f"the activity's {where} is missing or not usable ({first['msg']})"
        ) from None


def receive_activity(
    ctx: ApiContext, verifier: ConnectorTokenVerifier, tenant: str, token: str, body: bytes
) -> bool:
    """Verify and record one activity (module docstring); True when a reference was recorded."""
    malformed: InboundRefused | None = None
    try:
        data = _envelope(body)
    except InboundRefused as exc:
        # The token is judged first: an unverified caller learns nothing about its body.
        data, malformed = {}, exc
    try:
        verified = verifier.verify(
            token, service_url=data.get("serviceUrl"), channel_id=data.get("channelId")
        )
    except TokenRefused as exc:
        raise InboundRefused(exc.status, exc.reason, exc.message) from None
    except KeysUnavailable as exc:
        raise InboundRefused(503, "keys_unavailable", str(exc)) from None
    if malformed is not None:
        raise malformed
    with ctx.store.sessions.begin() as session:
        row = session.get(TeamsIntegration, tenant)
        bot_app_id = (row.bot_id or "").strip() if row is not None else ""
        if not bot_app_id or not teams_integration_availability(session, tenant):
            raise InboundRefused(404, "not_connected", NOT_CONNECTED)
        if not verified.is_for(bot_app_id):
            raise InboundRefused(
                401, "wrong_audience", "the token was issued for another bot (aud)"
            )
        activity = _activity(data)
        try:
            service_url = trusted_service_url(activity.service_url, sandbox=ctx.settings.sandbox)
        except IntegrationMisconfigured as exc:
            why = (exc.details or {}).get("refused") or exc.message
            raise InboundRefused(
                400, "untrusted_service_url", f"the activity's serviceUrl is refused: {why}"
            ) from None
        if activity.removes_the_bot:
            return False
        try:
            stored.record_reference(
                session,
                tenant,
                microsoft_user_id=activity.microsoft_user_id,
                conversation_id=activity.conversation.id.strip(),
                conversation_type=activity.conversation.conversation_type,
                service_url=service_url,
                tenant_id_aad=activity.tenant_id_aad,
                team_id=activity.team_id,
                channel_id=activity.teams_channel_id,
            )
        except stored.TeamsSetupError as exc:
            raise InboundRefused(400, "malformed", str(exc)) from None
    return True


RESPONSES = {
    200: {
        "description": "Verified; the conversation reference recorded. Body `{}`, no reply.",
        "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}},
    },
    **refusal_docs(
        {
            400: "Not a usable Teams activity, or a serviceUrl the bot's token may not go to.",
            401: "No Bot Framework JWT, or one that does not verify (details.reason says why).",
            403: "The signing key is not endorsed for the activity's channel (not_endorsed).",
            404: "No Teams bot is connected for the tenant (not_connected).",
            413: "The body is over the API's limit (too_large).",
            503: "The Bot Framework's signing keys cannot be fetched now; try again.",
        }
    ),
}


def teams_router(ctx: ApiContext, verifier: ConnectorTokenVerifier) -> APIRouter:
    """The Teams bot's messaging endpoint on ``ctx``'s store, verifying with ``verifier``."""
    router = APIRouter(tags=["inbound"])

    @router.post(
        "/inbound/teams/{tenant}/messages",
        summary="The Teams bot's messaging endpoint (Bot Framework JWT verified)",
        response_model=None,
        responses=RESPONSES,
        openapi_extra=RAW_JSON_BODY,
    )
    async def teams_messages(tenant: str, request: Request) -> JSONResponse:
        try:
            check_declared_length(request, ctx.max_body_bytes)
            token = bearer_token(request.headers.get("authorization"))
            body = await read_limited_body(request, ctx.max_body_bytes)
            await run_in_threadpool(receive_activity, ctx, verifier, tenant, token, body)
        except InboundRefused as refused:
            return refused.response()
        return json_answer({})

    return router
