"""The Bot Framework Connector as Teams serves it: a bot's channel posts and personal messages.

Markers *(choice)* and *(observed)* as in :mod:`sandbox.microsoft`. Sources:
the Bot Connector's own Swagger (``botframework-connector-v3.1.json``, its
OpenAPI 3 conversion ``oas3/botframework-connector.json``), Teams' table of
status codes for bot APIs, and answers Teams gave (quoted in public issue
threads; the ``POST /v3/conversations`` behaviour Microsoft's teams.net SDK
records from its integration tests).

Service URL
-----------
A bot learns its service URL from the activities Teams sends it, e.g.
``https://smba.trafficmanager.net/amer/``; the API is under it. The fake
serves the connector's paths with no prefix (``/v3/...``), one region
segment (``/amer/v3/...``, any name) or a region and a tenant segment
(``/amer/<tenant id>/v3/...``, as newer service URLs have), all alike.
:meth:`BotConnector.service_url` gives the service URL to hand a client::

    with fake.serve() as server:
        service_url = fake.service_url(server.base_url)  # http://127.0.0.1:PORT/amer/

Authentication (every ``.../v3/conversations...`` call)
-------------------------------------------------------
``Authorization: Bearer <token>``, a token the identity platform issued for
``https://api.botframework.com`` to a bot's app. A bot's app is registered
with :meth:`FakeMicrosoft.add_bot`, which also makes the Bot Framework's
multi-tenant authority answer: ``POST /botframework.com/oauth2/v2.0/token``
(the identity fake serves any tenant it knows by a domain, and ``add_bot``
registers the tenant ``botframework.com``, id :data:`BOT_FRAMEWORK_TENANT_ID`).
A single-tenant bot gets its tokens from its own tenant (``add_bot(...,
tenant_id=)``); the connector takes both.

Errors are the spec's ``ErrorResponse``: ``{"error": {"code", "message"}}``.

- no bearer token, one this fake never issued, revoked, expired, or issued
  for another resource (a Graph token): 401 ``Unauthorized`` "Authorization
  has been denied for this request." *(observed message; the service sends
  it as ``{"message": ...}``, outside the spec's envelope: the fake keeps to
  the spec's shape, code a choice)*. No token is ever echoed;
- a token of an app that is not a registered bot: 401 ``BotNotRegistered``
  "No registration found for this bot." (Teams' table).

Routes
------
``POST {serviceUrl}/v3/conversations`` (``Conversations_CreateConversation``),
body ``ConversationParameters`` (``isGroup``, ``bot``, ``members``,
``topicName``, ``tenantId``, ``activity``, ``channelData``):

- a channel thread: ``isGroup: true``, ``channelData.channel.id`` a seeded
  channel and an ``activity`` (the thread's first message) -> 201
  ``{"id": "<channel id>;messageid=<n>", "activityId": "<n>"}``, the activity
  recorded as posted in that channel *(observed: no ``serviceUrl`` in the
  answer although the spec's schema has one)*. Without the activity or
  without the channel: 400 ``BadSyntax`` "Incorrect conversation creation
  parameters" *(observed)*; group chats (``isGroup: true`` with members, no
  channel) are refused the same way, as Teams does;
- a personal chat: ``isGroup`` false or absent, exactly one member (``id``:
  the user's AAD object id or the ``29:`` id the fake gave them, or
  ``aadObjectId``) and ``tenantId`` (required, as observed) -> 201 ``{"id":
  "a:..."}``, the user's existing conversation with the bot (creation is
  idempotent, as observed); the optional ``activity`` is sent in it;
- ``bot`` given but not ``28:<token's appid>`` (or the bare app id): 400
  ``BadArgument`` *(choice: Teams infers the bot from the token)*;
- unknown channel: 404 ``ConversationNotFound`` "Conversation not found."
  *(choice of status for an unknown channel)*; the bot not installed in the
  channel's team, or not installed for the user: 403
  ``BotNotInConversationRoster`` "The bot is not part of the conversation
  roster." *(observed)*.

``POST {serviceUrl}/v3/conversations/{conversationId}/activities``
(``Conversations_SendToConversation``), body an ``Activity`` -> 201 ``{"id":
"<activity id>"}`` *(choice among the spec's 200/201/202)*. The conversation
is a personal one (``a:...``), a channel thread (``19:...;messageid=<n>``:
a reply in it, for any ``n`` *(choice: the fake does not know the threads
people started)*) or a bare channel id (a new thread *(choice)*). Unknown
conversation: 404 ``ConversationNotFound`` "Conversation not found."
*(observed)*; the token's bot not the conversation's (or no longer installed
there): 403 ``BotNotInConversationRoster``.

Activities (both routes) *(choices, all 400 ``BadArgument``)*: a JSON object
with a ``type`` from the spec's ``ActivityTypes``; a ``message`` needs a
non-empty ``text`` or at least one attachment; ``text`` a string;
``attachments`` a list of objects with a ``contentType``, and an Adaptive
Card (``application/vnd.microsoft.card.adaptive``) needs ``content`` with
``"type": "AdaptiveCard"``. A body that is not JSON: 400 ``BadSyntax``
*(choice)*. Unknown path under ``/v3/``: 404 ``NotFound``; other method on a
known path: 405 ``MethodNotAllowed`` *(choices)*.

Activity ids: channel messages get Teams' epoch-milliseconds ids (from the
fake's clock, strictly increasing); personal ones ``1:<random>`` *(choice)*.

Faults: any :class:`~sandbox.core.Fault` on these paths, e.g.
``fake.inject(connector_fault(429, retry_after=2), path="*/v3/conversations*")``
(:func:`connector_fault` answers in the spec's error shape).

Not modelled: the other connector operations (members, updates, deletes,
attachments, history), group chats, message contents beyond the checks
above (cards are stored, not rendered), ``replyToId``, mentions,
``channelData.notification``, throttling beyond injected faults, GCC/GCCH
hosts.
"""

from __future__ import annotations

import copy
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.core import FakeVendor, Fault, SandboxRequest, json_response, route
from sandbox.microsoft.common import BOT_FRAMEWORK_RESOURCE, IssuedToken, b64url

__all__ = [
    "ACTIVITY_TYPES",
    "ADAPTIVE_CARD",
    "BOT_FRAMEWORK_TENANT",
    "BOT_FRAMEWORK_TENANT_ID",
    "SERVICE_URL_REGION",
    "BotConnector",
    "connector_fault",
]

BOT_FRAMEWORK_TENANT = "botframework.com"
"""The Bot Framework's multi-tenant authority: ``/botframework.com/oauth2/v2.0/token``."""
BOT_FRAMEWORK_TENANT_ID = "d6d49420-f39b-4df7-a1dc-d59a935871db"
"""The id of the ``botframework.com`` tenant (the ``tid`` of its tokens)."""
SERVICE_URL_REGION = "amer"
"""The region segment of the service URL :meth:`BotConnector.service_url` hands out."""
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
ACTIVITY_TYPES = (
    "message",
    "contactRelationUpdate",
    "conversationUpdate",
    "typing",
    "endOfConversation",
    "event",
    "invoke",
    "deleteUserData",
    "messageUpdate",
    "messageDelete",
    "installationUpdate",
    "messageReaction",
    "suggestion",
    "trace",
    "handoff",
)
"""The spec's ``ActivityTypes``."""

# /v3/conversations..., under no, one or two prefix segments (region, tenant).
_CONVERSATION_PATH = re.compile(r"^(?:/[^/]+){0,2}/v3/conversations(?:/|$)")
_V3_PATH = re.compile(r"^(?:/[^/]+){0,2}/v3(?:/|$)")
_THREAD = re.compile(r"^messageid=(\d+)$")
_DENIED = "Authorization has been denied for this request."
_NOT_IN_ROSTER = "The bot is not part of the conversation roster."
_CONVERSATION_NOT_FOUND = "Conversation not found."
_BAD_CREATION = "Incorrect conversation creation parameters"


def connector_fault(
    status: int = 429,
    *,
    code: str | None = None,
    message: str | None = None,
    retry_after: int | None = None,
) -> Fault:
    """A :class:`~sandbox.core.Fault` answering in the connector's ``ErrorResponse`` shape.

    429 defaults to ``Throttled``, 503 to ``ServiceUnavailable``, anything
    else to ``ServiceError`` *(choices)*. ``retry_after`` sets ``Retry-After``.
    """
    defaults = {
        429: ("Throttled", "The request was throttled. Retry after the delay."),
        503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    }
    default_code, default_message = defaults.get(
        status, ("ServiceError", "An error occurred while processing the request.")
    )
    body = {"error": {"code": code or default_code, "message": message or default_message}}
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return Fault(status=status, body=body, headers=headers)


@dataclass
class _Team:
    team_id: str
    name: str
    channels: dict[str, str] = field(default_factory=dict)
    bots: set[str] = field(default_factory=set)


@dataclass
class _PersonalChat:
    conversation_id: str
    aad_user_id: str
    user_mri: str
    bot_id: str
    tenant_id: str | None
    installed: bool = True


@dataclass(frozen=True)
class _Sent:
    activity_id: str
    conversation_id: str
    bot_id: str
    activity: dict[str, Any]
    timestamp: float
    team_id: str | None = None
    channel_id: str | None = None
    thread_id: str | None = None
    aad_user_id: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.activity_id,
            "conversationId": self.conversation_id,
            "botId": self.bot_id,
            "teamId": self.team_id,
            "channelId": self.channel_id,
            "threadId": self.thread_id,
            "userId": self.aad_user_id,
            "type": self.activity.get("type"),
            "text": self.activity.get("text"),
            "attachments": copy.deepcopy(self.activity.get("attachments") or []),
            "activity": copy.deepcopy(self.activity),
            "timestamp": self.timestamp,
        }


class _BadActivity(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BotConnector(FakeVendor):
    """The Bot Connector of Teams: teams, channels, personal chats and what bots sent there.

    A part of :class:`~sandbox.microsoft.FakeMicrosoft`, which gives it the
    identity platform's tokens (:meth:`token_info`).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._bots: set[str] = set()
        self._teams: dict[str, _Team] = {}
        self._channels: dict[str, str] = {}
        self._personal: dict[str, _PersonalChat] = {}
        self._sent: list[_Sent] = []
        self._last_message_id = 0

    def token_info(self, token: str) -> IssuedToken | None:
        """What the identity platform knows about ``token`` (None if it never issued it)."""
        raise NotImplementedError

    def service_url(self, base_url: str, region: str = SERVICE_URL_REGION) -> str:
        """The bot service URL of this fake served at ``base_url``: ``<base_url>/amer/``."""
        return f"{base_url.rstrip('/')}/{region}/"

    # -- seeding ------------------------------------------------------------------------

    def register_bot(self, app_id: str) -> None:
        """Make ``app_id`` a registered bot (its tokens pass; others get ``BotNotRegistered``)."""
        with self._lock:
            self._bots.add(app_id.lower())

    def add_team(
        self,
        team_id: str,
        *,
        name: str | None = None,
        channels: Mapping[str, str] | Iterable[str] = (),
        bot_app_ids: Iterable[str] = (),
    ) -> None:
        """Add a team with its channels and the bots installed in it (registered as bots).

        ``channels``: channel ids (``19:...@thread.tacv2``), or a mapping of
        id to display name. Teams' General channel has the team's own id, so
        list ``team_id`` among them to have one. A channel id already in
        another team: ``ValueError``.
        """
        with self._lock:
            if team_id in self._teams:
                raise ValueError(f"team {team_id!r} exists")
            self._teams[team_id] = _Team(team_id, name or team_id)
            named = channels if isinstance(channels, Mapping) else {c: "" for c in channels}
            for channel_id, channel_name in named.items():
                self.add_channel(team_id, channel_id, name=channel_name or None)
            for app_id in bot_app_ids:
                self.install_bot_in_team(team_id, app_id)

    def add_channel(self, team_id: str, channel_id: str, *, name: str | None = None) -> None:
        """Add a channel to a seeded team."""
        with self._lock:
            team = self._team(team_id)
            owner = self._channels.get(channel_id)
            if owner is not None and owner != team_id:
                raise ValueError(f"channel {channel_id!r} is in team {owner!r}")
            team.channels[channel_id] = name or ("General" if channel_id == team_id else "")
            self._channels[channel_id] = team_id

    def install_bot_in_team(self, team_id: str, bot_app_id: str) -> None:
        """Install the bot ``bot_app_id`` in a team (every channel of it); registers the bot."""
        with self._lock:
            self._team(team_id).bots.add(bot_app_id.lower())
            self.register_bot(bot_app_id)

    def remove_bot_from_team(self, team_id: str, bot_app_id: str) -> None:
        """Uninstall the bot from a team: posting there is 403 ``BotNotInConversationRoster``."""
        with self._lock:
            self._team(team_id).bots.discard(bot_app_id.lower())

    def add_personal_conversation(
        self,
        aad_user_id: str,
        bot_app_id: str,
        *,
        tenant_id: str | None = None,
        conversation_id: str | None = None,
    ) -> str:
        """The personal chat of a user (AAD object id) with a bot: installs the bot for them.

        Returns its ``a:...`` conversation id; the same user and bot always
        get the same one (a removed bot is installed again). Registers the
        bot. ``conversation_id``: a fixed id instead of a generated one.
        """
        with self._lock:
            self.register_bot(bot_app_id)
            existing = self._personal_of(aad_user_id, bot_app_id)
            if existing is not None:
                existing.installed = True
                return existing.conversation_id
            digest = hashlib.sha256(f"{aad_user_id.lower()}|{bot_app_id.lower()}".encode()).digest()
            chat_id = conversation_id or f"a:1{b64url(digest + secrets.token_bytes(30))}"
            if chat_id in self._personal:
                raise ValueError(f"conversation {chat_id!r} exists")
            user_mri = "29:1" + b64url(hashlib.sha256(aad_user_id.lower().encode()).digest())
            self._personal[chat_id] = _PersonalChat(
                chat_id, aad_user_id, user_mri, bot_app_id, tenant_id
            )
            return chat_id

    def uninstall_bot_for_user(self, aad_user_id: str, bot_app_id: str) -> None:
        """The user removed the bot: their personal chat is 403 ``BotNotInConversationRoster``."""
        with self._lock:
            chat = self._personal_of(aad_user_id, bot_app_id)
            if chat is None:
                raise KeyError(f"no conversation of {aad_user_id!r} with {bot_app_id!r}")
            chat.installed = False

    def _team(self, team_id: str) -> _Team:
        team = self._teams.get(team_id)
        if team is None:
            raise KeyError(f"no team {team_id!r}")
        return team

    def _personal_of(self, aad_user_id: str, bot_app_id: str) -> _PersonalChat | None:
        for chat in self._personal.values():
            if (
                chat.aad_user_id.lower() == aad_user_id.lower()
                and chat.bot_id.lower() == bot_app_id.lower()
            ):
                return chat
        return None

    # -- inspection ---------------------------------------------------------------------

    def sent_activities(
        self,
        *,
        conversation_id: str | None = None,
        channel_id: str | None = None,
        user_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """What bots sent, oldest first, optionally only to one conversation, channel or user.

        Each: ``{"id", "conversationId", "botId", "teamId", "channelId",
        "threadId", "userId", "type", "text", "attachments", "activity",
        "timestamp"}``; ``activity`` is the activity as sent, ``threadId`` the
        id of the thread's first message (channels), ``userId`` the AAD
        object id (personal chats), ``timestamp`` epoch seconds.
        """
        with self._lock:
            return [
                s.view()
                for s in self._sent
                if (conversation_id is None or s.conversation_id == conversation_id)
                and (channel_id is None or s.channel_id == channel_id)
                and (
                    user_id is None
                    or (s.aad_user_id is not None and s.aad_user_id.lower() == user_id.lower())
                )
            ]

    def channel_messages(self, channel_id: str) -> list[dict[str, Any]]:
        """What bots posted in a channel (threads' first messages and replies), oldest first."""
        return self.sent_activities(channel_id=channel_id)

    def personal_messages(self, aad_user_id: str) -> list[dict[str, Any]]:
        """What bots sent a user in personal chats, oldest first."""
        return self.sent_activities(user_id=aad_user_id)

    # -- request pipeline -----------------------------------------------------------------

    def dispatch(self, req: SandboxRequest) -> httpx.Response:
        """Connector calls are authenticated before routing; other paths go on as they are."""
        if req.path.startswith("/v1.0/") or not _CONVERSATION_PATH.match(req.path):
            return super().dispatch(req)
        denied = self._authenticate_bot(req)
        if denied is not None:
            return denied
        return super().dispatch(req)

    def not_found(self, req: SandboxRequest) -> httpx.Response:
        """Unknown path under ``/v3``: the connector's 404."""
        if _V3_PATH.match(req.path) and not req.path.startswith("/v1.0/"):
            return _error(404, "NotFound", "The requested resource was not found.")
        return super().not_found(req)

    def method_not_allowed(self, req: SandboxRequest, allowed: list[str]) -> httpx.Response:
        """Known connector path, other method: 405 in the connector's shape."""
        if _V3_PATH.match(req.path) and not req.path.startswith("/v1.0/"):
            return _error(
                405,
                "MethodNotAllowed",
                f"The requested resource does not support http method '{req.method}'.",
                headers={"Allow": ", ".join(allowed)},
            )
        return super().method_not_allowed(req, allowed)

    def _authenticate_bot(self, req: SandboxRequest) -> httpx.Response | None:
        scheme, _, value = req.headers.get("authorization", "").strip().partition(" ")
        token = value.strip()
        if scheme.lower() != "bearer" or not token:
            return _error(401, "Unauthorized", _DENIED)
        issued = self.token_info(token)
        if (
            issued is None
            or issued.revoked
            or self.clock() >= issued.expires_at
            or issued.resource != BOT_FRAMEWORK_RESOURCE
        ):
            return _error(401, "Unauthorized", _DENIED)
        if issued.client_id.lower() not in self._bots:
            return _error(401, "BotNotRegistered", "No registration found for this bot.")
        req.context["bot_token"] = issued
        return None

    # -- routes ---------------------------------------------------------------------------

    @route("POST", "/v3/conversations")
    @route("POST", "/{region}/v3/conversations")
    @route("POST", "/{region}/{tenant}/v3/conversations")
    def create_conversation(self, req: SandboxRequest) -> httpx.Response:
        """``POST .../v3/conversations``: a channel thread or a user's personal chat."""
        body = _json_object(req)
        if isinstance(body, httpx.Response):
            return body
        bot_id = req.context["bot_token"].client_id
        bot = body.get("bot")
        if bot is not None and (
            not isinstance(bot, dict) or str(bot.get("id", "")).lower() not in _bot_ids(bot_id)
        ):
            return _error(
                400, "BadArgument", "The bot in the request is not the bot the token was issued to."
            )
        is_group = body.get("isGroup", False)
        if not isinstance(is_group, bool):
            return _error(400, "BadArgument", "isGroup must be a boolean.")
        channel_data = body.get("channelData")
        channel = channel_data.get("channel") if isinstance(channel_data, dict) else None
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        activity = body.get("activity")
        if is_group:
            if not isinstance(channel_id, str) or not channel_id or activity is None:
                return _error(400, "BadSyntax", _BAD_CREATION)
            return self._start_thread(bot_id, channel_id, activity)
        return self._open_personal_chat(bot_id, body, channel_id, activity)

    def _start_thread(self, bot_id: str, channel_id: str, activity: Any) -> httpx.Response:
        try:
            _check_activity(activity)
        except _BadActivity as exc:
            return _error(400, "BadArgument", exc.message)
        team_id = self._channels.get(channel_id)
        if team_id is None:
            return _error(404, "ConversationNotFound", _CONVERSATION_NOT_FOUND)
        if bot_id.lower() not in self._teams[team_id].bots:
            return _error(403, "BotNotInConversationRoster", _NOT_IN_ROSTER)
        message_id = self._next_message_id()
        conversation_id = f"{channel_id};messageid={message_id}"
        self._record(
            _Sent(
                message_id,
                conversation_id,
                bot_id,
                copy.deepcopy(activity),
                self.epoch(),
                team_id=team_id,
                channel_id=channel_id,
                thread_id=message_id,
            )
        )
        return json_response(201, {"id": conversation_id, "activityId": message_id})

    def _open_personal_chat(
        self, bot_id: str, body: dict[str, Any], channel_id: Any, activity: Any
    ) -> httpx.Response:
        members = body.get("members")
        if (
            channel_id is not None
            or not isinstance(members, list)
            or len(members) != 1
            or not isinstance(members[0], dict)
        ):
            return _error(400, "BadSyntax", _BAD_CREATION)
        tenant_id = body.get("tenantId")
        if not isinstance(tenant_id, str) or not tenant_id:
            return _error(400, "BadArgument", "A tenantId is required to create a conversation.")
        if activity is not None:
            try:
                _check_activity(activity)
            except _BadActivity as exc:
                return _error(400, "BadArgument", exc.message)
        chat = self._chat_with(members[0], bot_id)
        if chat is None:
            return _error(403, "BotNotInConversationRoster", _NOT_IN_ROSTER)
        if activity is not None:
            self._send_personal(chat, bot_id, activity)
        return json_response(201, {"id": chat.conversation_id})

    def _chat_with(self, member: dict[str, Any], bot_id: str) -> _PersonalChat | None:
        names = {str(member.get(k, "")).lower() for k in ("id", "aadObjectId")} - {""}
        for chat in self._personal.values():
            if (
                chat.installed
                and chat.bot_id.lower() == bot_id.lower()
                and names & {chat.aad_user_id.lower(), chat.user_mri.lower()}
            ):
                return chat
        return None

    @route("POST", "/v3/conversations/{conversation_id}/activities")
    @route("POST", "/{region}/v3/conversations/{conversation_id}/activities")
    @route("POST", "/{region}/{tenant}/v3/conversations/{conversation_id}/activities")
    def send_to_conversation(self, req: SandboxRequest) -> httpx.Response:
        """``POST .../v3/conversations/{id}/activities``: 201 ``{"id"}``, the activity recorded."""
        body = _json_object(req)
        if isinstance(body, httpx.Response):
            return body
        try:
            _check_activity(body)
        except _BadActivity as exc:
            return _error(400, "BadArgument", exc.message)
        bot_id: str = req.context["bot_token"].client_id
        conversation_id = req.path_params["conversation_id"]
        chat = self._personal.get(conversation_id)
        if chat is not None:
            if not chat.installed or chat.bot_id.lower() != bot_id.lower():
                return _error(403, "BotNotInConversationRoster", _NOT_IN_ROSTER)
            return json_response(201, {"id": self._send_personal(chat, bot_id, body)})
        channel_id, _, thread = conversation_id.partition(";")
        match = _THREAD.match(thread) if thread else None
        team_id = self._channels.get(channel_id)
        if team_id is None or (thread and match is None):
            return _error(404, "ConversationNotFound", _CONVERSATION_NOT_FOUND)
        if bot_id.lower() not in self._teams[team_id].bots:
            return _error(403, "BotNotInConversationRoster", _NOT_IN_ROSTER)
        message_id = self._next_message_id()
        self._record(
            _Sent(
                message_id,
                conversation_id,
                bot_id,
                copy.deepcopy(body),
                self.epoch(),
                team_id=team_id,
                channel_id=channel_id,
                thread_id=match[1] if match is not None else message_id,
            )
        )
        return json_response(201, {"id": message_id})

    # -- helpers ----------------------------------------------------------------------------

    def _send_personal(self, chat: _PersonalChat, bot_id: str, activity: dict[str, Any]) -> str:
        activity_id = f"1:{b64url(secrets.token_bytes(24))}"
        self._record(
            _Sent(
                activity_id,
                chat.conversation_id,
                bot_id,
                copy.deepcopy(activity),
                self.epoch(),
                aad_user_id=chat.aad_user_id,
            )
        )
        return activity_id

    def _record(self, sent: _Sent) -> None:
        self._sent.append(sent)

    def _next_message_id(self) -> str:
        # Teams' channel message ids are the post's epoch milliseconds.
        self._last_message_id = max(int(self.epoch() * 1000), self._last_message_id + 1)
        return str(self._last_message_id)


def _bot_ids(app_id: str) -> set[str]:
    return {app_id.lower(), f"28:{app_id.lower()}"}


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    return json_response(status, {"error": {"code": code, "message": message}}, headers=headers)


def _json_object(req: SandboxRequest) -> dict[str, Any] | httpx.Response:
    if not req.is_json or not isinstance(req.body, dict):
        return _error(400, "BadSyntax", "The request body must be a JSON object.")
    return req.body


def _check_activity(activity: Any) -> None:
    """Raise :class:`_BadActivity` for the first way ``activity`` is not one Teams would take."""
    if not isinstance(activity, dict):
        raise _BadActivity("The activity must be a JSON object.")
    kind = activity.get("type")
    if not isinstance(kind, str) or not kind:
        raise _BadActivity("The activity has no type.")
    if kind not in ACTIVITY_TYPES:
        raise _BadActivity(f"Unknown activity type '{kind}'.")
    text = activity.get("text")
    if text is not None and not isinstance(text, str):
        raise _BadActivity("The activity's text must be a string.")
    attachments = activity.get("attachments")
    if attachments is not None and not isinstance(attachments, list):
        raise _BadActivity("The activity's attachments must be a list.")
    for attachment in attachments or []:
        if not isinstance(attachment, dict):
            raise _BadActivity("Each attachment must be a JSON object.")
        content_type = attachment.get("contentType")
        if not isinstance(content_type, str) or not content_type:
            raise _BadActivity("Each attachment needs a contentType.")
        content = attachment.get("content")
        if content_type.lower() == ADAPTIVE_CARD and (
            not isinstance(content, dict) or content.get("type") != "AdaptiveCard"
        ):
            raise _BadActivity("An Adaptive Card attachment needs content of type AdaptiveCard.")
    if kind == "message" and not text and not attachments:
        raise _BadActivity("A message activity needs text or attachments.")
