"""Graph's Teams activity feed: ``POST /v1.0/users/{user}/teamwork/sendActivityNotification``.

Markers *(choice)* and *(observed)* as in :mod:`sandbox.microsoft`; what every
Graph call goes through first (request ids, bearer-token checks, the
ODataError shape) is in :mod:`sandbox.microsoft.graph`. Sources: Graph's
``userTeamwork: sendActivityNotification`` page and its OpenAPI description
(``msgraph-v1.0-sendActivityNotification-SUBSET.json``), the
``teamworkActivityTopic`` resource, and answers Graph gave that clients quote.

Route
-----
``POST /v1.0/users/{user}/teamwork/sendActivityNotification``, and the
namespace-qualified ``.../teamwork/microsoft.graph.sendActivityNotification``
that Graph's OpenAPI description uses (Graph answers both). ``{user}`` is a
user id or userPrincipalName seeded with :meth:`FakeMicrosoft.add_user` (a
mailbox is not needed). Success: 204, no body, and the notification is
recorded (:meth:`GraphTeamwork.notifications`).

The body (checked in this order, each failure 400 ``BadRequest``)
--------------------------------------------------------------------
- not a JSON object: as every Graph call (:mod:`sandbox.microsoft.graph`);
- a parameter the action does not declare: "The parameter '<name>' in the
  request payload is not a valid parameter for the operation
  'sendActivityNotification'." (OData's own message: Graph actions are OData
  actions, whose parameters are closed). The declared ones are the
  documented ``topic``, ``activityType``, ``chainId``, ``previewText``,
  ``teamsAppId``, ``iconId``, ``templateParameters``; ``recipient`` is one of
  the team- and chat-scoped actions, **not** of this user-scoped one.
  Instance annotations (``@odata.type``...) are allowed anywhere *(choice)*;
- ``topic``, ``activityType`` or ``previewText`` missing or null: "Required
  parameter '<name>' is missing." *(choice of message)*;
- a value of the wrong type, or a property its complex type does not have
  (``topic``: ``source``/``value``/``webUrl``; ``previewText``:
  ``content``/``contentType``; ``templateParameters`` items: ``name``/``value``):
  "The property '<p>' does not exist on type 'microsoft.graph.<type>'..." /
  "Invalid value for parameter '<name>'..." *(choice of message)*;
- ``topic.source``: ``text`` or ``entityUrl`` (case-insensitive, as the
  calendars' enums); ``topic.value`` a non-empty string; ``text`` needs a
  non-empty ``webUrl`` (the resource's docs); ``entityUrl`` needs a ``value``
  under ``https://graph.microsoft.com/`` ("must be a Microsoft Graph URL").
  ``webUrl`` is **not** checked to be a Teams deep link (the docs' own
  examples send plain text); tests read it from :meth:`notifications`;
- ``chainId`` an integer in Int64 (or null); ``previewText.content`` a
  string or null, ``previewText.contentType`` ``text``/``html``;
  ``templateParameters`` a list (not null: the spec's collection is not
  nullable) of ``{name: string, value: string | null}``; ``teamsAppId``,
  ``iconId`` strings or null (the spec's nullability throughout).

Then, for the request's user and the token's app
------------------------------------------------
- unknown user, or one in another tenant than the token's: 404
  ``Request_ResourceNotFound`` "Resource '<user>' does not exist or one of its
  queried reference-property objects are not present." *(choice: the
  directory's answer; what Teams' workload says is not documented)*;
- the Teams app whose Entra app id (the manifest's ``webApplicationInfo.id``)
  is the token's ``appid`` is not installed for the user (or not the one
  ``teamsAppId`` names): 403 ``Forbidden`` "Application with AAD App Id
  '<appid>' is not authorized to generate custom text notifications about
  '<path>' to the recipient. Ensure that the expected Teams app is installed
  in the target scope (user, team, or chat)." *(observed)*. An installation
  seeded without a ``teams_app_id`` matches any ``teamsAppId``;
- two Teams apps with that Entra app id installed for the user and no
  ``teamsAppId`` to choose: 409 ``Conflict`` *(observed status, the docs'
  reason for ``teamsAppId``; choice of body)*. Install the same app twice
  under different ``teams_app_id`` values to get it;
- ``activityType`` not declared by the installed app: 400 ``BadRequest``
  "The activity type '<t>' is not declared in the Teams app manifest."
  *(choice of message)*. ``systemDefault`` (the reserved type) is always
  accepted. Checked only when the installation declares its activity types
  (``install_teams_app(..., activity_types=[...])``); ``None`` there means
  any type is accepted.

Not modelled: Graph permissions (the token's ``roles`` are not consulted:
the Teams app's manifest grants the resource-specific ``TeamsActivity.Send.User``
on installation, so the installation check stands for it); ``chainId``
replacing an earlier notification (it is recorded, nothing is replaced);
template parameters against the manifest's ``templateText``; ``iconId``
against the manifest; the team- and chat-scoped variants of the action;
``/me``; delegated tokens.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.core import SandboxRequest, empty_response, route
from sandbox.microsoft.calendars import GraphCalendars
from sandbox.microsoft.common import IssuedToken

__all__ = ["NOTIFICATION_PARAMETERS", "SYSTEM_DEFAULT_ACTIVITY_TYPE", "GraphTeamwork"]

NOTIFICATION_PARAMETERS = (
    "topic",
    "activityType",
    "chainId",
    "previewText",
    "teamsAppId",
    "iconId",
    "templateParameters",
)
"""The parameters of the user-scoped ``sendActivityNotification`` action, as documented."""
SYSTEM_DEFAULT_ACTIVITY_TYPE = "systemDefault"
"""The reserved activity type every app may send without declaring it."""

_REQUIRED = ("topic", "activityType", "previewText")
_OPERATION = "sendActivityNotification"
_GRAPH_URL = "https://graph.microsoft.com/"
_INT64 = (-(2**63), 2**63 - 1)
# Complex types of the parameters: their properties, and where each property's type is checked.
_TOPIC_PROPERTIES = frozenset({"source", "value", "webUrl"})
_ITEM_BODY_PROPERTIES = frozenset({"content", "contentType"})
_KEY_VALUE_PROPERTIES = frozenset({"name", "value"})
_TOPIC_SOURCES = ("entityUrl", "text")
_BODY_TYPES = ("text", "html")


@dataclass(frozen=True)
class _Installation:
    """A Teams app installed in a user's personal scope."""

    app_id: str
    """The Entra app (client) id the app's manifest names (``webApplicationInfo.id``)."""
    teams_app_id: str | None
    """The Teams app id (None: not modelled, matches any ``teamsAppId``)."""
    activity_types: frozenset[str] | None
    """The manifest's activity types (None: any is accepted)."""

    def serves(self, app_id: str, teams_app_id: str | None) -> bool:
        if self.app_id.lower() != app_id.lower():
            return False
        return (
            teams_app_id is None
            or self.teams_app_id is None
            or self.teams_app_id.lower() == teams_app_id.lower()
        )


class _ParameterError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GraphTeamwork(GraphCalendars):
    """Graph's Teams activity notifications to users, with the Teams apps installed for them.

    A part of :class:`~sandbox.microsoft.FakeMicrosoft`. Its users are the
    directory :class:`~sandbox.microsoft.calendars.GraphCalendars` keeps (a
    user there needs no mailbox to get notifications).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._installations: dict[str, list[_Installation]] = {}
        self._notifications: list[dict[str, Any]] = []

    # -- seeding --------------------------------------------------------------------

    def install_teams_app(
        self,
        user: str,
        app_id: str,
        *,
        teams_app_id: str | None = None,
        activity_types: Iterable[str] | None = None,
    ) -> None:
        """Install a Teams app for ``user`` (id or UPN), backed by the Entra app ``app_id``.

        ``app_id`` is the ``appid`` of the Graph tokens that may notify the
        user through it. ``teams_app_id``: the Teams app's own id (what
        ``teamsAppId`` names; None matches any ``teamsAppId``); installing
        the same ``app_id`` under two of them makes a notification without
        ``teamsAppId`` a 409. ``activity_types``: the manifest's
        activity types (None: every type is accepted). Installing the same
        pair again replaces it.
        """
        with self._lock:
            found = self._teams_user(user)
            installed = self._installations.setdefault(found, [])
            installed[:] = [
                i
                for i in installed
                if not (i.app_id.lower() == app_id.lower() and i.teams_app_id == teams_app_id)
            ]
            types = None if activity_types is None else frozenset(activity_types)
            installed.append(_Installation(app_id, teams_app_id, types))

    def uninstall_teams_app(
        self, user: str, app_id: str, *, teams_app_id: str | None = None
    ) -> None:
        """Remove the app ``app_id`` from ``user`` (only the ``teams_app_id`` one if given)."""
        with self._lock:
            found = self._teams_user(user)
            self._installations[found] = [
                i
                for i in self._installations.get(found, [])
                if not (
                    i.app_id.lower() == app_id.lower()
                    and (teams_app_id is None or i.teams_app_id == teams_app_id)
                )
            ]

    def _teams_user(self, user: str) -> str:
        found = self._find_user(user)
        if found is None:
            raise KeyError(f"no user {user!r}")
        return found.user_id.lower()

    # -- inspection -----------------------------------------------------------------

    def teams_apps(self, user: str) -> list[dict[str, Any]]:
        """The Teams apps installed for ``user``: ``{"appId", "teamsAppId", "activityTypes"}``."""
        with self._lock:
            return [
                {
                    "appId": i.app_id,
                    "teamsAppId": i.teams_app_id,
                    "activityTypes": None if i.activity_types is None else sorted(i.activity_types),
                }
                for i in self._installations.get(self._teams_user(user), [])
            ]

    def notifications(self, user: str | None = None) -> list[dict[str, Any]]:
        """Delivered notifications (to ``user``, id or UPN, if given), oldest first.

        Each: ``{"userId", "appId", "teamsAppId", "topic", "activityType",
        "previewText", "templateParameters", "chainId", "iconId",
        "timestamp"}`` (``timestamp``: epoch seconds on the fake's clock;
        ``teamsAppId``: the installation that delivered it) plus ``"body"``,
        the request body as sent.
        """
        with self._lock:
            user_id = None if user is None else self._teams_user(user)
            return [
                copy.deepcopy(n)
                for n in self._notifications
                if user_id is None or n["userId"].lower() == user_id
            ]

    # -- the action -----------------------------------------------------------------

    @route("POST", "/v1.0/users/{user}/teamwork/sendActivityNotification")
    @route("POST", "/v1.0/users/{user}/teamwork/microsoft.graph.sendActivityNotification")
    def send_activity_notification(self, req: SandboxRequest) -> httpx.Response:
        """``POST .../teamwork/sendActivityNotification``: 204, and the notification recorded."""
        body = self._json_object(req)
        if isinstance(body, httpx.Response):
            return body
        try:
            _check_parameters(body)
        except _ParameterError as exc:
            return self._graph_error(req, 400, "BadRequest", exc.message)
        issued: IssuedToken = req.context["token"]
        name = req.path_params["user"]
        user = self._find_user(name)
        if user is None or (
            user.tenant_id is not None and user.tenant_id != issued.tenant_id.lower()
        ):
            return self._graph_error(
                req,
                404,
                "Request_ResourceNotFound",
                f"Resource '{name}' does not exist or one of its queried reference-property "
                "objects are not present.",
            )
        teams_app_id = body.get("teamsAppId")
        candidates = [
            i
            for i in self._installations.get(user.user_id.lower(), [])
            if i.serves(issued.client_id, teams_app_id)
        ]
        if not candidates:
            return self._graph_error(
                req,
                403,
                "Forbidden",
                f"Application with AAD App Id '{issued.client_id}' is not authorized to generate "
                f"custom text notifications about '{req.path}' to the recipient. Ensure that the "
                "expected Teams app is installed in the target scope (user, team, or chat).",
            )
        if len(candidates) > 1:
            return self._graph_error(
                req,
                409,
                "Conflict",
                f"More than one Teams app with the Microsoft Entra app id '{issued.client_id}' "
                "is installed for the recipient. Use teamsAppId to choose one.",
            )
        installation = candidates[0]
        activity_type = body["activityType"]
        declared = installation.activity_types
        if (
            declared is not None
            and activity_type not in declared
            and activity_type != SYSTEM_DEFAULT_ACTIVITY_TYPE
        ):
            return self._graph_error(
                req,
                400,
                "BadRequest",
                f"The activity type '{activity_type}' is not declared in the Teams app manifest.",
            )
        self._notifications.append(
            {
                "userId": user.user_id,
                "appId": issued.client_id,
                "teamsAppId": installation.teams_app_id,
                "topic": copy.deepcopy(body["topic"]),
                "activityType": activity_type,
                "previewText": copy.deepcopy(body["previewText"]),
                "templateParameters": copy.deepcopy(body.get("templateParameters") or []),
                "chainId": body.get("chainId"),
                "iconId": body.get("iconId"),
                "timestamp": self.epoch(),
                "body": copy.deepcopy(body),
            }
        )
        return empty_response(204)


# -- parameter checks -------------------------------------------------------------------


def _check_parameters(body: dict[str, Any]) -> None:
    """Raise :class:`_ParameterError` for the first way ``body`` is not the action's payload."""
    for key in body:
        if not _is_annotation(key) and key not in NOTIFICATION_PARAMETERS:
            raise _ParameterError(
                f"The parameter '{key}' in the request payload is not a valid parameter for the "
                f"operation '{_OPERATION}'."
            )
    for key in _REQUIRED:
        if body.get(key) is None:
            raise _ParameterError(f"Required parameter '{key}' is missing.")
    _check_topic(body["topic"])
    activity_type = body["activityType"]
    if not isinstance(activity_type, str) or not activity_type.strip():
        raise _invalid("activityType", "a non-empty string")
    chain_id = body.get("chainId")
    if chain_id is not None and (
        type(chain_id) is not int or not _INT64[0] <= chain_id <= _INT64[1]
    ):
        raise _invalid("chainId", "an Edm.Int64")
    _check_item_body(body["previewText"])
    for key in ("teamsAppId", "iconId"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise _invalid(key, "a string")
    if "templateParameters" in body:
        parameters = body["templateParameters"]
        if not isinstance(parameters, list):
            raise _invalid("templateParameters", "a collection of microsoft.graph.keyValuePair")
        for item in parameters:
            _check_key_value(item)


def _check_topic(topic: Any) -> None:
    if not isinstance(topic, dict):
        raise _invalid("topic", "a microsoft.graph.teamworkActivityTopic object")
    _check_properties(topic, _TOPIC_PROPERTIES, "teamworkActivityTopic")
    source = topic.get("source")
    sources = {s.lower(): s for s in _TOPIC_SOURCES}
    if not isinstance(source, str) or source.lower() not in sources:
        raise _invalid("topic", "a source of 'entityUrl' or 'text'")
    value, web_url = topic.get("value"), topic.get("webUrl")
    if not isinstance(value, str) or not value.strip():
        raise _invalid("topic", "a non-empty value")
    if web_url is not None and not isinstance(web_url, str):
        raise _invalid("topic", "a webUrl that is a string")
    if sources[source.lower()] == "text":
        if not web_url:
            raise _invalid("topic", "a webUrl when the source is 'text'")
    elif not value.startswith(_GRAPH_URL):
        raise _invalid("topic", "a Microsoft Graph URL as the value when the source is 'entityUrl'")


def _check_item_body(item_body: Any) -> None:
    if not isinstance(item_body, dict):
        raise _invalid("previewText", "a microsoft.graph.itemBody object")
    _check_properties(item_body, _ITEM_BODY_PROPERTIES, "itemBody")
    content = item_body.get("content")
    if content is not None and not isinstance(content, str):
        raise _invalid("previewText", "a content that is a string")
    if "contentType" in item_body and (
        not isinstance(item_body["contentType"], str)
        or item_body["contentType"].lower() not in _BODY_TYPES
    ):
        raise _invalid("previewText", "a contentType of 'text' or 'html'")


def _check_key_value(item: Any) -> None:
    if not isinstance(item, dict):
        raise _invalid("templateParameters", "a collection of microsoft.graph.keyValuePair")
    _check_properties(item, _KEY_VALUE_PROPERTIES, "keyValuePair")
    value = item.get("value")
    if not isinstance(item.get("name"), str) or (value is not None and not isinstance(value, str)):
        raise _invalid("templateParameters", "items with a string name and a string value")


def _check_properties(value: dict[str, Any], known: frozenset[str], type_name: str) -> None:
    for key in value:
        if not _is_annotation(key) and key not in known:
            raise _ParameterError(
                f"The property '{key}' does not exist on type 'microsoft.graph.{type_name}'. "
                "Make sure to only use property names that are defined by the type or mark the "
                "type as open type."
            )


def _is_annotation(key: str) -> bool:
    return key.startswith("@")


def _invalid(parameter: str, expected: str) -> _ParameterError:
    return _ParameterError(f"Invalid value for parameter '{parameter}': expected {expected}.")
