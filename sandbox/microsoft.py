"""FakeMicrosoft: the Microsoft identity platform token endpoint and Microsoft Graph calendars.

One app serves both hosts' paths, so one server (or one transport) stands in
for ``login.microsoftonline.com`` *and* ``graph.microsoft.com`` and Graph can
check the tokens the token endpoint issued. Point a client's login base URL
and its Graph base URL at the same address::

    with fake.serve() as server:
        login_base = server.base_url            # + /{tenant}/oauth2/v2.0/token
        graph_base = server.base_url + "/v1.0"  # + /users/{id | upn}/events

Sources: the identity platform's "OAuth 2.0 client credentials flow" article
(request, success and error bodies), the AADSTS error codes, Graph's "error
responses" article, the ``event`` resource (``transactionId``) and the
create-event page. Where they are silent the behaviour is marked
*(choice)*; messages taken from answers Microsoft's services gave (quoted in
public issue threads and client code, not in the docs) are marked
*(observed)*.

Token endpoint: ``POST /{tenant}/oauth2/v2.0/token`` (form-encoded)
--------------------------------------------------------------------
Only the client-credentials grant: ``grant_type=client_credentials``,
``client_id``, ``client_secret`` (or HTTP Basic ``client_id:client_secret``,
which the docs also allow, taken as is, not form-decoded *(observed)*; both
at once -> 400 ``invalid_request`` AADSTS9002313 *(choice; RFC 6749 forbids
it)*) and ``scope``: one or more ``<resource>/.default`` values of ONE
resource. Resources: ``https://graph.microsoft.com`` (also its app id
``00000003-0000-0000-c000-000000000000``) and ``https://api.botframework.com``.
``{tenant}`` is a tenant id or one of its domains (:meth:`FakeMicrosoft.add_tenant`),
case-insensitive.

Success: 200 ``{"token_type": "Bearer", "expires_in": <int>, "ext_expires_in":
<int>, "access_token": "<JWT-shaped>"}`` with ``Cache-Control: no-store``.
The token's payload (base64url JSON, *unsigned*) carries ``aud`` (the
resource), ``iss``, ``tid``, ``appid``, ``roles`` (Graph application
permissions), ``iat``, ``nbf``, ``exp`` (epoch seconds on the fake's clock).
Lifetime: ``token_lifetime`` seconds (default 600, the shortest lifetime
Entra lets a tenant configure).

Errors: ``{"error", "error_description": "AADSTS<n>: <text>\\r\\nTrace ID:
...\\r\\nCorrelation ID: ...\\r\\nTimestamp: ...", "error_codes": [<n>],
"timestamp": "YYYY-MM-DD HH:MM:SSZ", "trace_id", "correlation_id",
"error_uri"}``. ``correlation_id`` echoes the ``client-request-id`` header
when sent. Checked in this order:

- unknown tenant: 400 ``invalid_request`` AADSTS90002 "Tenant '<t>' not found...";
- GET (or any method but POST): 400 ``invalid_request`` AADSTS900561;
- no ``grant_type`` (also: a body that is not form-encoded): 400
  ``invalid_request`` AADSTS900144 "The request body must contain the
  following parameter: 'grant_type'."; any other grant: 400
  ``unsupported_grant_type`` AADSTS70003 *(the fake supports only this grant)*;
- no ``client_id``: 400 ``invalid_request`` AADSTS900144;
- app not registered in that tenant: 400 ``unauthorized_client`` AADSTS700016;
- no secret: 401 ``invalid_client`` AADSTS7000218; wrong secret: 401
  ``invalid_client`` AADSTS7000215 "Invalid client secret provided. Ensure
  the secret being sent in the request is the client secret value, not the
  client secret ID, for a secret added to app '<client_id>'."; expired secret
  (:meth:`FakeMicrosoft.expire_client_secret`): 401 ``invalid_client`` AADSTS7000222;
- no ``scope``: 400 ``invalid_request`` AADSTS900144; a scope without
  ``/.default``: 400 ``invalid_scope`` AADSTS1002012; unknown resource or
  scopes of several resources: 400 ``invalid_scope`` AADSTS70011 (the docs'
  example).

Graph (``/v1.0/...``; every call needs ``Authorization: Bearer <token>``)
----------------------------------------------------------------------
Errors are Graph's ODataError: ``{"error": {"code", "message", "innerError":
{"date", "request-id", "client-request-id"}}}``; every Graph answer carries
``request-id`` and ``client-request-id`` headers (the latter echoes the
request's header when sent), injected faults aside.

Authentication, in this order (401s carry ``WWW-Authenticate: Bearer ...``):

- no/empty bearer token: 401 ``InvalidAuthenticationToken`` "Access token is empty.";
- not JWT-shaped: 401 ``InvalidAuthenticationToken`` "IDX14100: JWT is not
  well formed, there are no dots (.)..." *(observed)*; JWT-shaped but not
  issued by this fake, or revoked (:meth:`FakeMicrosoft.revoke_token`): 401
  ``InvalidAuthenticationToken`` "Access token validation failure." *(choice)*;
- expired: 401 ``InvalidAuthenticationToken`` "Lifetime validation failed,
  the token is expired." *(observed)*;
- another resource's token (e.g. a Bot Framework one): 401
  ``InvalidAuthenticationToken`` "Access token validation failure. Invalid
  audience." *(observed)*;
- the app lacks the permission: 403 ``ErrorAccessDenied`` "Access is denied.
  Check credentials and try again." Reads need ``Calendars.Read``,
  ``Calendars.ReadBasic`` or ``Calendars.ReadWrite``; writes ``Calendars.ReadWrite``.
- ``/v1.0/me/...``: 400 ``BadRequest`` "/me request is only valid with
  delegated authentication flow." (app-only tokens have no user).

``{user}`` is a user id or userPrincipalName (case-insensitive) seeded with
:meth:`FakeMicrosoft.add_user`. Unknown, or in another tenant than the
token's: 404 ``ErrorInvalidUser`` "The requested user '<user>' is invalid."
*(observed; what Graph's Outlook workload answers, not the directory's
``Request_ResourceNotFound``)*. A user without a mailbox: 404
``MailboxNotEnabledForRESTAPI``.

Routes (``{calendar}`` = ``calendar`` for the default calendar, or
``calendars/{id}``):

- ``POST /v1.0/users/{user}/events``, ``POST .../{calendar}/events`` ->
  201 the event (see below). ``POST /users/{u}/events`` uses the default calendar.
- ``GET /v1.0/users/{user}/events`` (all the user's calendars) and ``GET
  .../{calendar}/events`` -> 200 ``{"@odata.context", "value": [...],
  "@odata.nextLink"?}``: creation order, ``$top`` (default 10) and ``$skip``;
  ``@odata.nextLink`` is the absolute URL of the next page, absent on the
  last. ``$select=a,b`` projects (``id`` and ``@odata.etag`` always kept).
  ``$filter``, ``$orderby``, ``$expand``, ``$search``, ``$count`` -> 400
  ``BadRequest`` *(not modelled; refused so nobody relies on them by accident)*.
- ``GET``/``PATCH``/``DELETE /v1.0/users/{user}/events/{id}`` (and under
  ``{calendar}``): 200 the event / 200 the updated event / 204. ``PATCH`` is a
  partial update. ``If-Match`` (an ``@odata.etag`` value) on PATCH/DELETE that
  no longer matches: 412 ``ErrorIrresolvableConflict`` *(choice of status)*.
- ``GET /v1.0/users/{user}/calendars`` -> ``{"value": [calendar]}``;
  ``GET /v1.0/users/{user}/calendar`` -> the default calendar.

An event: ``@odata.context``, ``@odata.etag`` (``W/"<changeKey>"``), ``id``,
``createdDateTime``, ``lastModifiedDateTime``, ``changeKey``, ``categories``,
``transactionId`` (only when the app set it, as documented),
``originalStartTimeZone``, ``originalEndTimeZone``, ``iCalUId``, ``uid``,
``reminderMinutesBeforeStart``, ``isReminderOn``, ``hasAttachments``,
``subject``, ``bodyPreview``, ``importance``, ``sensitivity``, ``isAllDay``,
``isCancelled``, ``isOrganizer``, ``responseRequested``, ``seriesMasterId``,
``showAs``, ``type``, ``webLink``, ``onlineMeetingUrl``, ``isOnlineMeeting``,
``onlineMeetingProvider``, ``allowNewTimeProposals``, ``isDraft``,
``hideAttendees``, ``responseStatus``, ``body {contentType, content}``,
``start``/``end {dateTime, timeZone}``, ``location``, ``locations``,
``recurrence``, ``attendees`` (each with ``status {response: "none", time}``),
``organizer`` (the calendar's owner), ``onlineMeeting``. ``start``/``end``
come back in UTC (``"2025-01-06T09:00:00.0000000"``, ``"UTC"``) unless the
request says ``Prefer: outlook.timezone="<zone>"``, as Graph documents. The
body comes back as it was sent *(choice; Graph may return HTML)*.
Read-only properties sent by a client are ignored *(choice)*.

``transactionId``: a second POST with a ``transactionId`` the same user
already has an event for creates nothing and answers 201 with the existing
event, unchanged, whatever the second body says (the property exists "to
avoid redundant POST operations in case of client retries"). Scope: per
user (mailbox), across calendars *(choice)*; deleting the event frees the
id *(choice)*. Changing it in a PATCH: 400 ``ErrorInvalidRequest``
*(choice; the docs only say it cannot be changed)*.

Validation (POST and PATCH), with Graph's codes:

- body not a JSON object / not JSON: 400 ``BadRequest`` ("Empty Payload.
  JSON content expected." / "Unable to read JSON request payload...");
- a property ``microsoft.graph.event`` does not have: 400 ``RequestBodyRead``
  "The property '<p>' does not exist on type 'microsoft.graph.event'...";
  wrong JSON type (``subject`` a number, ``body`` a string, a boolean that
  is null...) or an unknown enum value (``showAs``, ``importance``,
  ``sensitivity``, ``body.contentType``, attendee ``type``,
  ``onlineMeetingProvider``; case-insensitive): 400 ``RequestBodyRead``;
- ``start``/``end`` ``timeZone`` missing, empty or unknown (also in
  ``Prefer: outlook.timezone``): 400 ``TimeZoneNotSupportedException`` "A
  valid TimeZone value must be specified. The following TimeZone value is
  not supported: '<tz>'." Zones: IANA names (from the system tz database),
  ``UTC`` and the common Windows names (``Pacific Standard Time``, ``W.
  Europe Standard Time``, ...; see ``WINDOWS_TIME_ZONES``);
- ``start``/``end`` missing on create, ``dateTime`` missing or not ISO 8601,
  or end before start: 400 ``ErrorPropertyValidationFailure`` "At least one
  property failed validation." *(observed for end before start; requiring
  start and end is stricter than Exchange, which fills in defaults: a
  choice, so a client that forgets them finds out here)*. A ``dateTime``
  with an offset (``...Z``, ``+02:00``) is taken at that offset.
- event or calendar id not of Exchange's shape (``AAMk...``, base64url):
  400 ``ErrorInvalidIdMalformed`` "Id is malformed."; well-formed but
  unknown (or in another calendar than the path's): 404
  ``ErrorItemNotFound`` "The specified object was not found in the store.";
- unknown route under ``/v1.0``: 400 ``BadRequest`` "Resource not found for
  the segment '<last segment>'."; known route, other method: 405
  ``BadRequest`` *(choice)*.

Seeding and inspection (all thread-safe)
----------------------------------------
- identity: ``add_tenant(tenant_id, domains=())``, ``add_app(tenant_id,
  client_id, client_secret, graph_roles=DEFAULT_GRAPH_ROLES)``,
  ``expire_client_secret(tenant_id, client_id)``;
- tokens: ``issue_token(tenant_id, client_id, resource=, lifetime=)`` (skip
  the token dance), ``expire_tokens()``, ``expire_token(token)``,
  ``revoke_token(token)``, ``token_info(token)`` and ``issued_tokens``
  (:class:`IssuedToken` records);
- mailboxes: ``add_user(user_id, upn, display_name=, tenant_id=, mailbox=)``,
  ``add_calendar(user, name)``, ``add_event(user, body, calendar_id=)`` (as a
  POST would), ``seed_demo()``;
- inspection: ``events(user)``, ``calendars(user)``, and the counters
  ``creates`` (events actually created; a ``transactionId`` replay does not
  count), ``updates``, ``deletes``; plus the framework's request log.

Throttling and outages are injected with :func:`graph_fault` (a
:class:`~sandbox.core.Fault` with Graph's body and ``Retry-After``), e.g.
``fake.inject(graph_fault(429, retry_after=3), path="/v1.0/*")``. No error
body ever contains a client secret or an access token.

Not modelled: recurrence expansion (``recurrence`` is stored and returned,
``type`` becomes ``seriesMaster``), all-day midnight rules, invitations,
attachments, free/busy, delta, other grants than client credentials.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import math
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from sandbox.core import FakeVendor, Fault, SandboxRequest, empty_response, json_response, route

__all__ = [
    "BOT_FRAMEWORK_RESOURCE",
    "DEFAULT_GRAPH_ROLES",
    "GRAPH_RESOURCE",
    "WINDOWS_TIME_ZONES",
    "FakeMicrosoft",
    "IssuedToken",
    "graph_fault",
]

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
BOT_FRAMEWORK_RESOURCE = "https://api.botframework.com"
DEFAULT_GRAPH_ROLES = ("Calendars.ReadWrite",)
"""Graph application permissions an app gets unless ``add_app(graph_roles=...)`` says otherwise."""

_RESOURCES = {
    GRAPH_RESOURCE: GRAPH_RESOURCE,
    GRAPH_APP_ID: GRAPH_RESOURCE,
    BOT_FRAMEWORK_RESOURCE: BOT_FRAMEWORK_RESOURCE,
}
_READ_ROLES = frozenset({"Calendars.Read", "Calendars.ReadBasic", "Calendars.ReadWrite"})
_WRITE_ROLES = frozenset({"Calendars.ReadWrite"})
_LOGIN_HOST = "https://login.microsoftonline.com"
_DEFAULT_PAGE = 10
_UNSUPPORTED_OPTIONS = ("$filter", "$orderby", "$expand", "$search", "$count")
_TOKEN_PATH = re.compile(r"^/[^/]+/oauth2/v2\.0/token$")
_ID_SHAPE = re.compile(r"^AAMk[A-Za-z0-9_\-=]+$")
_NEVER = "0001-01-01T00:00:00Z"

WINDOWS_TIME_ZONES: Mapping[str, str] = {
    "Dateline Standard Time": "Etc/GMT+12",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time": "America/Denver",
    "Central Standard Time": "America/Chicago",
    "Canada Central Standard Time": "America/Regina",
    "Eastern Standard Time": "America/New_York",
    "SA Pacific Standard Time": "America/Bogota",
    "Atlantic Standard Time": "America/Halifax",
    "Newfoundland Standard Time": "America/St_Johns",
    "E. South America Standard Time": "America/Sao_Paulo",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "Romance Standard Time": "Europe/Paris",
    "GTB Standard Time": "Europe/Bucharest",
    "FLE Standard Time": "Europe/Kiev",
    "South Africa Standard Time": "Africa/Johannesburg",
    "Israel Standard Time": "Asia/Jerusalem",
    "Russian Standard Time": "Europe/Moscow",
    "Arabian Standard Time": "Asia/Dubai",
    "India Standard Time": "Asia/Kolkata",
    "SE Asia Standard Time": "Asia/Bangkok",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "W. Australia Standard Time": "Australia/Perth",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "E. Australia Standard Time": "Australia/Brisbane",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
}
"""Windows time-zone names the fake understands, and the IANA zone each stands for."""

_WINDOWS_LOWER = {name.lower(): iana for name, iana in WINDOWS_TIME_ZONES.items()}

_ENUMS: Mapping[str, tuple[str, ...]] = {
    "freeBusyStatus": ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown"),
    "importance": ("low", "normal", "high"),
    "sensitivity": ("normal", "personal", "private", "confidential"),
    "onlineMeetingProviderType": (
        "unknown",
        "teamsForBusiness",
        "skypeForBusiness",
        "skypeForConsumer",
    ),
    "bodyType": ("text", "html"),
    "attendeeType": ("required", "optional", "resource"),
}
# Event properties whose values are Graph enums, and the enum type of each.
_PROPERTY_ENUMS = {
    "showAs": "freeBusyStatus",
    "importance": "importance",
    "sensitivity": "sensitivity",
    "onlineMeetingProvider": "onlineMeetingProviderType",
}
_BOOLEANS = (
    "isAllDay",
    "isReminderOn",
    "isOnlineMeeting",
    "allowNewTimeProposals",
    "responseRequested",
    "hideAttendees",
)
# Navigation properties and open-extension payloads a client may send; accepted, not kept.
_IGNORED_WRITABLE = (
    "attachments",
    "extensions",
    "singleValueExtendedProperties",
    "multiValueExtendedProperties",
)
_READ_ONLY = (
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "iCalUId",
    "uid",
    "webLink",
    "bodyPreview",
    "hasAttachments",
    "isOrganizer",
    "isDraft",
    "isCancelled",
    "onlineMeeting",
    "onlineMeetingUrl",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "originalStart",
    "responseStatus",
    "seriesMasterId",
    "type",
    "occurrenceId",
    "calendar",
    "instances",
)
_EVENT_PROPERTIES = frozenset(
    {
        "subject",
        "body",
        "start",
        "end",
        "location",
        "locations",
        "attendees",
        "categories",
        "showAs",
        "importance",
        "sensitivity",
        "onlineMeetingProvider",
        "reminderMinutesBeforeStart",
        "recurrence",
        "transactionId",
        "organizer",
        *_BOOLEANS,
        *_IGNORED_WRITABLE,
        *_READ_ONLY,
    }
)
_RESPONSE_ORDER = (
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "transactionId",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "iCalUId",
    "uid",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "hasAttachments",
    "subject",
    "bodyPreview",
    "importance",
    "sensitivity",
    "isAllDay",
    "isCancelled",
    "isOrganizer",
    "responseRequested",
    "seriesMasterId",
    "showAs",
    "type",
    "webLink",
    "onlineMeetingUrl",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "isDraft",
    "hideAttendees",
    "responseStatus",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "recurrence",
    "attendees",
    "organizer",
    "onlineMeeting",
)
_SELECTABLE = frozenset(_RESPONSE_ORDER)


# -- small helpers --------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _iso7(moment: datetime) -> str:
    """Graph's 7-digit-fraction form, without an offset: ``2025-01-06T09:00:00.0000000``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def _utc_stamp(epoch: float) -> str:
    return _iso7(datetime.fromtimestamp(epoch, UTC)) + "Z"


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo | None:
    """The tzinfo for a Graph time-zone name, or None when it is not one."""
    key = name.strip()
    if not key:
        return None
    if key.lower() in ("utc", "etc/utc", "coordinated universal time"):
        return UTC
    iana = _WINDOWS_LOWER.get(key.lower(), key)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        return None


_DATETIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:\.(?P<frac>\d{1,7}))?(?P<offset>Z|[+-]\d{2}:\d{2})?$"
)


def _parse_local(value: str, zone: tzinfo) -> datetime | None:
    """An aware datetime for ``value`` read in ``zone`` (an explicit offset wins)."""
    match = _DATETIME.match(value.strip())
    if match is None:
        return None
    frac = (match["frac"] or "").ljust(6, "0")[:6]
    offset = match["offset"] or ""
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}")
    except ValueError:
        return None
    if offset == "Z":
        return moment.replace(tzinfo=UTC)
    if offset:
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        return moment.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
    return moment.replace(tzinfo=zone)


def _strip_html(text: str) -> str:
    plain = re.sub(r"<[^>]*>", " ", text)
    return re.sub(r"\s+", " ", plain).strip()


class _BodyError(Exception):
    """A request body Graph would refuse: ``status``, ``code`` and ``message`` of the answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _read_error(message: str) -> _BodyError:
    return _BodyError(400, "RequestBodyRead", message)


def _node(value: Any) -> str:
    if isinstance(value, dict):
        return "StartObject"
    if isinstance(value, list):
        return "StartArray"
    return "PrimitiveValue"


def _want_string(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        raise _read_error(
            f"An unexpected '{_node(value)}' node was found for property named '{name}' when "
            "reading from the JSON reader. A 'PrimitiveValue' node was expected."
        )
    raise _read_error(
        "Cannot convert a primitive value to the expected type 'Edm.String'. "
        "See the inner exception for more details."
    )


def _want_primitive(name: str, value: Any, kind: type, edm: str) -> Any:
    if value is None:
        raise _read_error(
            f"A null value was found for the property named '{name}', which has the expected "
            f"type '{edm}[Nullable=False]'. The expected type '{edm}[Nullable=False]' does not "
            "allow null values."
        )
    if isinstance(value, dict | list):
        raise _read_error(
            f"An unexpected '{_node(value)}' node was found for property named '{name}' when "
            "reading from the JSON reader. A 'PrimitiveValue' node was expected."
        )
    if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
        raise _read_error(
            f"Cannot convert a primitive value to the expected type '{edm}'. "
            "See the inner exception for more details."
        )
    return value


def _want_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _read_error(
            f"An unexpected '{_node(value)}' node was found when reading from the JSON reader. "
            "A 'StartObject' node was expected."
        )
    return value


def _want_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _read_error(
            f"An unexpected '{_node(value)}' node was found when reading from the JSON reader. "
            "A 'StartArray' node was expected."
        )
    return value


def _want_enum(kind: str, name: str, value: Any) -> str:
    text: str = _want_primitive(name, value, str, f"microsoft.graph.{kind}")
    for option in _ENUMS[kind]:
        if option.lower() == text.lower():
            return option
    raise _read_error(f"Requested value '{text}' was not found.")


def _only_keys(value: dict[str, Any], keys: Iterable[str], type_name: str) -> None:
    allowed = set(keys)
    for key in value:
        if key not in allowed and not key.startswith("@odata."):
            raise _read_error(
                f"The property '{key}' does not exist on type 'microsoft.graph.{type_name}'. Make "
                "sure to only use property names that are defined by the type or mark the type "
                "as open type."
            )


def _email_address(value: Any) -> dict[str, Any]:
    address = _want_object(value)
    _only_keys(address, ("address", "name"), "emailAddress")
    return {
        "name": _want_string("name", address.get("name")) or "",
        "address": _want_string("address", address.get("address")) or "",
    }


def _location(value: Any) -> dict[str, Any]:
    loc = _want_object(value)
    _only_keys(
        loc,
        (
            "displayName",
            "locationType",
            "locationEmailAddress",
            "locationUri",
            "uniqueId",
            "uniqueIdType",
            "address",
            "coordinates",
        ),
        "location",
    )
    display = _want_string("displayName", loc.get("displayName")) or ""
    for key in ("locationType", "locationEmailAddress", "locationUri", "uniqueId", "uniqueIdType"):
        _want_string(key, loc.get(key))
    for key in ("address", "coordinates"):
        if loc.get(key) is not None:
            _want_object(loc[key])
    view: dict[str, Any] = {
        "displayName": display,
        "locationType": loc.get("locationType") or "default",
        "uniqueIdType": loc.get("uniqueIdType") or ("private" if display else "unknown"),
    }
    if display:
        view["uniqueId"] = loc.get("uniqueId") or display
    for key in ("locationEmailAddress", "locationUri", "address", "coordinates"):
        if loc.get(key) is not None:
            view[key] = loc[key]
    return view


def _attendee(value: Any) -> dict[str, Any]:
    att = _want_object(value)
    _only_keys(att, ("emailAddress", "type", "status", "proposedNewTime"), "attendee")
    if att.get("emailAddress") is None:
        raise _BodyError(
            400, "ErrorPropertyValidationFailure", "At least one property failed validation."
        )
    kind = att.get("type")
    return {
        "type": "required" if kind is None else _want_enum("attendeeType", "type", kind),
        "status": {"response": "none", "time": _NEVER},
        "emailAddress": _email_address(att["emailAddress"]),
    }


# -- records --------------------------------------------------------------------


@dataclass
class IssuedToken:
    """An access token the fake issued, and what Graph knows about it.

    ``resource`` is the audience (:data:`GRAPH_RESOURCE` or
    :data:`BOT_FRAMEWORK_RESOURCE`); ``expires_at`` is on the fake's clock.
    """

    token: str = field(repr=False)
    tenant_id: str
    client_id: str
    resource: str
    roles: tuple[str, ...]
    issued_at: float
    expires_at: float
    revoked: bool = False


@dataclass
class _App:
    client_id: str
    secret: str
    graph_roles: tuple[str, ...]
    secret_expired: bool = False


@dataclass
class _Tenant:
    tenant_id: str
    domains: set[str]
    apps: dict[str, _App] = field(default_factory=dict)


@dataclass
class _User:
    user_id: str
    upn: str
    display_name: str
    tenant_id: str | None
    mailbox: bool
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_calendar: str = ""


@dataclass
class _Event:
    event_id: str
    user_id: str
    calendar_id: str
    created: float
    modified: float
    change_key: str
    ical_uid: str
    start: datetime
    start_zone: str
    end: datetime
    end_zone: str
    fields: dict[str, Any]


def graph_fault(
    status: int = 429,
    *,
    code: str | None = None,
    message: str | None = None,
    retry_after: int | None = None,
) -> Fault:
    """A :class:`~sandbox.core.Fault` answering like Graph under load or in an outage.

    429 defaults to ``ApplicationThrottled`` "Application is over its
    MailboxConcurrency limit." (what Outlook answers), 503 to
    ``ServiceUnavailable``, anything else to ``generalException``.
    ``retry_after`` sets the ``Retry-After`` header (seconds).
    """
    defaults = {
        429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
        503: ("ServiceUnavailable", "The service is temporarily unavailable."),
        504: ("UnknownError", "The request timed out."),
    }
    default_code, default_message = defaults.get(
        status, ("generalException", "An unspecified error has occurred.")
    )
    body = {
        "error": {
            "code": code or default_code,
            "message": message or default_message,
            "innerError": {"request-id": str(uuid.uuid4())},
        }
    }
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return Fault(status=status, body=body, headers=headers)


class FakeMicrosoft(FakeVendor):
    """The Microsoft identity platform token endpoint and Graph calendars, sharing token state.

    See the module docstring for the API. ``token_lifetime``: seconds an
    access token lives (``expires_in`` and ``ext_expires_in``).
    """

    def __init__(
        self,
        *,
        token_lifetime: float = 600.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        epoch_origin: float | None = None,
    ) -> None:
        super().__init__(clock=clock, sleep=sleep, epoch_origin=epoch_origin)
        if token_lifetime <= 0:
            raise ValueError("token_lifetime must be > 0")
        self.token_lifetime = token_lifetime
        self._tenants: dict[str, _Tenant] = {}
        self._tenant_names: dict[str, str] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self._users: dict[str, _User] = {}
        self._upns: dict[str, str] = {}
        self._events: dict[str, _Event] = {}
        self._transactions: dict[tuple[str, str], str] = {}
        self._seq = 0
        self._creates = 0
        self._updates = 0
        self._deletes = 0

    # -- seeding: identity ----------------------------------------------------

    def add_tenant(self, tenant_id: str, *, domains: Iterable[str] = ()) -> None:
        """Register a directory; ``domains`` (``contoso.onmicrosoft.com``) also name it in URLs."""
        with self._lock:
            key = tenant_id.lower()
            tenant = self._tenants.setdefault(key, _Tenant(tenant_id, set()))
            self._tenant_names[key] = key
            for domain in domains:
                tenant.domains.add(domain.lower())
                self._tenant_names[domain.lower()] = key

    def add_app(
        self,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        *,
        graph_roles: Iterable[str] = DEFAULT_GRAPH_ROLES,
    ) -> None:
        """Register an app (client id + secret) in a tenant, creating the tenant if needed.

        ``graph_roles`` are the Graph application permissions an admin
        consented to; they end up in the token's ``roles`` claim.
        """
        with self._lock:
            self.add_tenant(tenant_id)
            tenant = self._tenants[tenant_id.lower()]
            tenant.apps[client_id.lower()] = _App(client_id, client_secret, tuple(graph_roles))

    def expire_client_secret(self, tenant_id: str, client_id: str) -> None:
        """Make the app's secret expired (AADSTS7000222 from now on)."""
        with self._lock:
            self._app(tenant_id, client_id).secret_expired = True

    def _app(self, tenant_id: str, client_id: str) -> _App:
        tenant = self._tenants.get(tenant_id.lower())
        app = tenant.apps.get(client_id.lower()) if tenant is not None else None
        if app is None:
            raise KeyError(f"no app {client_id!r} in tenant {tenant_id!r}")
        return app

    def issue_token(
        self,
        tenant_id: str,
        client_id: str,
        *,
        resource: str = GRAPH_RESOURCE,
        lifetime: float | None = None,
    ) -> str:
        """An access token without the token dance (the app must be registered)."""
        with self._lock:
            app = self._app(tenant_id, client_id)
            return self._new_token(
                self._tenants[tenant_id.lower()].tenant_id, app, resource, lifetime
            ).token

    def _new_token(
        self, tenant_id: str, app: _App, resource: str, lifetime: float | None = None
    ) -> IssuedToken:
        life = self.token_lifetime if lifetime is None else lifetime
        now, epoch = self.clock(), self.epoch()
        roles = app.graph_roles if resource == GRAPH_RESOURCE else ()
        header = {"typ": "JWT", "alg": "RS256", "kid": "sandbox"}
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{tenant_id}/",
            "iat": int(epoch),
            "nbf": int(epoch),
            "exp": int(epoch + life),
            "appid": app.client_id,
            "idtyp": "app",
            "roles": list(roles),
            "tid": tenant_id,
            "ver": "1.0",
            "jti": secrets.token_hex(8),
        }
        token = ".".join(
            (
                _b64url(json.dumps(header).encode()),
                _b64url(json.dumps(claims).encode()),
                _b64url(secrets.token_bytes(32)),
            )
        )
        issued = IssuedToken(token, tenant_id, app.client_id, resource, roles, now, now + life)
        self._tokens[token] = issued
        return issued

    # -- token state helpers ----------------------------------------------------

    def expire_tokens(self) -> None:
        """Expire every access token issued so far."""
        with self._lock:
            now = self.clock()
            for issued in self._tokens.values():
                issued.expires_at = min(issued.expires_at, now)

    def expire_token(self, token: str) -> None:
        """Expire one access token now."""
        with self._lock:
            issued = self._tokens[token]
            issued.expires_at = min(issued.expires_at, self.clock())

    def revoke_token(self, token: str) -> None:
        """Make one access token unusable (Graph answers as for a token it never saw)."""
        with self._lock:
            self._tokens[token].revoked = True

    def token_info(self, token: str) -> IssuedToken | None:
        """What the fake knows about ``token`` (None if it never issued it)."""
        with self._lock:
            return self._tokens.get(token)

    @property
    def issued_tokens(self) -> list[IssuedToken]:
        """Every access token issued, oldest first."""
        with self._lock:
            return list(self._tokens.values())

    # -- seeding: directory and mailboxes --------------------------------------

    def add_user(
        self,
        user_id: str,
        upn: str,
        *,
        display_name: str | None = None,
        tenant_id: str | None = None,
        mailbox: bool = True,
    ) -> dict[str, Any]:
        """Add a user (with a default calendar named "Calendar").

        ``tenant_id``: the directory the user is in; None means visible to
        tokens of every tenant (handy when a test has one tenant). ``mailbox``
        False: an unlicensed user (404 ``MailboxNotEnabledForRESTAPI``).
        Returns ``{"id", "userPrincipalName", "displayName", "calendarId"}``.
        """
        with self._lock:
            if user_id.lower() in self._users or upn.lower() in self._upns:
                raise ValueError(f"user {user_id!r} / {upn!r} exists")
            user = _User(
                user_id,
                upn,
                display_name or upn.split("@")[0],
                None
                if tenant_id is None
                else self._tenant_names.get(tenant_id.lower(), tenant_id.lower()),
                mailbox,
            )
            self._users[user_id.lower()] = user
            self._upns[upn.lower()] = user_id.lower()
            user.default_calendar = self._add_calendar(user, "Calendar", default=True)["id"]
            return {
                "id": user.user_id,
                "userPrincipalName": user.upn,
                "displayName": user.display_name,
                "calendarId": user.default_calendar,
            }

    def add_calendar(self, user: str, name: str) -> dict[str, Any]:
        """Add a secondary calendar to ``user`` (id or UPN); returns it as Graph shows it."""
        with self._lock:
            found = self._find_user(user)
            if found is None:
                raise KeyError(f"no user {user!r}")
            return dict(self._add_calendar(found, name, default=False))

    def _add_calendar(self, user: _User, name: str, *, default: bool) -> dict[str, Any]:
        self._seq += 1
        calendar_id = (
            "AAMkAGCal"
            + base64.urlsafe_b64encode(f"{user.user_id}|cal|{self._seq}".encode()).decode()
        )
        calendar = {
            "id": calendar_id,
            "name": name,
            "color": "auto",
            "hexColor": "",
            "isDefaultCalendar": default,
            "changeKey": _b64url(secrets.token_bytes(12)),
            "canShare": True,
            "canViewPrivateItems": True,
            "canEdit": True,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": default,
            "isRemovable": not default,
            "owner": {"name": user.display_name, "address": user.upn},
        }
        user.calendars[calendar_id] = calendar
        return calendar

    def add_event(
        self, user: str, event: Mapping[str, Any], *, calendar_id: str | None = None
    ) -> dict[str, Any]:
        """Create an event as ``POST`` would: same validation, ``ValueError`` where Graph says 400.

        Counts in :attr:`creates`. Returns the event as ``GET`` shows it (UTC).
        """
        with self._lock:
            found = self._find_user(user)
            if found is None:
                raise KeyError(f"no user {user!r}")
            try:
                record = self._create(found, calendar_id or found.default_calendar, dict(event))
            except _BodyError as exc:
                raise ValueError(f"{exc.code}: {exc.message}") from exc
            return self._event_view(record, UTC, "UTC")

    def seed_demo(self) -> dict[str, Any]:
        """Load a small demo tenant and return how to reach it.

        Returns ``{"tenant_id", "client_id", "client_secret", "users": [{"id",
        "userPrincipalName", ...}]}``.
        """
        with self._lock:
            tenant_id = "7f3b1c2e-0d4a-4e8b-9c1f-5a6b7c8d9e0f"
            client_id, secret = "5d1e9f0a-3b2c-4d5e-8f6a-7b8c9d0e1f2a", "patchbay-demo-secret"
            self.add_tenant(tenant_id, domains=("contoso.onmicrosoft.com",))
            self.add_app(tenant_id, client_id, secret)
            users = [
                self.add_user(
                    "2b7c9d1e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
                    "adele.vance@contoso.onmicrosoft.com",
                    display_name="Adele Vance",
                    tenant_id=tenant_id,
                ),
                self.add_user(
                    "8e9f0a1b-2c3d-4e5f-a6b7-c8d9e0f1a2b3",
                    "alex.wilber@contoso.onmicrosoft.com",
                    display_name="Alex Wilber",
                    tenant_id=tenant_id,
                ),
            ]
            return {
                "tenant_id": tenant_id,
                "client_id": client_id,
                "client_secret": secret,
                "users": users,
            }

    # -- inspection -------------------------------------------------------------

    def events(self, user: str) -> list[dict[str, Any]]:
        """``user``'s events (id or UPN), creation order, as ``GET`` shows them (UTC)."""
        with self._lock:
            found = self._find_user(user)
            if found is None:
                raise KeyError(f"no user {user!r}")
            return [
                self._event_view(e, UTC, "UTC")
                for e in self._events.values()
                if e.user_id == found.user_id
            ]

    def calendars(self, user: str) -> list[dict[str, Any]]:
        """``user``'s calendars, default first."""
        with self._lock:
            found = self._find_user(user)
            if found is None:
                raise KeyError(f"no user {user!r}")
            return [dict(c) for c in found.calendars.values()]

    @property
    def creates(self) -> int:
        """Events actually created (a ``transactionId`` replay does not count)."""
        with self._lock:
            return self._creates

    @property
    def updates(self) -> int:
        """Successful PATCHes of events."""
        with self._lock:
            return self._updates

    @property
    def deletes(self) -> int:
        """Events deleted."""
        with self._lock:
            return self._deletes

    # -- request pipeline -------------------------------------------------------

    def dispatch(self, req: SandboxRequest) -> httpx.Response:
        """Token endpoint as is; Graph calls get ids, authentication, then routing."""
        if not (req.path == "/v1.0" or req.path.startswith("/v1.0/")):
            return super().dispatch(req)
        request_id = str(uuid.uuid4())
        req.context["request_id"] = request_id
        req.context["client_request_id"] = req.headers.get("client-request-id") or request_id
        response = self._authenticate(req)
        if response is None:
            if req.path == "/v1.0/me" or req.path.startswith("/v1.0/me/"):
                response = self._graph_error(
                    req,
                    400,
                    "BadRequest",
                    "/me request is only valid with delegated authentication flow.",
                )
            else:
                response = super().dispatch(req)
        response.headers["request-id"] = request_id
        response.headers["client-request-id"] = req.context["client_request_id"]
        return response

    def not_found(self, req: SandboxRequest) -> httpx.Response:
        """Unknown path: Graph's "Resource not found for the segment" under ``/v1.0``."""
        if req.path.startswith("/v1.0/"):
            segment = req.path.rstrip("/").rsplit("/", 1)[-1]
            return self._graph_error(
                req, 400, "BadRequest", f"Resource not found for the segment '{segment}'."
            )
        return super().not_found(req)

    def method_not_allowed(self, req: SandboxRequest, allowed: list[str]) -> httpx.Response:
        """Known path, other method: AADSTS900561 on the token endpoint, 405 on Graph."""
        if _TOKEN_PATH.match(req.path):
            tenant = self._resolve_tenant(req.path.split("/")[1])
            if tenant is None:
                return self._unknown_tenant(req, req.path.split("/")[1])
            return self._token_error(
                req,
                400,
                "invalid_request",
                900561,
                "The endpoint only accepts POST, OPTIONS requests. "
                f"Received a {req.method} request.",
            )
        if req.path.startswith("/v1.0/"):
            response = self._graph_error(
                req,
                405,
                "BadRequest",
                f"Http method '{req.method}' is not allowed on this resource.",
            )
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return super().method_not_allowed(req, allowed)

    # -- token endpoint -----------------------------------------------------------

    def _resolve_tenant(self, name: str) -> _Tenant | None:
        key = self._tenant_names.get(name.lower())
        return self._tenants.get(key) if key is not None else None

    def _token_error(
        self, req: SandboxRequest, status: int, error: str, code: int, text: str
    ) -> httpx.Response:
        trace_id = str(uuid.uuid4())
        correlation_id = req.headers.get("client-request-id") or str(uuid.uuid4())
        stamp = datetime.fromtimestamp(self.epoch(), UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        description = (
            f"AADSTS{code}: {text}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
        )
        body = {
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"{_LOGIN_HOST}/error?code={code}",
        }
        return json_response(
            status,
            body,
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    def _unknown_tenant(self, req: SandboxRequest, name: str) -> httpx.Response:
        return self._token_error(
            req,
            400,
            "invalid_request",
            90002,
            f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and "
            "are signing into the correct cloud. Check with your subscription administrator, "
            "this may happen if there are no active subscriptions for the tenant.",
        )

    def _missing(self, req: SandboxRequest, parameter: str) -> httpx.Response:
        return self._token_error(
            req,
            400,
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: '{parameter}'.",
        )

    @route("POST", "/{tenant}/oauth2/v2.0/token")
    def token(self, req: SandboxRequest) -> httpx.Response:
        """``POST /{tenant}/oauth2/v2.0/token``: the client-credentials grant."""
        tenant = self._resolve_tenant(req.path_params["tenant"])
        if tenant is None:
            return self._unknown_tenant(req, req.path_params["tenant"])
        # The endpoint reads form parameters only; a JSON body carries none.
        is_form = (
            req.headers.get("content-type", "")
            .lower()
            .startswith("application/x-www-form-urlencoded")
        )
        form: dict[str, str] = req.body if is_form and isinstance(req.body, dict) else {}
        grant_type = form.get("grant_type", "")
        if not grant_type:
            return self._missing(req, "grant_type")
        if grant_type != "client_credentials":
            return self._token_error(
                req,
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        scheme, _, value = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            if secret is not None:
                return self._token_error(
                    req,
                    400,
                    "invalid_request",
                    9002313,
                    "Invalid request. Request is malformed or invalid. Use one client "
                    "authentication method: the client_secret parameter or the Authorization "
                    "header.",
                )
            client_id, secret = _basic_credentials(value, client_id)
        if not client_id:
            return self._missing(req, "client_id")
        app = tenant.apps.get(client_id.lower())
        if app is None:
            return self._token_error(
                req,
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant.tenant_id}'. This can happen if the application has not been "
                "installed by the administrator of the tenant or consented to by any user in the "
                "tenant. You may have sent your authentication request to the wrong tenant.",
            )
        if not secret:
            return self._token_error(
                req,
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        if not secrets.compare_digest(app.secret.encode(), secret.encode()):
            return self._token_error(
                req,
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
            )
        if app.secret_expired:
            return self._token_error(
                req,
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{app.client_id}' are expired. Visit "
                "the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, "
                "or consider using certificate credentials for added security: "
                "https://aka.ms/certCreds.",
            )
        scope = form.get("scope", "").strip()
        if not scope:
            return self._missing(req, "scope")
        resource_or_error = self._scope_resource(req, scope)
        if isinstance(resource_or_error, httpx.Response):
            return resource_or_error
        issued = self._new_token(tenant.tenant_id, app, resource_or_error)
        lifetime = math.floor(issued.expires_at - issued.issued_at)
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": issued.token,
            },
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    def _scope_resource(self, req: SandboxRequest, scope: str) -> str | httpx.Response:
        resources: set[str] = set()
        for item in scope.split():
            resource, sep, rest = item.rpartition("/")
            if not sep or rest != ".default":
                return self._token_error(
                    req,
                    400,
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {item} is not valid. Client credential flows "
                    "must have a scope value with /.default suffixed to the resource identifier "
                    "(application ID URI).",
                )
            resources.add(_RESOURCES.get(resource.rstrip("/"), resource))
        if len(resources) != 1 or not resources <= set(_RESOURCES.values()):
            return self._token_error(
                req,
                400,
                "invalid_scope",
                70011,
                "The provided value for the input parameter 'scope' is not valid. "
                f"The scope {scope} is not valid.",
            )
        return resources.pop()

    # -- Graph: errors and auth ---------------------------------------------------------

    def _graph_error(
        self,
        req: SandboxRequest,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        request_id = req.context.get("request_id") or str(uuid.uuid4())
        date = datetime.fromtimestamp(self.epoch(), UTC).strftime("%Y-%m-%dT%H:%M:%S")
        body = {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": date,
                    "request-id": request_id,
                    "client-request-id": req.context.get("client_request_id", request_id),
                },
            }
        }
        return json_response(status, body, headers=headers)

    def _unauthorized(self, req: SandboxRequest, message: str) -> httpx.Response:
        challenge = (
            'Bearer realm="", authorization_uri="'
            f'{_LOGIN_HOST}/common/oauth2/authorize", client_id="{GRAPH_APP_ID}"'
        )
        return self._graph_error(
            req,
            401,
            "InvalidAuthenticationToken",
            message,
            headers={"WWW-Authenticate": challenge},
        )

    def _authenticate(self, req: SandboxRequest) -> httpx.Response | None:
        scheme, _, value = req.headers.get("authorization", "").strip().partition(" ")
        token = value.strip()
        if scheme.lower() != "bearer" or not token:
            return self._unauthorized(req, "Access token is empty.")
        if "." not in token:
            return self._unauthorized(
                req,
                "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be "
                "in JWS or JWE Compact Serialization Format. (JWS): "
                "'EncodedHeader.EndcodedPayload.EncodedSignature'. (JWE): "
                "'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector."
                "EncodedCiphertext.EncodedAuthenticationTag'.",
            )
        issued = self._tokens.get(token)
        if issued is None or issued.revoked:
            return self._unauthorized(req, "Access token validation failure.")
        if self.clock() >= issued.expires_at:
            return self._unauthorized(req, "Lifetime validation failed, the token is expired.")
        if issued.resource != GRAPH_RESOURCE:
            return self._unauthorized(req, "Access token validation failure. Invalid audience.")
        req.context["token"] = issued
        return None

    def _mailbox(
        self, req: SandboxRequest, *, write: bool
    ) -> tuple[_User | None, httpx.Response | None]:
        """The path's user, once the token may read (or write) calendars and sees a mailbox."""
        issued: IssuedToken = req.context["token"]
        if not set(issued.roles) & (_WRITE_ROLES if write else _READ_ROLES):
            return None, self._graph_error(
                req, 403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        name = req.path_params["user"]
        user = self._find_user(name)
        if user is None or (
            user.tenant_id is not None and user.tenant_id != issued.tenant_id.lower()
        ):
            return None, self._graph_error(
                req, 404, "ErrorInvalidUser", f"The requested user '{name}' is invalid."
            )
        if not user.mailbox:
            return None, self._graph_error(
                req,
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        return user, None

    def _find_user(self, name: str) -> _User | None:
        key = name.lower()
        user = self._users.get(key)
        if user is None and key in self._upns:
            user = self._users[self._upns[key]]
        return user

    def _calendar_of(
        self, req: SandboxRequest, user: _User
    ) -> tuple[str | None, httpx.Response | None]:
        """The calendar the path names (None: ``/events``, every calendar), or an error."""
        calendar_id = req.path_params.get("calendar_id")
        if calendar_id is None:
            # /v1.0/users/{user}/calendar/events...: segment 4 names the default calendar.
            segments = req.path.split("/")
            if len(segments) > 4 and segments[4] == "calendar":
                return user.default_calendar, None
            return None, None
        if not _ID_SHAPE.match(calendar_id):
            return None, self._graph_error(req, 400, "ErrorInvalidIdMalformed", "Id is malformed.")
        if calendar_id not in user.calendars:
            return None, self._not_in_store(req)
        return calendar_id, None

    def _not_in_store(self, req: SandboxRequest) -> httpx.Response:
        return self._graph_error(
            req, 404, "ErrorItemNotFound", "The specified object was not found in the store."
        )

    def _prefer_zone(self, req: SandboxRequest) -> tuple[tzinfo, str] | httpx.Response:
        prefer = req.headers.get("prefer", "")
        match = re.search(r'outlook\.timezone\s*=\s*(?:"([^"]*)"|([^,;\s]+))', prefer, re.I)
        if match is None:
            return UTC, "UTC"
        name = match[1] if match[1] is not None else match[2]
        zone = _zone(name)
        if zone is None:
            return self._graph_error(req, 400, *_bad_zone(name))
        return zone, name

    def _json_object(self, req: SandboxRequest) -> dict[str, Any] | httpx.Response:
        if not req.content.strip():
            return self._graph_error(
                req, 400, "BadRequest", "Empty Payload. JSON content expected."
            )
        if not req.is_json or not isinstance(req.body, dict):
            return self._graph_error(
                req,
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure Content-Type header is set "
                "and payload is of valid JSON format.",
            )
        return req.body

    # -- Graph: calendars ---------------------------------------------------------------

    @route("GET", "/v1.0/users/{user}/calendars")
    def list_calendars(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v1.0/users/{user}/calendars``."""
        user, error = self._mailbox(req, write=False)
        if user is None:
            return error or self.not_found(req)
        context = _context(req, user.user_id, "/calendars")
        return json_response(
            200,
            {"@odata.context": context, "value": [dict(c) for c in user.calendars.values()]},
        )

    @route("GET", "/v1.0/users/{user}/calendar")
    def default_calendar(self, req: SandboxRequest) -> httpx.Response:
        """``GET /v1.0/users/{user}/calendar``."""
        user, error = self._mailbox(req, write=False)
        if user is None:
            return error or self.not_found(req)
        context = _context(req, user.user_id, "/calendar/$entity")
        return json_response(
            200, {"@odata.context": context, **user.calendars[user.default_calendar]}
        )

    # -- Graph: events ----------------------------------------------------------------

    @route("POST", "/v1.0/users/{user}/events")
    @route("POST", "/v1.0/users/{user}/calendar/events")
    @route("POST", "/v1.0/users/{user}/calendars/{calendar_id}/events")
    def create_event(self, req: SandboxRequest) -> httpx.Response:
        """``POST .../events``: 201 the new event, or the one a ``transactionId`` names."""
        user, error = self._mailbox(req, write=True)
        if user is None:
            return error or self.not_found(req)
        calendar_id, error = self._calendar_of(req, user)
        if error is not None:
            return error
        zone = self._prefer_zone(req)
        if isinstance(zone, httpx.Response):
            return zone
        body = self._json_object(req)
        if isinstance(body, httpx.Response):
            return body
        try:
            record = self._create(user, calendar_id or user.default_calendar, body)
        except _BodyError as exc:
            return self._graph_error(req, exc.status, exc.code, exc.message)
        return json_response(201, self._entity(req, record, *zone))

    def _create(self, user: _User, calendar_id: str, body: dict[str, Any]) -> _Event:
        fields = _validate_fields(body)
        transaction_id = fields.get("transactionId")
        if transaction_id is not None:
            existing = self._transactions.get((user.user_id, transaction_id))
            if existing is not None:
                return self._events[existing]
        if "start" not in body or "end" not in body:
            raise _BodyError(
                400, "ErrorPropertyValidationFailure", "At least one property failed validation."
            )
        start, start_zone = _date_time_zone(body["start"])
        end, end_zone = _date_time_zone(body["end"])
        if end < start:
            raise _BodyError(
                400, "ErrorPropertyValidationFailure", "At least one property failed validation."
            )
        self._seq += 1
        event_id = (
            "AAMkAD" + base64.urlsafe_b64encode(f"{user.user_id}|evt|{self._seq}".encode()).decode()
        )
        epoch = self.epoch()
        record = _Event(
            event_id=event_id,
            user_id=user.user_id,
            calendar_id=calendar_id,
            created=epoch,
            modified=epoch,
            change_key=_b64url(secrets.token_bytes(15)),
            ical_uid="040000008200E00074C5B7101A82E008" + secrets.token_hex(28).upper(),
            start=start,
            start_zone=start_zone,
            end=end,
            end_zone=end_zone,
            fields=fields,
        )
        self._events[event_id] = record
        if transaction_id is not None:
            self._transactions[(user.user_id, transaction_id)] = event_id
        self._creates += 1
        return record

    @route("GET", "/v1.0/users/{user}/events")
    @route("GET", "/v1.0/users/{user}/calendar/events")
    @route("GET", "/v1.0/users/{user}/calendars/{calendar_id}/events")
    def list_events(self, req: SandboxRequest) -> httpx.Response:
        """``GET .../events?$top=&$skip=&$select=``: one page, oldest first."""
        user, error = self._mailbox(req, write=False)
        if user is None:
            return error or self.not_found(req)
        calendar_id, error = self._calendar_of(req, user)
        if error is not None:
            return error
        for option in _UNSUPPORTED_OPTIONS:
            if option in req.query:
                return self._graph_error(
                    req, 400, "BadRequest", f"The query option '{option}' is not supported here."
                )
        paging: list[int] = []
        for option, default in (("$top", _DEFAULT_PAGE), ("$skip", 0)):
            raw = req.arg(option)
            if raw is None:
                paging.append(default)
                continue
            if not raw.isdigit():
                return self._graph_error(
                    req,
                    400,
                    "BadRequest",
                    f"Invalid value '{raw}' for {option} query option found. The {option} query "
                    "option requires a non-negative integer value.",
                )
            paging.append(int(raw))
        top, skip = paging
        select = self._select(req)
        if isinstance(select, httpx.Response):
            return select
        zone = self._prefer_zone(req)
        if isinstance(zone, httpx.Response):
            return zone
        mine = [
            e
            for e in self._events.values()
            if e.user_id == user.user_id and (calendar_id is None or e.calendar_id == calendar_id)
        ]
        page = mine[skip : skip + top]
        context = _context(req, user.user_id, "/events")
        body: dict[str, Any] = {
            "@odata.context": context,
            "value": [_project(self._event_view(e, *zone), select) for e in page],
        }
        if skip + top < len(mine) and top > 0:
            next_url = req.raw.url.copy_set_param("$top", str(top)).copy_set_param(
                "$skip", str(skip + top)
            )
            body["@odata.nextLink"] = str(next_url)
        return json_response(200, body)

    def _select(self, req: SandboxRequest) -> list[str] | httpx.Response | None:
        raw = req.arg("$select")
        if raw is None:
            return None
        names = [n.strip() for n in raw.split(",") if n.strip()]
        for name in names:
            if name not in _SELECTABLE:
                return self._graph_error(
                    req,
                    400,
                    "BadRequest",
                    f"Could not find a property named '{name}' on type 'microsoft.graph.event'.",
                )
        return names

    def _owned_event(
        self, req: SandboxRequest, user: _User
    ) -> tuple[_Event | None, httpx.Response | None]:
        calendar_id, error = self._calendar_of(req, user)
        if error is not None:
            return None, error
        event_id = req.path_params["event_id"]
        if not _ID_SHAPE.match(event_id):
            return None, self._graph_error(req, 400, "ErrorInvalidIdMalformed", "Id is malformed.")
        record = self._events.get(event_id)
        if (
            record is None
            or record.user_id != user.user_id
            or (calendar_id is not None and record.calendar_id != calendar_id)
        ):
            return None, self._not_in_store(req)
        return record, None

    def _stale(self, req: SandboxRequest, record: _Event) -> httpx.Response | None:
        wanted = req.headers.get("if-match")
        if wanted is None or wanted.strip() in ("*", f'W/"{record.change_key}"'):
            return None
        return self._graph_error(
            req,
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed "
            "in the request does not match the current change key for the item.",
        )

    @route("GET", "/v1.0/users/{user}/events/{event_id}")
    @route("GET", "/v1.0/users/{user}/calendar/events/{event_id}")
    @route("GET", "/v1.0/users/{user}/calendars/{calendar_id}/events/{event_id}")
    def get_event(self, req: SandboxRequest) -> httpx.Response:
        """``GET .../events/{id}?$select=``."""
        user, error = self._mailbox(req, write=False)
        if user is None:
            return error or self.not_found(req)
        record, error = self._owned_event(req, user)
        if record is None:
            return error or self.not_found(req)
        select = self._select(req)
        if isinstance(select, httpx.Response):
            return select
        zone = self._prefer_zone(req)
        if isinstance(zone, httpx.Response):
            return zone
        view = _project(self._event_view(record, *zone), select)
        return json_response(
            200, {"@odata.context": _context(req, user.user_id, "/events/$entity"), **view}
        )

    @route("PATCH", "/v1.0/users/{user}/events/{event_id}")
    @route("PATCH", "/v1.0/users/{user}/calendar/events/{event_id}")
    @route("PATCH", "/v1.0/users/{user}/calendars/{calendar_id}/events/{event_id}")
    def update_event(self, req: SandboxRequest) -> httpx.Response:
        """``PATCH .../events/{id}``: a partial update; 200 the event."""
        user, error = self._mailbox(req, write=True)
        if user is None:
            return error or self.not_found(req)
        record, error = self._owned_event(req, user)
        if record is None:
            return error or self.not_found(req)
        stale = self._stale(req, record)
        if stale is not None:
            return stale
        zone = self._prefer_zone(req)
        if isinstance(zone, httpx.Response):
            return zone
        body = self._json_object(req)
        if isinstance(body, httpx.Response):
            return body
        try:
            self._update(record, body)
        except _BodyError as exc:
            return self._graph_error(req, exc.status, exc.code, exc.message)
        return json_response(200, self._entity(req, record, *zone))

    def _update(self, record: _Event, body: dict[str, Any]) -> None:
        fields = _validate_fields(body)
        new_tx = fields.get("transactionId")
        if "transactionId" in fields and new_tx != record.fields.get("transactionId"):
            raise _BodyError(
                400,
                "ErrorInvalidRequest",
                "The transactionId of an event cannot be changed after the event is created.",
            )
        start, start_zone = record.start, record.start_zone
        end, end_zone = record.end, record.end_zone
        if "start" in body:
            start, start_zone = _date_time_zone(body["start"])
        if "end" in body:
            end, end_zone = _date_time_zone(body["end"])
        if end < start:
            raise _BodyError(
                400, "ErrorPropertyValidationFailure", "At least one property failed validation."
            )
        record.fields.update(fields)
        record.start, record.start_zone, record.end, record.end_zone = (
            start,
            start_zone,
            end,
            end_zone,
        )
        record.modified = self.epoch()
        record.change_key = _b64url(secrets.token_bytes(15))
        self._updates += 1

    @route("DELETE", "/v1.0/users/{user}/events/{event_id}")
    @route("DELETE", "/v1.0/users/{user}/calendar/events/{event_id}")
    @route("DELETE", "/v1.0/users/{user}/calendars/{calendar_id}/events/{event_id}")
    def delete_event(self, req: SandboxRequest) -> httpx.Response:
        """``DELETE .../events/{id}``: 204."""
        user, error = self._mailbox(req, write=True)
        if user is None:
            return error or self.not_found(req)
        record, error = self._owned_event(req, user)
        if record is None:
            return error or self.not_found(req)
        stale = self._stale(req, record)
        if stale is not None:
            return stale
        del self._events[record.event_id]
        transaction_id = record.fields.get("transactionId")
        if transaction_id is not None:
            self._transactions.pop((record.user_id, transaction_id), None)
        self._deletes += 1
        return empty_response(204)

    # -- Graph: the event representation ------------------------------------------------

    def _entity(
        self, req: SandboxRequest, record: _Event, zone: tzinfo, zone_name: str
    ) -> dict[str, Any]:
        entity = self._event_view(record, zone, zone_name)
        return {"@odata.context": _context(req, record.user_id, "/events/$entity"), **entity}

    def _event_view(self, record: _Event, zone: tzinfo, zone_name: str) -> dict[str, Any]:
        user = self._users[record.user_id.lower()]
        f = copy.deepcopy(record.fields)  # the view must not share dicts with the store
        body = f.get("body") or {"contentType": "text", "content": ""}
        recurrence = f.get("recurrence")
        view: dict[str, Any] = {
            "id": record.event_id,
            "createdDateTime": _utc_stamp(record.created),
            "lastModifiedDateTime": _utc_stamp(record.modified),
            "changeKey": record.change_key,
            "categories": list(f.get("categories") or []),
            "transactionId": f.get("transactionId"),
            "originalStartTimeZone": record.start_zone,
            "originalEndTimeZone": record.end_zone,
            "iCalUId": record.ical_uid,
            "uid": record.ical_uid,
            "reminderMinutesBeforeStart": f.get("reminderMinutesBeforeStart", 15),
            "isReminderOn": f.get("isReminderOn", True),
            "hasAttachments": False,
            "subject": f.get("subject") or "",
            "bodyPreview": _strip_html(body["content"])[:255]
            if body["contentType"] == "html"
            else body["content"][:255],
            "importance": f.get("importance", "normal"),
            "sensitivity": f.get("sensitivity", "normal"),
            "isAllDay": f.get("isAllDay", False),
            "isCancelled": False,
            "isOrganizer": True,
            "responseRequested": f.get("responseRequested", True),
            "seriesMasterId": None,
            "showAs": f.get("showAs", "busy"),
            "type": "seriesMaster" if recurrence else "singleInstance",
            "webLink": (
                "https://outlook.office365.com/owa/?itemid="
                f"{quote(record.event_id, safe='')}&exvsurl=1&path=/calendar/item"
            ),
            "onlineMeetingUrl": None,
            "isOnlineMeeting": f.get("isOnlineMeeting", False),
            "onlineMeetingProvider": f.get("onlineMeetingProvider", "unknown"),
            "allowNewTimeProposals": f.get("allowNewTimeProposals", True),
            "isDraft": False,
            "hideAttendees": f.get("hideAttendees", False),
            "responseStatus": {"response": "organizer", "time": _NEVER},
            "body": body,
            "start": {"dateTime": _iso7(record.start.astimezone(zone)), "timeZone": zone_name},
            "end": {"dateTime": _iso7(record.end.astimezone(zone)), "timeZone": zone_name},
            "location": f.get("location")
            or {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"},
            "locations": f.get("locations") or [],
            "recurrence": recurrence,
            "attendees": f.get("attendees") or [],
            "organizer": f.get("organizer")
            or {"emailAddress": {"name": user.display_name, "address": user.upn}},
            "onlineMeeting": None,
        }
        if view["transactionId"] is None:
            del view["transactionId"]
        etag = {"@odata.etag": f'W/"{record.change_key}"'}
        return {**etag, **{k: view[k] for k in _RESPONSE_ORDER if k in view}}


# -- module-level helpers used by the routes --------------------------------------------


def _origin(req: SandboxRequest) -> str:
    url = req.raw.url
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


def _context(req: SandboxRequest, user_id: str, suffix: str) -> str:
    """The ``@odata.context`` URL of a response about a user's data (named by id, as Graph does)."""
    return f"{_origin(req)}/v1.0/$metadata#users('{quote(user_id)}'){suffix}"


def _project(view: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if select is None:
        return view
    keep = {"@odata.etag", "id", *select}
    return {k: v for k, v in view.items() if k in keep}


def _basic_credentials(value: str, form_client_id: str) -> tuple[str, str | None]:
    # Entra reads the Basic user and password as they are, not form-decoded (observed).
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return form_client_id, None
    raw_id, sep, raw_secret = decoded.partition(":")
    if not sep:
        return form_client_id, None
    return raw_id, raw_secret


def _bad_zone(name: str) -> tuple[str, str]:
    return (
        "TimeZoneNotSupportedException",
        "A valid TimeZone value must be specified. The following TimeZone value is not "
        f"supported: '{name}'.",
    )


def _date_time_zone(value: Any) -> tuple[datetime, str]:
    """An aware start/end and the zone name it was given in, or a _BodyError."""
    dtz = _want_object(value)
    _only_keys(dtz, ("dateTime", "timeZone"), "dateTimeTimeZone")
    zone_name = _want_string("timeZone", dtz.get("timeZone")) or ""
    zone = _zone(zone_name)
    if zone is None:
        raise _BodyError(400, *_bad_zone(zone_name))
    raw = _want_string("dateTime", dtz.get("dateTime"))
    moment = _parse_local(raw, zone) if raw else None
    if moment is None:
        raise _BodyError(
            400, "ErrorPropertyValidationFailure", "At least one property failed validation."
        )
    return moment, zone_name


def _validate_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Check every property of an event body; return the writable ones, normalized.

    ``start``/``end`` are checked (and returned) by :func:`_date_time_zone`, not here.
    """
    _only_keys(body, _EVENT_PROPERTIES, "event")
    fields: dict[str, Any] = {}
    for name, value in body.items():
        if name.startswith("@odata.") or name in _READ_ONLY or name in ("start", "end"):
            continue
        if name in _IGNORED_WRITABLE:
            _want_list(value)
        elif name in ("subject", "transactionId"):
            fields[name] = _want_string(name, value)
        elif name in _BOOLEANS:
            fields[name] = _want_primitive(name, value, bool, "Edm.Boolean")
        elif name == "reminderMinutesBeforeStart":
            fields[name] = _want_primitive(name, value, int, "Edm.Int32")
        elif name in _PROPERTY_ENUMS:
            fields[name] = _want_enum(_PROPERTY_ENUMS[name], name, value)
        elif name == "body":
            fields[name] = _item_body(value)
        elif name == "location":
            fields[name] = None if value is None else _location(value)
        elif name == "locations":
            fields[name] = [_location(v) for v in _want_list(value)]
        elif name == "attendees":
            fields[name] = [_attendee(v) for v in _want_list(value)]
        elif name == "categories":
            fields[name] = [_want_string("categories", v) or "" for v in _want_list(value)]
        elif name == "recurrence":
            fields[name] = None if value is None else _want_object(value)
        elif name == "organizer":
            organizer = _want_object(value)
            _only_keys(organizer, ("emailAddress",), "recipient")
            fields[name] = {"emailAddress": _email_address(organizer.get("emailAddress", {}))}
    return fields


def _item_body(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    body = _want_object(value)
    _only_keys(body, ("contentType", "content"), "itemBody")
    kind = body.get("contentType")
    return {
        "contentType": "text" if kind is None else _want_enum("bodyType", "contentType", kind),
        "content": _want_string("content", body.get("content")) or "",
    }
