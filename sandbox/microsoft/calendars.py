"""Graph calendars: users' mailboxes, their calendars and events (``/v1.0/users/{user}/...``).

Markers *(choice)* and *(observed)* as in :mod:`sandbox.microsoft`; what
every Graph call goes through first (ids, authentication, error shape) is
in :mod:`sandbox.microsoft.graph`, what an event body may hold in
:mod:`sandbox.microsoft.event_body`.

Permissions (the token's ``roles``): reads need ``Calendars.Read``,
``Calendars.ReadBasic`` or ``Calendars.ReadWrite``; writes
``Calendars.ReadWrite``. Without: 403 ``ErrorAccessDenied`` "Access is
denied. Check credentials and try again."

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

Validation beyond the event body's own (:mod:`sandbox.microsoft.event_body`):

- ``start``/``end`` missing on create, or end before start: 400
  ``ErrorPropertyValidationFailure`` "At least one property failed
  validation." *(observed for end before start; requiring start and end is
  stricter than Exchange, which fills in defaults: a choice, so a client
  that forgets them finds out here)*;
- an unknown zone in ``Prefer: outlook.timezone``: 400
  ``TimeZoneNotSupportedException``, as in a body;
- event or calendar id not of Exchange's shape (``AAMk...``, base64url):
  400 ``ErrorInvalidIdMalformed`` "Id is malformed."; well-formed but
  unknown (or in another calendar than the path's): 404
  ``ErrorItemNotFound`` "The specified object was not found in the store."
"""

from __future__ import annotations

import base64
import copy
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import quote

import httpx

from sandbox.core import SandboxRequest, empty_response, json_response, route
from sandbox.microsoft.common import IssuedToken, b64url
from sandbox.microsoft.dates import NEVER, bad_zone, iso7, utc_stamp, zone_named
from sandbox.microsoft.event_body import BodyError, date_time_zone, validate_fields
from sandbox.microsoft.graph import GraphApi

__all__ = ["GraphCalendars"]

_READ_ROLES = frozenset({"Calendars.Read", "Calendars.ReadBasic", "Calendars.ReadWrite"})
_WRITE_ROLES = frozenset({"Calendars.ReadWrite"})
_DEFAULT_PAGE = 10
_UNSUPPORTED_OPTIONS = ("$filter", "$orderby", "$expand", "$search", "$count")
_ID_SHAPE = re.compile(r"^AAMk[A-Za-z0-9_\-=]+$")
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


def _strip_html(text: str) -> str:
    plain = re.sub(r"<[^>]*>", " ", text)
    return re.sub(r"\s+", " ", plain).strip()


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


class GraphCalendars(GraphApi):
    """Graph's calendar resources: users, their calendars and events.

    A part of :class:`~sandbox.microsoft.FakeMicrosoft`; users may belong to
    one of its identity platform's tenants (:meth:`_tenant_key`).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._users: dict[str, _User] = {}
        self._upns: dict[str, str] = {}
        self._events: dict[str, _Event] = {}
        self._transactions: dict[tuple[str, str], str] = {}
        self._seq = 0
        self._creates = 0
        self._updates = 0
        self._deletes = 0

    def _tenant_key(self, name: str) -> str:
        """The key of the tenant ``name`` names, as the identity platform knows it."""
        raise NotImplementedError

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
                None if tenant_id is None else self._tenant_key(tenant_id),
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
            "changeKey": b64url(secrets.token_bytes(12)),
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
            except BodyError as exc:
                raise ValueError(f"{exc.code}: {exc.message}") from exc
            return self._event_view(record, UTC, "UTC")

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

    # -- requests ---------------------------------------------------------------------

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
        zone = zone_named(name)
        if zone is None:
            return self._graph_error(req, 400, *bad_zone(name))
        return zone, name

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
        except BodyError as exc:
            return self._graph_error(req, exc.status, exc.code, exc.message)
        return json_response(201, self._entity(req, record, *zone))

    def _create(self, user: _User, calendar_id: str, body: dict[str, Any]) -> _Event:
        fields = validate_fields(body)
        transaction_id = fields.get("transactionId")
        if transaction_id is not None:
            existing = self._transactions.get((user.user_id, transaction_id))
            if existing is not None:
                return self._events[existing]
        if "start" not in body or "end" not in body:
            raise BodyError(
                400, "ErrorPropertyValidationFailure", "At least one property failed validation."
            )
        start, start_zone = date_time_zone(body["start"])
        end, end_zone = date_time_zone(body["end"])
        if end < start:
            raise BodyError(
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
            change_key=b64url(secrets.token_bytes(15)),
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
        except BodyError as exc:
            return self._graph_error(req, exc.status, exc.code, exc.message)
        return json_response(200, self._entity(req, record, *zone))

    def _update(self, record: _Event, body: dict[str, Any]) -> None:
        fields = validate_fields(body)
        new_tx = fields.get("transactionId")
        if "transactionId" in fields and new_tx != record.fields.get("transactionId"):
            raise BodyError(
                400,
                "ErrorInvalidRequest",
                "The transactionId of an event cannot be changed after the event is created.",
            )
        start, start_zone = record.start, record.start_zone
        end, end_zone = record.end, record.end_zone
        if "start" in body:
            start, start_zone = date_time_zone(body["start"])
        if "end" in body:
            end, end_zone = date_time_zone(body["end"])
        if end < start:
            raise BodyError(
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
        record.change_key = b64url(secrets.token_bytes(15))
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
            "createdDateTime": utc_stamp(record.created),
            "lastModifiedDateTime": utc_stamp(record.modified),
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
            "responseStatus": {"response": "organizer", "time": NEVER},
            "body": body,
            "start": {"dateTime": iso7(record.start.astimezone(zone)), "timeZone": zone_name},
            "end": {"dateTime": iso7(record.end.astimezone(zone)), "timeZone": zone_name},
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
